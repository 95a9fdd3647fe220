#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace flowgate::testing {

// A fresh directory under /tmp named <prefix>XXXXXX, removed with everything in it when the
// object goes.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "flowgate-test-") {
    std::string tmpl = "/tmp/" + prefix + "XXXXXX";
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
