#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "export/huge_page_array.hpp"
#include "export/sink.hpp"

namespace flowgate::exporter {

// Writes batches of JSON lines to stdout or to a file. A file is appended to, rotated when it
// would grow past max_bytes (flows.jsonl -> flows.jsonl.1, replacing an older .1), fsync'd on
// flush so a flushed batch survives a crash, and reopened on request (SIGHUP, for logrotate).
//
// Through the page cache (the default) a batch copied in (write()) is one write(2) from the
// pipeline's buffer; records encoded in place (reserve/commit, when the file does not rotate)
// go into a kChunkBytes buffer that is written whenever the next record would not fit and at the
// end of each batch, so the encoder's stores and the kernel's copy find it in the cache.
// With direct I/O (O_DIRECT) batches are copied into aligned 1 MiB staging buffers (or, through
// reserve/commit, encoded there by the pipeline); a full one goes to the sink's writer thread,
// which writes it straight to the disk while the exporter thread fills the next (when all
// kBuffers are being written, the exporter thread waits for the disk). flush() waits for the
// writer, writes the staged whole blocks, then the partial last block through the page cache
// (the file never shows padding), then fsyncs; the next write rewrites that block whole. So the
// file lags by the staged bytes until flush(). A failed disk write is reported by the write()
// after it, which drops what was staged and queued with it and that batch too, and appends again
// from the file's end, cut back to its last whole line: the file never holds a hole of zeros.
class LineSink final : public Sink {
 public:
  enum class Io : uint8_t { kPageCache, kDirect };

  static std::unique_ptr<LineSink> standard_output();
  // nullptr when the file cannot be opened; the reason, with the path, in `error`. A file
  // system without O_DIRECT (some network file systems), or one that keeps files in memory
  // (tmpfs, ramfs), gets the page cache instead: io() says which the sink uses.
  static std::unique_ptr<LineSink> open_file(const std::string& path, uint64_t max_bytes,
                                             std::string& error, Io io = Io::kPageCache);
  ~LineSink() override;
  LineSink(const LineSink&) = delete;
  LineSink& operator=(const LineSink&) = delete;

  // False when the write failed (disk full, closed pipe); the batch is then lost for this sink.
  bool write(std::string_view batch, uint32_t records = 0) override;
  // Without rotation (max_bytes 0) the pipeline encodes records straight into the sink's own
  // buffer: with direct I/O the staging buffer, which saves the copy (a tenth of the process's
  // CPU with aggregation off); through the page cache the chunk buffer, which stays in the cache
  // where a large batch (4096 records are ~2.8 MB) would not.
  char* reserve(size_t bytes) noexcept override;
  void commit(const char* end) noexcept override;
  bool write_in_place(uint32_t records) override;
  bool flush() override;
  // Closes and reopens the file at its path (after logrotate moved it). No-op for stdout.
  bool reopen() override;
  // "stdout" or "file:<path>" (the sink label in /metrics).
  std::string_view name() const noexcept override { return name_; }

  const std::string& path() const noexcept { return path_; }
  uint64_t rotations() const noexcept { return rotations_; }
  Io io() const noexcept { return direct_ ? Io::kDirect : Io::kPageCache; }

  // Direct I/O's block: offsets, lengths and the staging buffer's address are multiples of it
  // (the largest logical block size of Linux block devices).
  static constexpr size_t kBlock = 4096;
  // One staging buffer, and how many there are.
  static constexpr size_t kStageBytes = 1 << 20;
  static constexpr size_t kBuffers = 4;
  // The page cache's buffer for records encoded in place: well within a core's L2.
  static constexpr size_t kChunkBytes = 256 << 10;

 private:
  LineSink(int fd, std::string path, uint64_t max_bytes);
  bool open_at_path(Io io, std::string& error);
  void close_file();
  bool rotate();
  bool write_page_cache(std::string_view batch);
  // After a page-cache write cut short (a full disk, say) that wrote `written` of a batch of
  // whole lines: cuts what it wrote past its last newline off the file's end, so the file ends
  // on a whole line and the next batch does not continue a broken one.
  void cut_partial_line(std::string_view written);
  bool write_direct(std::string_view batch);
  // Writes the records encoded into chunk_ (a failure is noted in chunk_failed_).
  void write_chunk() noexcept;
  // Queues the current buffer's whole blocks for the writer thread and moves on to the next
  // buffer, which starts with the partial last block; waits while every buffer is queued.
  void hand_off();
  // Whether a direct write failed since the last recover(); set_failed() records one made on
  // this thread.
  bool failed();
  void set_failed();
  // After a failed direct write: waits for the writer thread (which skips what was queued after
  // the failure), drops what is staged, and appends from the file's end again, cut back to its
  // last whole line. False when the file's last block cannot be read back (the sink is then
  // closed until reopen()).
  bool recover();
  // write_staged_blocks() then write_staged_tail(); a failure is recorded (set_failed()).
  bool write_staged();
  // Waits until the writer thread has written everything queued; false when one of those
  // writes (or an earlier one not yet reported by write()) failed.
  bool drain();
  void writer_loop();
  // Writes the staged bytes that fill whole blocks at stage_offset_, on this thread, keeping
  // the partial last block staged (moved to the buffer's start). After drain() only.
  bool write_staged_blocks();
  // Makes the staged partial block part of the file, through the page cache.
  bool write_staged_tail();
  // Stages the file's bytes from `offset` (a multiple of kBlock, within a block of its end) to
  // its end, to be rewritten whole with what follows; false when they cannot be read back.
  bool stage_from(uint64_t offset);
  char* buffer(size_t i) noexcept { return buffers_.data() + i * kStageBytes; }
  char* stage() noexcept { return buffer(current_); }

  int fd_;  // -1 after a failed reopen or rotation
  std::string path_;
  std::string name_;  // empty for stdout
  uint64_t max_bytes_;
  uint64_t size_ = 0;  // bytes in the file through the page cache (direct: stage_offset_ + staged_)
  uint64_t rotations_ = 0;
  Io requested_ = Io::kPageCache;
  bool direct_ = false;  // what the open file got
  // Direct I/O only: the staging buffers, kStageBytes each, in one array on huge pages (the
  // kernel pins a write's pages for the device: one 2 MiB page rather than 256 small ones,
  // which took the writer thread 0.13 s instead of 0.05 s for 2.8M records); the one being
  // filled, the file offset its first byte goes to (a multiple of kBlock) and the bytes it
  // holds. Its predecessors (up to kBuffers - 1 of them, kBuffers while hand_off waits) are
  // queued for the writer thread in order: jobs_ holds their offsets and lengths.
  HugePageArray<char> buffers_;
  size_t current_ = 0;
  uint64_t stage_offset_ = 0;
  size_t staged_ = 0;
  struct Job {
    size_t buffer;
    uint64_t offset;
    size_t bytes;  // whole blocks
  };
  std::mutex mutex_;
  std::condition_variable changed_;
  std::array<Job, kBuffers> jobs_{};  // a ring: jobs_[first_job_], then the next queued
  size_t first_job_ = 0;             // under mutex_
  size_t queued_jobs_ = 0;           // under mutex_; the head stays queued while written
  bool stopping_ = false;            // under mutex_
  bool write_failed_ = false;        // under mutex_
  std::thread writer_;
  // Page cache only: records encoded in place wait here (chunked_ bytes) for one write(2);
  // chunk_failed_ notes a failed one, which write_in_place() reports for its batch.
  std::unique_ptr<char[]> chunk_;
  size_t chunked_ = 0;
  bool chunk_failed_ = false;
};

}  // namespace flowgate::exporter
