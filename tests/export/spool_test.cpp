#include "export/spool.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace flowgate::exporter {
namespace {

class SpoolDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/flowgate-spool-unit-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string dir_;
};

TEST_F(SpoolDir, GivesBatchesBackOldestFirstAcrossAReopen) {
  std::string error;
  {
    Spool s;
    ASSERT_TRUE(s.open(dir_ + "/a/b", 1 << 20, error)) << error;  // creates missing parents
    EXPECT_EQ(s.put(7, 3, "seven\n"), Spool::PutResult::kStored);
    EXPECT_EQ(s.put(2, 1, "two\n"), Spool::PutResult::kStored);
    EXPECT_EQ(s.batches(), 2u);
  }
  Spool s;
  ASSERT_TRUE(s.open(dir_ + "/a/b", 1 << 20, error)) << error;
  EXPECT_EQ(s.batches(), 2u);
  EXPECT_EQ(s.next_seq(), 8u);  // new batches sort after what a previous run left
  uint64_t seq = 0;
  uint32_t records = 0;
  std::string body;
  ASSERT_TRUE(s.oldest(seq, records, body));
  EXPECT_EQ(seq, 2u);
  EXPECT_EQ(records, 1u);
  EXPECT_EQ(body, "two\n");
  s.remove(seq);
  ASSERT_TRUE(s.oldest(seq, records, body));
  EXPECT_EQ(seq, 7u);
  EXPECT_EQ(records, 3u);
  EXPECT_EQ(body, "seven\n");
  s.remove(seq);
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.bytes(), 0u);
  EXPECT_FALSE(s.oldest(seq, records, body));
}

TEST_F(SpoolDir, RefusesWhatExceedsItsSize) {
  std::string error;
  Spool s;
  ASSERT_TRUE(s.open(dir_, 100, error));
  EXPECT_EQ(s.put(0, 1, std::string(60, 'x')), Spool::PutResult::kStored);
  EXPECT_EQ(s.put(1, 1, std::string(60, 'x')), Spool::PutResult::kFull);
  EXPECT_EQ(s.batches(), 1u);
  EXPECT_LE(s.bytes(), 100u);
}

// What a crash leaves: a temporary file (never renamed, so never counted as spooled) is
// removed; a damaged batch file is dropped and counted instead of blocking the spool forever.
TEST_F(SpoolDir, RemovesPartialWritesAndSkipsDamagedFiles) {
  std::ofstream(dir_ + "/00000000000000000003.batch.tmp") << "half";
  std::ofstream(dir_ + "/00000000000000000004.batch") << "garbage without header";
  std::string error;
  Spool s;
  ASSERT_TRUE(s.open(dir_, 1 << 20, error));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/00000000000000000003.batch.tmp"));
  ASSERT_EQ(s.put(5, 2, "five\n"), Spool::PutResult::kStored);
  uint64_t seq = 0;
  uint32_t records = 0;
  std::string body;
  ASSERT_TRUE(s.oldest(seq, records, body));
  EXPECT_EQ(seq, 5u);
  EXPECT_EQ(body, "five\n");
  EXPECT_EQ(s.corrupt(), 1u);
}

}  // namespace
}  // namespace flowgate::exporter
