#include "export/line_sink.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace flowgate::exporter {

LineSink::LineSink(FILE* f, std::string path, uint64_t max_bytes)
    : file_(f),
      path_(std::move(path)),
      name_(path_.empty() ? "stdout" : "file:" + path_),
      max_bytes_(max_bytes) {
  struct stat st {};
  if (!path_.empty() && fstat(fileno(file_), &st) == 0) size_ = static_cast<uint64_t>(st.st_size);
}

LineSink::~LineSink() {
  if (!path_.empty() && file_ != nullptr) std::fclose(file_);
}

std::unique_ptr<LineSink> LineSink::standard_output() {
  return std::unique_ptr<LineSink>(new LineSink(stdout, "", 0));
}

std::unique_ptr<LineSink> LineSink::open_file(const std::string& path, uint64_t max_bytes,
                                              std::string& error) {
  FILE* f = std::fopen(path.c_str(), "ae");
  if (f == nullptr) {
    error = path + ": " + std::strerror(errno);
    return nullptr;
  }
  return std::unique_ptr<LineSink>(new LineSink(f, path, max_bytes));
}

bool LineSink::rotate() {
  std::fclose(file_);
  const std::string old = path_ + ".1";
  std::rename(path_.c_str(), old.c_str());
  file_ = std::fopen(path_.c_str(), "ae");
  size_ = 0;
  ++rotations_;
  return file_ != nullptr;
}

bool LineSink::write(std::string_view batch, uint32_t /*records*/) {
  if (file_ == nullptr) return false;
  if (max_bytes_ != 0 && size_ > 0 && size_ + batch.size() > max_bytes_) {
    if (!flush() || !rotate()) return false;
  }
  const bool ok = std::fwrite(batch.data(), 1, batch.size(), file_) == batch.size();
  size_ += batch.size();
  return ok;
}

bool LineSink::flush() {
  if (file_ == nullptr) return false;
  if (std::fflush(file_) != 0) return false;
  // stdout may be a pipe or terminal, where fsync has no meaning.
  return path_.empty() || fsync(fileno(file_)) == 0;
}

bool LineSink::reopen() {
  if (path_.empty()) return true;
  if (file_ != nullptr) {
    flush();
    std::fclose(file_);
  }
  file_ = std::fopen(path_.c_str(), "ae");
  size_ = 0;
  struct stat st {};
  if (file_ != nullptr && fstat(fileno(file_), &st) == 0) size_ = static_cast<uint64_t>(st.st_size);
  return file_ != nullptr;
}

}  // namespace flowgate::exporter
