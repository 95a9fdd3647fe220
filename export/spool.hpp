#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace flowgate::exporter {

// An HTTP sink's batches that could not be delivered yet, on disk, bounded in bytes. One file
// per batch, named by the batch's sequence number (so a directory listing is the replay order)
// and written atomically: to a temporary name, fsync'd, renamed, the directory fsync'd. A
// partial file from a crash keeps its temporary name and is removed at the next open. What a
// restart finds is replayed first; new batches get higher sequence numbers.
// Thread-safe: the exporter thread may spool when the sink thread's queue is full.
class Spool {
 public:
  enum class PutResult : uint8_t { kStored, kFull, kError };

  // Creates `dir` if needed and indexes the batches in it. False (with `error`) when the
  // directory cannot be created or read.
  bool open(const std::string& dir, uint64_t max_bytes, std::string& error);

  PutResult put(uint64_t seq, uint32_t records, std::string_view body);
  // The oldest batch; false when the spool is empty. A file that cannot be read or parsed is
  // removed and counted in `corrupt` (it can never be delivered).
  bool oldest(uint64_t& seq, uint32_t& records, std::string& body);
  void remove(uint64_t seq);

  bool empty() const;
  uint64_t bytes() const;
  uint64_t batches() const;
  uint64_t next_seq() const;  // one past the highest sequence number ever held
  uint64_t corrupt() const;
  const std::string& dir() const noexcept { return dir_; }

 private:
  std::string path_of(uint64_t seq) const;

  mutable std::mutex mutex_;
  std::string dir_;
  uint64_t max_bytes_ = 0;
  uint64_t bytes_ = 0;
  uint64_t next_seq_ = 0;
  uint64_t corrupt_ = 0;
  std::map<uint64_t, uint64_t> files_;  // seq -> file size
};

}  // namespace flowgate::exporter
