#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "export/line_sink.hpp"
#include "export/record_pipeline.hpp"
#include "export/sink.hpp"
#include "tests/support/corpus.hpp"
#include "tests/support/temp_dir.hpp"

namespace flowgate::exporter {
namespace {

// Keeps what the pipeline hands over.
class RecordingSink final : public Sink {
 public:
  RecordingSink(SinkEncoding encoding, std::vector<std::string>* batches,
                std::vector<uint32_t>* records)
      : encoding_(encoding), batches_(batches), records_(records) {}
  SinkEncoding encoding() const noexcept override { return encoding_; }
  bool write(std::string_view batch, uint32_t records) override {
    batches_->emplace_back(batch);
    records_->push_back(records);
    return true;
  }
  bool flush() override { return true; }
  void finish() override { ++finished; }
  std::string_view name() const noexcept override { return "recording"; }
  int finished = 0;

 private:
  SinkEncoding encoding_;
  std::vector<std::string>* batches_;
  std::vector<uint32_t>* records_;
};

std::unique_ptr<decode::FlowBlock> rows(uint32_t n) {
  auto b = std::make_unique<decode::FlowBlock>();
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t r = b->append_row();
    b->src_addr[r] = decode::IpAddress::from_v4(0x0a000001 + i);
    b->dst_addr[r] = decode::IpAddress::from_v4(0x0a000101);
    b->bytes[r] = 100 + i;
    b->packets[r] = 1;
    b->ether_type[r] = 0x0800;
    b->flow_type[r] = decode::FlowType::kIpfix;
  }
  return b;
}

// One input and one output's batching: `batch_records`, and a minute's flush interval so that
// only the count closes batches.
config::Config batching(uint32_t batch_records) {
  config::Config c;
  c.inputs.push_back(config::Input{});
  config::Output o;
  o.batch_records = batch_records;
  o.flush_interval_ms = 60'000;
  c.outputs.push_back(o);
  return c;
}

size_t lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// Each sink gets its own encoding of the same batch, and batches may be larger than 1024
// records (ClickHouse wants thousands per INSERT).
TEST(RecordPipelineSinks, HandsEachSinkItsEncodingInBatchesOfTheConfiguredSize) {
  const config::Config c = batching(1500);
  std::vector<std::string> json, points;
  std::vector<uint32_t> json_records, point_records;
  std::vector<std::unique_ptr<Sink>> sinks;
  sinks.push_back(std::make_unique<RecordingSink>(SinkEncoding::kJsonLines, &json, &json_records));
  sinks.push_back(
      std::make_unique<RecordingSink>(SinkEncoding::kLogPoints, &points, &point_records));
  auto* json_sink = static_cast<RecordingSink*>(sinks[0].get());
  RecordPipeline pipeline(c, false, "h", std::move(sinks), "192.0.2.1");
  for (int i = 0; i < 3; ++i) pipeline.add(*rows(1000), 1000);  // 3000 records
  EXPECT_EQ(json_sink->finished, 0);
  pipeline.finish(1000);
  EXPECT_EQ(json_sink->finished, 1);  // finish() reaches the sinks (HTTP sinks drain there)
  ASSERT_EQ(json_records, (std::vector<uint32_t>{1500, 1500}));
  ASSERT_EQ(point_records, (std::vector<uint32_t>{1500, 1500}));
  EXPECT_EQ(lines(json[0]), 1500u);
  EXPECT_EQ(lines(points[1]), 1500u);
  EXPECT_EQ(json[0].rfind("{\"flush_timestamp\":", 0), 0u);
  EXPECT_EQ(points[0].rfind("netflow,host=h,ip=192.0.2.1 message=\"{\\\"flush_timestamp", 0), 0u);
  EXPECT_EQ(pipeline.written(), 3000u);
}

// The text without the digits of each "flush_timestamp" (the wall clock at encoding).
std::string without_flush_times(const std::string& text) {
  constexpr std::string_view kKey = "\"flush_timestamp\":";
  std::string out;
  size_t at = 0;
  for (size_t k; (k = text.find(kKey, at)) != std::string::npos;) {
    out.append(text, at, k + kKey.size() - at);
    at = k + kKey.size();
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') ++at;
  }
  out.append(text, at);
  return out;
}

// Records encoded in place (a file that is the only output and does not rotate, through the page
// cache's chunk buffer or direct I/O's staging buffers) come out as those copied from the batch
// (a rotating file takes copies).
TEST(RecordPipelineSinks, EncodesInPlaceForAFileAndWritesTheSameRecords) {
  namespace fs = std::filesystem;
  const testing::TempDir dir("flowgate-test-", "/var/tmp");  // a disk's file system
  ASSERT_FALSE(dir.path().empty());
  const auto run = [&](const std::string& name, LineSink::Io io, uint64_t max_bytes) {
    const config::Config c = batching(700);
    std::string error;
    const fs::path path = fs::path(dir.path()) / name;
    auto sink = LineSink::open_file(path.string(), max_bytes, error, io);
    EXPECT_NE(sink, nullptr) << error;
    if (sink == nullptr) return std::string();
    EXPECT_EQ(sink->io(), io);
    EXPECT_EQ(sink->reserve(1000) != nullptr, max_bytes == 0) << name;
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(std::move(sink));
    {
      RecordPipeline pipeline(c, false, "h", std::move(sinks));
      for (int i = 0; i < 12; ++i) pipeline.add(*rows(1000), 1000);  // ~2.6 MB of JSON
      pipeline.finish(1000);
      EXPECT_EQ(pipeline.written(), 12'000u);
      EXPECT_EQ(pipeline.write_failures(), 0u);
    }
    return testing::read_text(path);
  };
  const std::string copied = run("copied.jsonl", LineSink::Io::kPageCache, uint64_t{1} << 40);
  const std::string page_cache = run("page-cache.jsonl", LineSink::Io::kPageCache, 0);
  const std::string direct = run("direct.jsonl", LineSink::Io::kDirect, 0);
  EXPECT_EQ(lines(copied), 12'000u);
  EXPECT_GT(copied.size(), 2 * LineSink::kStageBytes);
  EXPECT_TRUE(without_flush_times(page_cache) == without_flush_times(copied));
  EXPECT_TRUE(without_flush_times(direct) == without_flush_times(copied));
}

}  // namespace
}  // namespace flowgate::exporter
