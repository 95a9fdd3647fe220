#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "export/sink.hpp"

namespace flowgate::exporter {

// Writes batches of JSON lines to stdout or to a file, each batch with one write(2) from the
// pipeline's buffer. A file is appended to, rotated when it would grow past max_bytes
// (flows.jsonl -> flows.jsonl.1, replacing an older .1), fsync'd on flush so a flushed batch
// survives a crash, and reopened on request (SIGHUP, for logrotate).
class LineSink final : public Sink {
 public:
  static std::unique_ptr<LineSink> standard_output();
  // nullptr when the file cannot be opened; error() of the attempt in `error`.
  static std::unique_ptr<LineSink> open_file(const std::string& path, uint64_t max_bytes,
                                             std::string& error);
  ~LineSink() override;
  LineSink(const LineSink&) = delete;
  LineSink& operator=(const LineSink&) = delete;

  // False when the write failed (disk full, closed pipe); the batch is then lost for this sink.
  bool write(std::string_view batch, uint32_t records = 0) override;
  bool flush() override;
  // Closes and reopens the file at its path (after logrotate moved it). No-op for stdout.
  bool reopen() override;
  // "stdout" or "file:<path>" (the sink label in /metrics).
  std::string_view name() const noexcept override { return name_; }

  const std::string& path() const noexcept { return path_; }
  uint64_t rotations() const noexcept { return rotations_; }

 private:
  LineSink(int fd, std::string path, uint64_t max_bytes);
  bool rotate();

  int fd_;  // -1 after a failed reopen or rotation
  std::string path_;
  std::string name_;  // empty for stdout
  uint64_t max_bytes_;
  uint64_t size_ = 0;
  uint64_t rotations_ = 0;
};

}  // namespace flowgate::exporter
