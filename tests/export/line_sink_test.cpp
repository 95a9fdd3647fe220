// The stdout/file sink: batches land whole and in order, appended to what the file held,
// through pipes that take less than a batch at a time, and a failed write is reported.
#include "export/line_sink.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <tuple>

#include "tests/support/corpus.hpp"
#include "tests/support/temp_dir.hpp"

namespace flowgate::exporter {
namespace {

namespace fs = std::filesystem;

// Direct I/O needs a disk's file system: /var/tmp is one (FHS), where /tmp may be tmpfs.
constexpr const char* kOnDisk = "/var/tmp";

// A direct-I/O sink on flows.jsonl in a fresh directory on disk (path_ may be filled first).
class DirectIo : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    path_ = fs::path(dir_.path()) / "flows.jsonl";
  }
  void open(uint64_t max_bytes = 0) {
    std::string error;
    sink_ = LineSink::open_file(path_.string(), max_bytes, error, LineSink::Io::kDirect);
    ASSERT_NE(sink_, nullptr) << error;
    ASSERT_EQ(sink_->io(), LineSink::Io::kDirect) << kOnDisk << " is on a disk's file system";
  }

  const testing::TempDir dir_{"flowgate-test-", kOnDisk};
  fs::path path_;
  std::unique_ptr<LineSink> sink_;
};

// Holds the file size limit (RLIMIT_FSIZE) at `bytes` while it lives, with SIGXFSZ ignored so
// that a write past it fails with EFBIG, as one to a full disk fails with ENOSPC: the kernel
// writes what fits below the limit and fails the rest.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(uint64_t bytes) : old_handler_(signal(SIGXFSZ, SIG_IGN)) {
    getrlimit(RLIMIT_FSIZE, &old_limit_);
    rlimit limit = old_limit_;
    limit.rlim_cur = bytes;
    set_ = setrlimit(RLIMIT_FSIZE, &limit) == 0;
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &old_limit_);
    signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;
  bool set() const { return set_; }

 private:
  sighandler_t old_handler_;
  rlimit old_limit_{};
  bool set_ = false;
};

std::string lines(char c, size_t count, size_t width) {
  std::string s;
  for (size_t i = 0; i < count; ++i) s += std::string(width - 1, c) + '\n';
  return s;
}

TEST(LineSink, AppendsToWhatTheFileHeldAndRotatesAtItsLimit) {
  const testing::TempDir dir;
  const fs::path path = fs::path(dir.path()) / "flows.jsonl";
  std::ofstream(path) << "kept\n";
  std::string error;
  auto sink = LineSink::open_file(path.string(), 100, error);
  ASSERT_NE(sink, nullptr) << error;
  const std::string first = lines('a', 3, 20), second = lines('b', 3, 20), third = lines('c', 2, 20);
  ASSERT_TRUE(sink->write(first, 3));
  ASSERT_TRUE(sink->write(second, 3));  // 5 + 60 + 60 > 100: the file rotates first
  ASSERT_TRUE(sink->write(third, 2));
  ASSERT_TRUE(sink->flush());
  EXPECT_EQ(sink->rotations(), 1u);
  EXPECT_EQ(testing::read_text(fs::path(path.string() + ".1")), "kept\n" + first);
  EXPECT_EQ(testing::read_text(path), second + third);
}

// A pipe holds 64 KiB: a 4 MiB batch goes in pieces as the reader drains it, all of it, in order.
TEST(LineSink, APipeTakesABatchLargerThanItHolds) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string error;
  auto sink = LineSink::open_file("/dev/fd/" + std::to_string(fds[1]), 0, error);
  ASSERT_NE(sink, nullptr) << error;
  ::close(fds[1]);
  std::string received;
  std::thread reader([&] {
    char buf[65536];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) received.append(buf, static_cast<size_t>(n));
  });
  const std::string batch = lines('x', 4096, 1024);
  const bool ok = sink->write(batch, 4096) && sink->write("end\n", 1);
  sink.reset();  // closes the write end: the reader sees the end
  reader.join();
  ::close(fds[0]);
  EXPECT_TRUE(ok);
  EXPECT_EQ(received.size(), batch.size() + 4);
  EXPECT_TRUE(received == batch + "end\n");
}

TEST(LineSink, AFailedWriteIsReported) {
  std::string error;
  auto full = LineSink::open_file("/dev/full", 0, error);
  ASSERT_NE(full, nullptr) << error;
  EXPECT_FALSE(full->write("{}\n", 1));
  EXPECT_EQ(LineSink::open_file("/nonexistent-dir/flows.jsonl", 0, error), nullptr);
  EXPECT_NE(error.find("/nonexistent-dir/flows.jsonl: No such file or directory"), std::string::npos)
      << error;
}

// Through the page cache, records encoded in place go to the file in chunks as the chunk buffer
// fills, so a batch larger than the buffer needs no room of its size; the rest at the batch's
// end. The file then holds every record, in order, without a flush.
TEST(LineSink, ThePageCacheTakesRecordsEncodedInPlaceInChunks) {
  const testing::TempDir dir;
  const fs::path path = fs::path(dir.path()) / "flows.jsonl";
  std::ofstream(path) << "kept\n";
  std::string error;
  auto sink = LineSink::open_file(path.string(), 0, error);
  ASSERT_NE(sink, nullptr) << error;
  ASSERT_EQ(sink->io(), LineSink::Io::kPageCache);
  std::string expected = "kept\n";
  const auto encode = [&](uint32_t i) {
    const std::string line = std::string(150 + i % 97, static_cast<char>('a' + i % 26)) + '\n';
    char* room = sink->reserve(1000);
    if (room == nullptr) return false;
    std::memcpy(room, line.data(), line.size());
    sink->commit(room + line.size());
    expected += line;
    return true;
  };
  uint32_t i = 0;
  for (; expected.size() < 3 * LineSink::kChunkBytes; ++i) ASSERT_TRUE(encode(i)) << i;
  // Mid-batch: the chunks filled so far are in the file, the last one not yet.
  const uint64_t mid_batch = fs::file_size(path);
  EXPECT_GE(mid_batch, 2 * LineSink::kChunkBytes);
  EXPECT_LT(mid_batch, expected.size());
  EXPECT_TRUE(expected.compare(0, mid_batch, testing::read_text(path)) == 0);
  ASSERT_TRUE(sink->write_in_place(i));
  EXPECT_TRUE(testing::read_text(path) == expected) << "the batch's end writes the rest";
  // A copied batch after records in place comes after them.
  for (uint32_t k = 0; k < 10; ++k, ++i) ASSERT_TRUE(encode(i));
  ASSERT_TRUE(sink->write_in_place(10));
  const std::string copied = lines('z', 3, 40);
  ASSERT_TRUE(sink->write(copied, 3));
  expected += copied;
  ASSERT_TRUE(sink->flush());
  sink.reset();
  EXPECT_TRUE(testing::read_text(path) == expected);

  // A rotating file takes copies through write().
  auto rotating = LineSink::open_file((fs::path(dir.path()) / "b.jsonl").string(), 1 << 20, error);
  ASSERT_NE(rotating, nullptr) << error;
  EXPECT_EQ(rotating->reserve(1000), nullptr);
}

// A batch encoded in place whose write fails is reported lost, once: the next batch is not.
TEST(LineSink, AFailedWriteOfRecordsInPlaceLosesTheirBatch) {
  std::string error;
  auto full = LineSink::open_file("/dev/full", 0, error);
  ASSERT_NE(full, nullptr) << error;
  for (size_t bytes = 0; bytes < LineSink::kChunkBytes + 1000; bytes += 100) {
    char* room = full->reserve(1000);
    ASSERT_NE(room, nullptr);
    std::memcpy(room, lines('f', 1, 100).data(), 100);
    full->commit(room + 100);
  }
  EXPECT_FALSE(full->write_in_place(2632)) << "a chunk written mid-batch failed";
  EXPECT_TRUE(full->write_in_place(0)) << "nothing more was written, nothing more lost";
  char* room = full->reserve(1000);
  ASSERT_NE(room, nullptr);
  std::memcpy(room, "{}\n", 3);
  full->commit(room + 3);
  EXPECT_FALSE(full->write_in_place(1)) << "the batch's end failed";
}

// Direct I/O: batches reach the file in whole staging buffers as they fill, the rest at flush
// (and at close); the file never shows padding, and what it held before stays.
// A write cut short by a full disk (here the file size limit, inside a line of the second
// batch) is reported, and the broken line it left is cut off the file's end: the next batch
// starts a line of its own, and the file holds only whole lines.
TEST(LineSink, AWriteCutShortLeavesNoBrokenLine) {
  const testing::TempDir dir{"flowgate-test-", kOnDisk};
  const fs::path path = fs::path(dir.path()) / "flows.jsonl";
  std::string error;
  auto sink = LineSink::open_file(path.string(), 0, error);
  ASSERT_NE(sink, nullptr) << error;
  const std::string first = lines('a', 10, 100), second = lines('b', 10, 100);
  const std::string third = lines('c', 10, 100);
  ASSERT_TRUE(sink->write(first, 10));
  {
    const FileSizeLimit held(first.size() + 150);  // the second batch's second line is cut
    ASSERT_TRUE(held.set());
    EXPECT_FALSE(sink->write(second, 10));
  }
  ASSERT_TRUE(sink->write(third, 10));
  ASSERT_TRUE(sink->flush());
  sink.reset();
  EXPECT_EQ(testing::read_text(path), first + second.substr(0, 100) + third)
      << "the whole line that fitted stays; the broken one is gone";
}

TEST_F(DirectIo, WritesEverythingByFlushAndKeepsWhatTheFileHeld) {
  std::string expected = lines('k', 50, 100);  // 5000 bytes: ends inside the second block
  std::ofstream(path_) << expected;
  ASSERT_NO_FATAL_FAILURE(open());
  LineSink* sink = sink_.get();
  const fs::path& path = path_;
  // Smaller than a block, a few blocks, and more than all staging buffers hold.
  for (const auto& [c, count, width] :
       {std::tuple{'a', 3, 20}, {'b', 100, 123}, {'c', 40000, 150}}) {
    const std::string batch = lines(c, count, width);
    ASSERT_TRUE(sink->write(batch, static_cast<uint32_t>(count)));
    expected += batch;
  }
  ASSERT_GT(expected.size(), (LineSink::kBuffers + 1) * LineSink::kStageBytes);
  ASSERT_NE(expected.size() % LineSink::kBlock, 0u);
  EXPECT_LT(fs::file_size(path), expected.size()) << "the current buffer waits for flush";
  ASSERT_TRUE(sink->flush());
  EXPECT_TRUE(testing::read_text(path) == expected);
  // After the flush the tail's block is rewritten whole with what follows.
  const std::string more = lines('d', 7, 33);
  ASSERT_TRUE(sink->write(more, 7));
  expected += more;
  sink_.reset();
  EXPECT_TRUE(testing::read_text(path) == expected);
}

// Records encoded in place (the pipeline's path to a direct sink without rotation) land in the
// file in order across staging buffers, each buffer's partial last block carried to the next.
TEST_F(DirectIo, TakesRecordsEncodedInPlace) {
  ASSERT_NO_FATAL_FAILURE(open());
  LineSink* sink = sink_.get();
  const fs::path& path = path_;
  const fs::path dir = dir_.path();
  std::string error;
  std::string expected;
  for (uint32_t i = 0; i < 30000; ++i) {  // ~5.6 MB: past all four buffers
    const std::string line = std::string(150 + i % 97, static_cast<char>('a' + i % 26)) + '\n';
    char* room = sink->reserve(1000);
    ASSERT_NE(room, nullptr) << i;
    std::memcpy(room, line.data(), line.size());
    sink->commit(room + line.size());
    expected += line;
    if (i % 4096 == 4095) {
      ASSERT_TRUE(sink->write_in_place(4096));
    }
  }
  ASSERT_GT(expected.size(), (LineSink::kBuffers + 1) * LineSink::kStageBytes);
  ASSERT_TRUE(sink->flush());
  EXPECT_TRUE(testing::read_text(path) == expected);

  // A rotating file takes copies through write().
  auto rotating =
      LineSink::open_file((dir / "c.jsonl").string(), 1 << 20, error, LineSink::Io::kDirect);
  ASSERT_NE(rotating, nullptr) << error;
  EXPECT_EQ(rotating->reserve(1000), nullptr);
}

// A disk write that fails (here beyond RLIMIT_FSIZE, as a full disk would) is reported by the
// next write; the sink then appends again from the file's end, cut back to a whole line, so the
// file holds whole lines of what was written and no hole of zeros once writes succeed again.
// Without and with rotation (whose check flushes first).
TEST_F(DirectIo, AFailedDiskWriteIsReportedAndLeavesNoHole) {
  for (const uint64_t max_bytes : {uint64_t{0}, uint64_t{3} << 20}) {
    SCOPED_TRACE("max_bytes " + std::to_string(max_bytes));
    fs::remove(path_);
    ASSERT_NO_FATAL_FAILURE(open(max_bytes));
    const uint64_t limit = 2 * LineSink::kStageBytes + 1000;  // inside the third buffer and a line
    std::string written;
    bool reported = false;
    {
      const FileSizeLimit held(limit);
      ASSERT_TRUE(held.set());
      for (int i = 0; i < 8 && !reported; ++i) {  // 1 MB batches: the third buffer fails
        const std::string batch = lines(static_cast<char>('a' + i), 10000, 100);
        reported = !sink_->write(batch, 10000);
        if (!reported) written += batch;
      }
    }
    EXPECT_TRUE(reported);
    // Writes succeed again (a rotating sink's flush may report the same failure once more),
    // large ones too: past the rotation limit from where the failed writes would have ended.
    const std::string after = lines('z', 2000, 100);
    int attempts = 1;
    while (!sink_->write(after, 2000) && attempts < 3) ++attempts;
    ASSERT_LT(attempts, 3);
    ASSERT_TRUE(sink_->flush());
    sink_.reset();
    const std::string text = testing::read_text(path_);
    EXPECT_EQ(text.find('\0'), std::string::npos) << "a hole of zeros";
    ASSERT_GE(text.size(), after.size());
    const std::string before = text.substr(0, text.size() - after.size());
    EXPECT_EQ(text.substr(before.size()), after);
    EXPECT_LE(before.size(), limit);
    EXPECT_GE(before.size(), 2 * LineSink::kStageBytes - 100) << "what reached the file stays";
    EXPECT_TRUE(before.empty() || before.back() == '\n') << "whole lines";
    EXPECT_TRUE(written.compare(0, before.size(), before) == 0);
  }
}

// On tmpfs the page cache is the file: direct I/O would only add the staging copy.
TEST(LineSink, DirectIoOnAMemoryFileSystemUsesThePageCache) {
  ASSERT_TRUE(fs::is_directory("/dev/shm")) << "Debian mounts tmpfs on /dev/shm";
  const fs::path path = fs::path("/dev/shm") / ("flowgate-line-sink-" + std::to_string(getpid()));
  std::string error;
  auto sink = LineSink::open_file(path.string(), 0, error, LineSink::Io::kDirect);
  ASSERT_NE(sink, nullptr) << error;
  EXPECT_EQ(sink->io(), LineSink::Io::kPageCache);
  ASSERT_TRUE(sink->write("{}\n", 1));
  EXPECT_EQ(testing::read_text(path), "{}\n");  // through the page cache: there at once
  sink.reset();
  fs::remove(path);
}

TEST_F(DirectIo, RotatesAndReopens) {
  ASSERT_NO_FATAL_FAILURE(open(10000));
  LineSink* sink = sink_.get();
  const fs::path& path = path_;
  const fs::path dir = dir_.path();
  const std::string first = lines('a', 60, 100), second = lines('b', 60, 100);
  ASSERT_TRUE(sink->write(first, 60));
  ASSERT_TRUE(sink->write(second, 60));  // 6000 + 6000 > 10000: the file rotates first
  EXPECT_EQ(sink->rotations(), 1u);
  EXPECT_TRUE(testing::read_text(fs::path(path.string() + ".1")) == first);
  // logrotate moves the file away, then SIGHUP: the rest goes to a new file at the path, and
  // the moved one is complete.
  const fs::path moved = dir / "flows.jsonl.moved";
  fs::rename(path, moved);
  ASSERT_TRUE(sink->reopen());
  EXPECT_EQ(sink->io(), LineSink::Io::kDirect);
  const std::string third = lines('c', 10, 50);
  ASSERT_TRUE(sink->write(third, 10));
  ASSERT_TRUE(sink->flush());
  EXPECT_TRUE(testing::read_text(moved) == second);
  EXPECT_TRUE(testing::read_text(path) == third);
}

}  // namespace
}  // namespace flowgate::exporter
