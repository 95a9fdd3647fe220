#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace flowgate::testing {

// A fresh directory under `parent` named <prefix>XXXXXX, removed with everything in it when the
// object goes; path() is empty when it could not be made.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "flowgate-test-",
                   const std::string& parent = "/tmp") {
    std::string tmpl = parent + "/" + prefix + "XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace flowgate::testing
