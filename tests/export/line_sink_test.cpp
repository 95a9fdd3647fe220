// The stdout/file sink: batches land whole and in order, appended to what the file held,
// through pipes that take less than a batch at a time, and a failed write is reported.
#include "export/line_sink.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "tests/support/corpus.hpp"
#include "tests/support/temp_dir.hpp"

namespace flowgate::exporter {
namespace {

namespace fs = std::filesystem;

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

}  // namespace
}  // namespace flowgate::exporter
