#include "export/line_sink.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace flowgate::exporter {
namespace {

int open_append(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

uint64_t file_size(int fd) {
  struct stat st {};
  return fd >= 0 && fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

}  // namespace

LineSink::LineSink(int fd, std::string path, uint64_t max_bytes)
    : fd_(fd),
      path_(std::move(path)),
      name_(path_.empty() ? "stdout" : "file:" + path_),
      max_bytes_(max_bytes),
      size_(path_.empty() ? 0 : file_size(fd_)) {}

LineSink::~LineSink() {
  if (!path_.empty() && fd_ >= 0) ::close(fd_);
}

std::unique_ptr<LineSink> LineSink::standard_output() {
  return std::unique_ptr<LineSink>(new LineSink(STDOUT_FILENO, "", 0));
}

std::unique_ptr<LineSink> LineSink::open_file(const std::string& path, uint64_t max_bytes,
                                              std::string& error) {
  const int fd = open_append(path);
  if (fd < 0) {
    error = path + ": " + std::strerror(errno);
    return nullptr;
  }
  return std::unique_ptr<LineSink>(new LineSink(fd, path, max_bytes));
}

bool LineSink::rotate() {
  ::close(fd_);
  const std::string old = path_ + ".1";
  std::rename(path_.c_str(), old.c_str());
  fd_ = open_append(path_);
  size_ = 0;
  ++rotations_;
  return fd_ >= 0;
}

bool LineSink::write(std::string_view batch, uint32_t /*records*/) {
  if (fd_ < 0) return false;
  if (max_bytes_ != 0 && size_ > 0 && size_ + batch.size() > max_bytes_) {
    if (!flush() || !rotate()) return false;
  }
  // One write(2) for the whole batch, straight from the caller's buffer: no stdio buffer to
  // copy through and no batch split into a buffer's worth and the rest. A regular file takes
  // it whole; a pipe may take part, and the loop writes the rest.
  const char* p = batch.data();
  size_t left = batch.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    left -= static_cast<size_t>(n);
    size_ += static_cast<uint64_t>(n);
  }
  return true;
}

bool LineSink::flush() {
  if (fd_ < 0) return false;
  // Batches are written through at once; what is left is making them durable. stdout may be a
  // pipe or terminal, where fsync has no meaning.
  return path_.empty() || fsync(fd_) == 0;
}

bool LineSink::reopen() {
  if (path_.empty()) return true;
  if (fd_ >= 0) {
    flush();
    ::close(fd_);
  }
  fd_ = open_append(path_);
  size_ = file_size(fd_);
  return fd_ >= 0;
}

}  // namespace flowgate::exporter
