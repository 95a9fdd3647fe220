#include "export/http_sink.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "export/record_pipeline.hpp"
#include "tests/support/http_receiver.hpp"
#include "tests/support/reference_flow.hpp"
#include "tests/support/temp_dir.hpp"

namespace flowgate::exporter {
namespace {

using namespace std::chrono_literals;
using testing::HttpReceiver;
using testing::TempDir;


HttpSinkConfig fast_config(HttpSinkKind kind, const std::string& url) {
  HttpSinkConfig c;
  c.kind = kind;
  c.url = url;
  c.http.timeout_ms = 1000;
  c.retry_initial_ms = 10;
  c.retry_max_ms = 50;
  c.shutdown_timeout_ms = 2000;
  return c;
}

std::string batch_text(int n) { return "{\"n\":" + std::to_string(n) + "}\n"; }


// What a Datakit sees: the log point of DESIGN.md on /v1/write/logging, escaped as line
// protocol wants it, through the real pipeline and the real HTTP client.
TEST(DatakitSink, PostsEscapedLineProtocolToTheLoggingEndpoint) {
  HttpReceiver datakit;
  ASSERT_TRUE(datakit.ok());
  config::Config c;
  config::Input in;
  in.source = "net flow";
  in.tags = {{"site", "par 1,\"a\"=b"}, {"note", "two\nlines"}};
  c.inputs.push_back(in);
  config::Output o;
  o.type = config::OutputType::kDatakit;
  c.outputs.push_back(o);
  std::string error;
  auto sink =
      HttpSink::open(fast_config(HttpSinkKind::kDatakit, datakit.url("/v1/write/logging")), error);
  ASSERT_NE(sink, nullptr) << error;
  std::vector<std::unique_ptr<Sink>> sinks;
  sinks.push_back(std::move(sink));
  RecordPipeline pipeline(c, false, "my host", std::move(sinks), "192.0.2.7");
  pipeline.add(*testing::reference_flow(), 1000);
  pipeline.finish(1000);

  const std::vector<testing::HttpRequest> got = datakit.accepted();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].request_line, "POST /v1/write/logging HTTP/1.1");
  EXPECT_NE(got[0].headers.find("content-type: text/plain"), std::string::npos);
  const std::string& line = got[0].body;
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one point, one line: " << line;
  // Measurement and tags: spaces and commas escaped, '=' in tag values too, newline as \n.
  const std::string head =
      "net\\ flow,host=my\\ host,ip=192.0.2.7,site=par\\ 1\\,\"a\"\\=b,note=two\\nlines message=\"";
  EXPECT_EQ(line.rfind(head, 0), 0u) << line;
  // The message is the JSON record: its quotes escaped once more, the tag's newline (\n in
  // JSON) with its backslash escaped.
  EXPECT_NE(line.find("{\\\"flush_timestamp\\\":"), std::string::npos) << line;
  EXPECT_NE(line.find("\\\"site\\\":\\\"par 1,\\\\\\\"a\\\\\\\"=b\\\""), std::string::npos) << line;
  EXPECT_NE(line.find("\\\"note\\\":\\\"two\\\\nlines\\\""), std::string::npos) << line;
  // Integer field with the i suffix, strings quoted.
  EXPECT_NE(line.find(",status=\"OK\",bytes=668i,dest_ip=\"152.222.36.168\",dest_port=\"424\","
                      "device_ip=\"10.200.14.142\",ip_protocol=\"TCP\","
                      "source_ip=\"130.240.103.204\",source_port=\"4627\",type=\"netflow5\" "),
            std::string::npos)
      << line;
  EXPECT_EQ(pipeline.sinks()[0]->counters()->load().records_sent, 1u);
}

TEST(HttpSink, RetriesUntilA2xxAndSendsEachBatchOnce) {
  HttpReceiver receiver;
  receiver.answer_with({503, 500, 429});
  std::string error;
  auto sink = HttpSink::open(fast_config(HttpSinkKind::kJsonLines, receiver.url("/in")), error);
  ASSERT_NE(sink, nullptr) << error;
  sink->write(batch_text(1), 1);
  sink->write(batch_text(2), 1);
  ASSERT_TRUE(receiver.wait_accepted(2, 5s));
  sink->finish();
  const auto got = receiver.accepted();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].body, batch_text(1));
  EXPECT_EQ(got[1].body, batch_text(2));
  EXPECT_NE(got[0].headers.find("content-type: application/x-ndjson"), std::string::npos);
  EXPECT_EQ(receiver.requests().size(), 5u);
  const SinkDelivery f = sink->counters()->load();
  EXPECT_EQ(f.batches_sent, 2u);
  EXPECT_EQ(f.batches_retried, 3u);
  EXPECT_EQ(f.batches_dropped, 0u);
}

TEST(HttpSink, GzipsBodiesWhenAsked) {
  HttpReceiver receiver;
  HttpSinkConfig c = fast_config(HttpSinkKind::kJsonLines, receiver.url());
  c.http.gzip = true;
  std::string error;
  auto sink = HttpSink::open(c, error);
  ASSERT_NE(sink, nullptr) << error;
  std::string text;
  for (int i = 0; i < 100; ++i) text += batch_text(i);
  sink->write(text, 100);
  sink->finish();
  const auto got = receiver.accepted();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].headers.find("content-encoding: gzip"), std::string::npos);
  EXPECT_LT(got[0].body.size(), text.size());
  std::string plain(text.size() + 16, '\0');
  z_stream z{};
  ASSERT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(got[0].body.data()));
  z.avail_in = static_cast<uInt>(got[0].body.size());
  z.next_out = reinterpret_cast<Bytef*>(plain.data());
  z.avail_out = static_cast<uInt>(plain.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  plain.resize(z.total_out);
  inflateEnd(&z);
  EXPECT_EQ(plain, text);
}

// The endpoint is down: batches go to the spool; when it comes back they are all delivered,
// in the order they were written.
TEST(HttpSink, SpoolsWhileTheEndpointIsDownAndReplaysInOrder) {
  TempDir dir("flowgate-spool-test-");
  const uint16_t port = testing::free_tcp_port();
  HttpSinkConfig c =
      fast_config(HttpSinkKind::kJsonLines, "http://127.0.0.1:" + std::to_string(port) + "/");
  c.spool_dir = dir.path();
  c.queue_batches = 2;  // so that the exporter thread spools too
  std::string error;
  auto sink = HttpSink::open(c, error);
  ASSERT_NE(sink, nullptr) << error;
  for (int i = 0; i < 20; ++i) sink->write(batch_text(i), 1);
  // Every batch ends on disk once the sink gave up on the first one.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (sink->counters()->load().spool_batches < 20 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(sink->counters()->load().spool_batches, 20u);
  HttpReceiver receiver(port);
  ASSERT_TRUE(receiver.ok());
  ASSERT_TRUE(receiver.wait_accepted(20, 10s));
  sink->write(batch_text(20), 1);
  ASSERT_TRUE(receiver.wait_accepted(21, 5s));
  sink->finish();
  const auto got = receiver.accepted();
  ASSERT_EQ(got.size(), 21u);
  for (int i = 0; i < 21; ++i) EXPECT_EQ(got[i].body, batch_text(i)) << i;
  const SinkDelivery f = sink->counters()->load();
  EXPECT_EQ(f.batches_sent, 21u);
  EXPECT_EQ(f.batches_replayed, 20u);
  EXPECT_EQ(f.spool_batches, 0u);
  EXPECT_EQ(f.spool_bytes, 0u);
  EXPECT_EQ(f.batches_dropped, 0u);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

// A restart while the spool holds batches: the next process delivers them, oldest first,
// before what it writes itself.
TEST(HttpSink, ASpoolLeftAtShutdownIsDeliveredAfterARestart) {
  TempDir dir("flowgate-spool-test-");
  const uint16_t port = testing::free_tcp_port();
  HttpSinkConfig c =
      fast_config(HttpSinkKind::kJsonLines, "http://127.0.0.1:" + std::to_string(port) + "/");
  c.spool_dir = dir.path();
  c.shutdown_timeout_ms = 200;
  std::string error;
  {
    auto first = HttpSink::open(c, error);
    ASSERT_NE(first, nullptr) << error;
    for (int i = 0; i < 5; ++i) first->write(batch_text(i), 1);
    first->finish();
    EXPECT_EQ(first->counters()->load().spool_batches, 5u);
    EXPECT_EQ(first->counters()->load().batches_dropped, 0u);
  }
  HttpReceiver receiver(port);
  ASSERT_TRUE(receiver.ok());
  auto second = HttpSink::open(c, error);
  ASSERT_NE(second, nullptr) << error;
  EXPECT_EQ(second->counters()->load().spool_batches + second->counters()->load().batches_replayed,
            5u);
  second->write(batch_text(5), 1);
  ASSERT_TRUE(receiver.wait_accepted(6, 10s));
  second->finish();
  const auto got = receiver.accepted();
  ASSERT_EQ(got.size(), 6u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(got[i].body, batch_text(i)) << i;
}

TEST(HttpSink, DropsAndCountsOnlyWhatTheSpoolCannotHold) {
  TempDir dir("flowgate-spool-test-");
  const uint16_t port = testing::free_tcp_port();
  HttpSinkConfig c =
      fast_config(HttpSinkKind::kJsonLines, "http://127.0.0.1:" + std::to_string(port) + "/");
  c.spool_dir = dir.path();
  c.shutdown_timeout_ms = 100;
  const std::string batch(1000, 'x');
  c.spool_max_bytes = 5500;  // five batches and their headers
  std::string error;
  auto sink = HttpSink::open(c, error);
  ASSERT_NE(sink, nullptr) << error;
  for (int i = 0; i < 8; ++i) sink->write(batch, 10);
  sink->finish();
  const SinkDelivery f = sink->counters()->load();
  EXPECT_EQ(f.spool_batches, 5u);
  EXPECT_EQ(f.batches_dropped, 3u);
  EXPECT_EQ(f.records_dropped, 30u);
  EXPECT_LE(f.spool_bytes, c.spool_max_bytes);
}

TEST(HttpSink, WithoutASpoolWhatCannotBeDeliveredAtShutdownIsCounted) {
  const uint16_t port = testing::free_tcp_port();
  HttpSinkConfig c =
      fast_config(HttpSinkKind::kJsonLines, "http://127.0.0.1:" + std::to_string(port) + "/");
  c.shutdown_timeout_ms = 100;
  std::string error;
  auto sink = HttpSink::open(c, error);
  ASSERT_NE(sink, nullptr) << error;
  for (int i = 0; i < 3; ++i) sink->write(batch_text(i), 2);
  sink->finish();
  const SinkDelivery f = sink->counters()->load();
  EXPECT_EQ(f.batches_sent, 0u);
  EXPECT_EQ(f.batches_dropped, 3u);
  EXPECT_EQ(f.records_dropped, 6u);
}

TEST(ClickhouseRows, FlattensNestedKeysAndAppendsBatchAndRow) {
  const std::string in =
      "{\"a\":1,\"source\":{\"ip\":\"1.2.3.4\",\"port\":\"*\"},\"ingress\":{\"interface\":"
      "{\"index\":7}},\"tcp_flags\":[\"SYN\",\"ACK\"],\"tag\":\"x,}{\\\"y\"}\n"
      "{\"a\":2}\n";
  std::string out;
  EXPECT_EQ(clickhouse_rows(in, 42, out), 2u);
  EXPECT_EQ(out,
            "{\"a\":1,\"source_ip\":\"1.2.3.4\",\"source_port\":\"*\","
            "\"ingress_interface_index\":7,\"tcp_flags\":[\"SYN\",\"ACK\"],"
            "\"tag\":\"x,}{\\\"y\",\"batch_id\":42,\"row\":0}\n"
            "{\"a\":2,\"batch_id\":42,\"row\":1}\n");
}

}  // namespace
}  // namespace flowgate::exporter
