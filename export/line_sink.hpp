#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace flowgate::exporter {

// Writes batches of JSON lines to stdout or to a file (appending). Batches are written whole
// with one fwrite; flush() pushes them to the kernel.
class LineSink {
 public:
  static std::unique_ptr<LineSink> standard_output() {
    return std::unique_ptr<LineSink>(new LineSink(stdout, false));
  }
  // nullptr (errno set) when the file cannot be opened.
  static std::unique_ptr<LineSink> open_file(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "ae");
    if (f == nullptr) return nullptr;
    return std::unique_ptr<LineSink>(new LineSink(f, true));
  }
  ~LineSink() {
    if (owned_) std::fclose(file_);
  }
  LineSink(const LineSink&) = delete;
  LineSink& operator=(const LineSink&) = delete;

  // False when the write failed (disk full, closed pipe).
  bool write(std::string_view batch) {
    return std::fwrite(batch.data(), 1, batch.size(), file_) == batch.size();
  }
  bool flush() { return std::fflush(file_) == 0; }

 private:
  LineSink(FILE* f, bool owned) : file_(f), owned_(owned) {}
  FILE* file_;
  bool owned_;
};

}  // namespace flowgate::exporter
