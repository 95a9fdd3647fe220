#include "export/line_sink.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <emmintrin.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace flowgate::exporter {
namespace {

int open_append(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

// Read-write: the partial block at the end of the file is read back into the staging buffer.
// No O_APPEND: direct writes go to offsets the sink keeps.
int open_direct(const std::string& path) {
  return ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_DIRECT, 0644);
}

// tmpfs and ramfs keep files in the page cache itself: since Linux 6.6 tmpfs accepts O_DIRECT
// but copies all the same, and the staging copy would only come on top.
bool in_memory(int fd) {
  struct statfs fs {};
  return fstatfs(fd, &fs) == 0 && (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC);
}

uint64_t file_size(int fd) {
  struct stat st {};
  return fd >= 0 && fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// How many bytes of `text` follow its last newline: a line cut short (all of `text` when it
// holds no newline).
size_t past_last_line(std::string_view text) {
  const size_t newline = text.rfind('\n');
  return newline == std::string_view::npos ? text.size() : text.size() - newline - 1;
}

// Writes all `n` bytes with `write(p, n)` (a write(2) or pwrite(2) that may take part, as a
// pipe does), again after EINTR; false on any other error.
template <typename Write>
bool write_fully(const char* p, size_t n, Write write) {
  while (n > 0) {
    const ssize_t w = write(p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool pwrite_all(int fd, const char* p, size_t n, uint64_t offset) {
  return write_fully(p, n, [&](const char* q, size_t m) {
    const ssize_t w = ::pwrite(fd, q, m, static_cast<off_t>(offset));
    if (w > 0) offset += static_cast<uint64_t>(w);
    return w;
  });
}

// Copies into a staging buffer with non-temporal stores: the buffer goes to the disk by DMA and
// is not read again here, so its cache lines are neither read for ownership nor kept, and the
// encoder's working set stays in the cache. Readers of the buffer (the writer thread's pwrite)
// come after an sfence.
void copy_to_stage(char* to, const char* from, size_t n) noexcept {
  const size_t head = std::min(n, (16 - reinterpret_cast<uintptr_t>(to) % 16) % 16);
  std::memcpy(to, from, head);
  to += head;
  from += head;
  n -= head;
  for (; n >= 64; n -= 64, to += 64, from += 64) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + 32));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + 48));
    _mm_stream_si128(reinterpret_cast<__m128i*>(to), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(to + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(to + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(to + 48), d);
  }
  std::memcpy(to, from, n);
}

}  // namespace

LineSink::LineSink(int fd, std::string path, uint64_t max_bytes)
    : fd_(fd),
      path_(std::move(path)),
      name_(path_.empty() ? "stdout" : "file:" + path_),
      max_bytes_(max_bytes),
      chunk_(std::make_unique_for_overwrite<char[]>(kChunkBytes)) {}

LineSink::~LineSink() {
  if (path_.empty()) {
    if (fd_ >= 0) write_chunk();
    return;
  }
  close_file();
  if (writer_.joinable()) {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    writer_.join();
  }
}

std::unique_ptr<LineSink> LineSink::standard_output() {
  return std::unique_ptr<LineSink>(new LineSink(STDOUT_FILENO, "", 0));
}

std::unique_ptr<LineSink> LineSink::open_file(const std::string& path, uint64_t max_bytes,
                                              std::string& error, Io io) {
  std::unique_ptr<LineSink> sink(new LineSink(-1, path, max_bytes));
  sink->requested_ = io;
  if (!sink->open_at_path(io, error)) return nullptr;
  return sink;
}

bool LineSink::open_at_path(Io io, std::string& error) {
  direct_ = false;
  if (io == Io::kDirect) {
    fd_ = open_direct(path_);
    if (fd_ < 0 && errno != EINVAL) {
      error = path_ + ": " + std::strerror(errno);
      return false;
    }
    if (fd_ >= 0 && in_memory(fd_)) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  if (fd_ < 0) {  // the page cache: asked for, or the file system has no O_DIRECT or is memory
    fd_ = open_append(path_);
    if (fd_ < 0) {
      error = path_ + ": " + std::strerror(errno);
      return false;
    }
    size_ = file_size(fd_);
    return true;
  }
  direct_ = true;
  if (buffers_.data() == nullptr) {
    try {
      buffers_ = HugePageArray<char>(kBuffers * kStageBytes);
    } catch (const std::bad_alloc&) {
      error = path_ + ": no memory for the direct I/O buffers";
      close_file();
      return false;
    }
  }
  if (!writer_.joinable()) {
    writer_ = std::thread([this] { writer_loop(); });
    pthread_setname_np(writer_.native_handle(), "fg-file-writer");
  }
  // Appending: the file's partial last block is staged, to be rewritten whole with what follows.
  if (!stage_from(file_size(fd_) & ~uint64_t{kBlock - 1})) {
    error = path_ + ": cannot read back its last block: " + std::strerror(errno);
    close_file();
    return false;
  }
  return true;
}

bool LineSink::stage_from(uint64_t offset) {
  const uint64_t size = file_size(fd_);
  stage_offset_ = offset;
  staged_ = static_cast<size_t>(size - offset);
  if (staged_ == 0 || ::pread(fd_, stage(), kBlock, static_cast<off_t>(offset)) ==
                          static_cast<ssize_t>(staged_)) {
    return true;
  }
  staged_ = 0;
  return false;
}

void LineSink::close_file() {
  if (fd_ < 0) return;
  write_chunk();
  if (direct_) {
    // After a failed write nothing more is written: the file keeps what reached it.
    if (drain()) write_staged();
    staged_ = 0;
  }
  ::close(fd_);
  fd_ = -1;
}

bool LineSink::rotate() {
  close_file();
  const std::string old = path_ + ".1";
  std::rename(path_.c_str(), old.c_str());
  ++rotations_;
  std::string error;
  return open_at_path(requested_, error);
}

bool LineSink::write(std::string_view batch, uint32_t /*records*/) {
  if (fd_ < 0) return false;
  if (direct_ && failed()) {
    recover();
    return false;  // the batch that reports the loss is not written either
  }
  write_chunk();  // records encoded in place before this batch go first
  const uint64_t size = direct_ ? stage_offset_ + staged_ : size_;
  if (max_bytes_ != 0 && size > 0 && size + batch.size() > max_bytes_) {
    if (!flush() || !rotate()) return false;
  }
  return direct_ ? write_direct(batch) : write_page_cache(batch);
}

bool LineSink::write_page_cache(std::string_view batch) {
  // One write(2) for the whole batch, straight from the caller's buffer: no stdio buffer to
  // copy through and no batch split into a buffer's worth and the rest. A regular file takes
  // it whole; a pipe may take part, and the loop writes the rest.
  size_t written = 0;
  const bool ok = write_fully(batch.data(), batch.size(), [&](const char* q, size_t m) {
    const ssize_t w = ::write(fd_, q, m);
    if (w > 0) written += static_cast<size_t>(w);
    return w;
  });
  size_ += written;
  if (!ok && written > 0) cut_partial_line(batch.substr(0, written));
  return ok;
}

void LineSink::cut_partial_line(std::string_view written) {
  const size_t partial = past_last_line(written);
  if (partial == 0) return;
  // The file's end, not size_: another process may have cut the file (logrotate's
  // copytruncate), and then what is there is left as it is. A pipe has no end to cut.
  const uint64_t end = file_size(fd_);
  if (end < partial || ::ftruncate(fd_, static_cast<off_t>(end - partial)) != 0) return;
  size_ = size_ >= partial ? size_ - partial : 0;
}

bool LineSink::failed() {
  const std::lock_guard lock(mutex_);
  return write_failed_;
}

void LineSink::set_failed() {
  const std::lock_guard lock(mutex_);
  write_failed_ = true;
}

bool LineSink::write_staged() {
  if (write_staged_blocks() && write_staged_tail()) return true;
  set_failed();
  return false;
}

bool LineSink::recover() {
  drain();
  {
    const std::lock_guard lock(mutex_);
    write_failed_ = false;
  }
  // What is staged or queued is lost with the failed write. What reached the file stays, up to
  // its last whole line (a write cut short, by a full disk say, can end inside one), and the
  // next record is appended there, as open_at_path appends. So the block staged is the one
  // that holds the file's last byte (a whole one when the file ends on a boundary).
  const uint64_t size = file_size(fd_);
  if (!stage_from(size == 0 ? 0 : (size - 1) & ~uint64_t{kBlock - 1})) {
    close_file();  // nothing to append to: the sink stops until reopen()
    return false;
  }
  // A block with no newline at all is left as it is: its line began in an earlier block.
  const size_t partial = past_last_line({stage(), staged_});
  if (partial > 0 && partial < staged_ &&
      ::ftruncate(fd_, static_cast<off_t>(stage_offset_ + staged_ - partial)) == 0) {
    staged_ -= partial;
  }
  return true;
}

char* LineSink::reserve(size_t bytes) noexcept {
  // Rotation decides per batch before the batch is staged, so a rotating sink takes copies.
  if (fd_ < 0 || max_bytes_ != 0) return nullptr;
  if (!direct_) {
    if (bytes > kChunkBytes) return nullptr;
    if (kChunkBytes - chunked_ < bytes) write_chunk();
    return chunk_.get() + chunked_;
  }
  if (bytes > kStageBytes - kBlock) return nullptr;
  if (kStageBytes - staged_ < bytes) hand_off();  // leaves less than a block staged
  return stage() + staged_;
}

void LineSink::commit(const char* end) noexcept {
  if (direct_) {
    staged_ = static_cast<size_t>(end - stage());
  } else {
    chunked_ = static_cast<size_t>(end - chunk_.get());
  }
}

void LineSink::write_chunk() noexcept {
  if (chunked_ == 0) return;
  if (!write_page_cache({chunk_.get(), chunked_})) chunk_failed_ = true;
  chunked_ = 0;
}

bool LineSink::write_in_place(uint32_t /*records*/) {
  if (!direct_) {
    write_chunk();
    // A batch with a failed write is lost as write() loses it: the whole lines that reached
    // the file stay there, the rest does not.
    return !std::exchange(chunk_failed_, false);
  }
  if (!failed()) return true;
  recover();  // drops the batch's records, staged after the failed write
  return false;
}

bool LineSink::write_direct(std::string_view batch) {
  const char* p = batch.data();
  size_t left = batch.size();
  while (left > 0) {
    const size_t take = std::min(left, kStageBytes - staged_);
    copy_to_stage(stage() + staged_, p, take);
    staged_ += take;
    p += take;
    left -= take;
    if (staged_ == kStageBytes) hand_off();
  }
  _mm_sfence();
  return true;
}

void LineSink::hand_off() {
  _mm_sfence();  // the non-temporal stores of copy_to_stage reach memory before the writer reads
  const size_t whole = staged_ & ~(kBlock - 1);
  std::unique_lock lock(mutex_);
  jobs_[(first_job_ + queued_jobs_) % kBuffers] = Job{current_, stage_offset_, whole};
  ++queued_jobs_;
  changed_.notify_all();
  // The next buffer is the oldest queued one when all are queued: it must be written first.
  changed_.wait(lock, [this] { return queued_jobs_ < kBuffers; });
  lock.unlock();
  // The partial block goes first in the next buffer (the writer reads only the whole blocks
  // before it), to be written whole with what follows.
  const size_t next = (current_ + 1) % kBuffers;
  std::memcpy(buffer(next), stage() + whole, staged_ - whole);
  current_ = next;
  stage_offset_ += whole;
  staged_ -= whole;
}

bool LineSink::drain() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return queued_jobs_ == 0; });
  return !write_failed_;  // left set: the next write() reports it, where it is counted
}

void LineSink::writer_loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return stopping_ || queued_jobs_ > 0; });
    if (queued_jobs_ == 0) return;  // stopping, with nothing left
    const Job job = jobs_[first_job_];
    // After a failed write the rest is not written either: a later one that succeeded would
    // leave a hole of zeros in the file. recover() starts again from the file's end.
    const bool skip = write_failed_;
    lock.unlock();
    const bool ok = skip || pwrite_all(fd_, buffer(job.buffer), job.bytes, job.offset);
    lock.lock();
    write_failed_ = write_failed_ || !ok;
    first_job_ = (first_job_ + 1) % kBuffers;
    --queued_jobs_;
    changed_.notify_all();
  }
}

bool LineSink::write_staged_blocks() {
  const size_t whole = staged_ & ~(kBlock - 1);
  if (whole == 0) return true;
  if (!pwrite_all(fd_, stage(), whole, stage_offset_)) return false;
  stage_offset_ += whole;
  staged_ -= whole;
  std::memmove(stage(), stage() + whole, staged_);
  return true;
}

bool LineSink::write_staged_tail() {
  if (staged_ == 0) return true;
  // A partial block cannot go through O_DIRECT: the descriptor leaves it for this one write.
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0 || ::fcntl(fd_, F_SETFL, flags & ~O_DIRECT) != 0) return false;
  const bool written = pwrite_all(fd_, stage(), staged_, stage_offset_);
  const bool direct_again = ::fcntl(fd_, F_SETFL, flags) == 0;
  return written && direct_again;
}

bool LineSink::flush() {
  if (fd_ < 0) return false;
  // Batches are written through at once (but a direct sink's last partial block, and records
  // encoded in place into the chunk buffer, written here: a failure is reported by their
  // batch's write_in_place()); what is left is making them durable. stdout may be a pipe or
  // terminal, where fsync has no meaning.
  write_chunk();
  if (path_.empty()) return true;
  // A failed direct write is left for the next write() to report and recover from.
  const bool written = !direct_ || (drain() && write_staged());
  return fsync(fd_) == 0 && written;
}

bool LineSink::reopen() {
  if (path_.empty()) return true;
  if (fd_ >= 0) {
    flush();
    close_file();
  }
  std::string error;
  return open_at_path(requested_, error);
}

}  // namespace flowgate::exporter
