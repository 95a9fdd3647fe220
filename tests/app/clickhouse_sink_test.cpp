// The clickhouse sink against real ClickHouse servers (Debian's clickhouse-server, started by
// the test on loopback with temporary data directories): row counts, the Distributed scale-out
// layout, an outage of the server, a restart of flowgate with a non-empty spool.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "export/http_sink.hpp"
#include "tests/support/clickhouse_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace flowgate::exporter {
namespace {

using namespace std::chrono_literals;
using testing::ClickhouseServer;
using testing::TempDir;

const std::string kSourceDir = FLOWGATE_SOURCE_DIR;
const std::string kTableSql = kSourceDir + "/export/clickhouse/flows.sql";
const std::string kDistributedSql = kSourceDir + "/export/clickhouse/flows_distributed.sql";
const std::string kSamplePcap = std::string(FLOWGATE_TEST_DATA_DIR) + "/sample.pcap";
constexpr uint64_t kSampleRecords = 360;  // records in sample.pcap, without aggregation


struct RunResult {
  int status = -1;
  std::string output;
  uint64_t written = 0;
};

// Runs `flowgate --pcap sample.pcap --no-aggregate` with a clickhouse output to `url`.
RunResult run_flowgate_pcap(const TempDir& dir, const std::string& name, const std::string& url,
                            const std::string& spool_dir = "") {
  const std::string conf = dir.path() + "/" + name + ".conf";
  std::ofstream(conf) << "[[inputs.netflow]]\n"
                         "  [[inputs.netflow.listeners]]\n"
                         "  flow_type = \"auto\"\n"
                         "[[outputs]]\n"
                         "type = \"clickhouse\"\n"
                      << "url = \"" << url << "\"\n"
                      << "batch_records = 50\n"
                         "timeout = \"2s\"\n"
                         "gzip = true\n"
                         "shutdown_timeout = \"5s\"\n"
                      << (spool_dir.empty() ? "" : "spool_dir = \"" + spool_dir + "\"\n");
  const std::string cmd = std::string(FLOWGATE_BINARY) + " --pcap " + kSamplePcap + " -c " + conf +
                          " --no-aggregate 2>&1 >/dev/null";
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p) != nullptr) r.output += buf;
  r.status = pclose(p);
  if (const size_t at = r.output.find(" written="); at != std::string::npos) {
    r.written = std::strtoull(r.output.c_str() + at + 9, nullptr, 10);
  }
  return r;
}

uint64_t count(const ClickhouseServer& s, const std::string& sql) {
  const std::string r = s.query(sql);
  return r.empty() || r[0] < '0' || r[0] > '9' ? UINT64_MAX : std::stoull(r);
}

// scripts/setup.sh installs clickhouse-server, so a missing server is a failed set-up, not a
// reason to pass quietly.
#define REQUIRE_CLICKHOUSE()                                                          \
  if (!ClickhouseServer::available()) {                                               \
    FAIL() << ::flowgate::testing::kClickhouseBinary                                  \
           << " is missing: run scripts/setup.sh (installs clickhouse-server)";       \
  }

TEST(ClickhouseSink, RowCountEqualsTheRecordsFlowgateWrote) {
  REQUIRE_CLICKHOUSE();
  ClickhouseServer server;
  ASSERT_TRUE(server.start()) << server.log();
  ASSERT_EQ(server.run_file(kTableSql), "");
  TempDir dir("flowgate-ch-test-");
  const RunResult run = run_flowgate_pcap(dir, "a", server.url());
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_EQ(run.written, kSampleRecords) << run.output;
  EXPECT_EQ(count(server, "SELECT count() FROM flows FINAL"), kSampleRecords);
  EXPECT_EQ(count(server, "SELECT count() FROM flows"), kSampleRecords);
  // Nested record keys land in their flat columns.
  EXPECT_EQ(count(server,
                  "SELECT count() FROM flows WHERE source_ip != '' AND exporter_ip != '' "
                  "AND `end` > 0 AND type != ''"),
            kSampleRecords);
  EXPECT_GT(count(server, "SELECT count() FROM flows WHERE ingress_interface_index > 0"), 0u);
  // A top-talkers query of the kind the dashboard asks answers.
  EXPECT_NE(server
                .query("SELECT source_ip, sum(bytes) AS b FROM flows FINAL WHERE `end` > 0 "
                       "GROUP BY source_ip ORDER BY b DESC LIMIT 5")
                .rfind("ERROR", 0),
            0u);
}

// A retry after a lost acknowledgement sends rows ClickHouse already has: with FINAL they count
// once (ReplacingMergeTree on batch_id and row).
TEST(ClickhouseSink, ARetriedInsertDoesNotDoubleRows) {
  REQUIRE_CLICKHOUSE();
  ClickhouseServer server;
  ASSERT_TRUE(server.start()) << server.log();
  ASSERT_EQ(server.run_file(kTableSql), "");
  std::string rows;
  clickhouse_rows(
      "{\"flush_timestamp\":1,\"type\":\"ipfix\",\"end\":1700000000,\"exporter\":{\"ip\":\"10.0.0."
      "1\"},"
      "\"source\":{\"ip\":\"10.1.1.1\"}}\n"
      "{\"flush_timestamp\":1,\"type\":\"ipfix\",\"end\":1700000000,\"exporter\":{\"ip\":\"10.0.0."
      "1\"},"
      "\"source\":{\"ip\":\"10.1.1.1\"}}\n",
      77, rows);
  HttpSinkConfig c;
  c.kind = HttpSinkKind::kClickhouse;
  c.url = server.url();
  std::string error;
  auto sink = HttpSink::open(c, error);  // only for its INSERT URL
  ASSERT_NE(sink, nullptr);
  HttpClient client({5000, false, "text/plain"});
  ASSERT_TRUE(client.post(sink->post_url(), rows).ok());
  ASSERT_TRUE(client.post(sink->post_url(), rows).ok());
  sink->finish();
  EXPECT_EQ(count(server, "SELECT count() FROM flows"), 4u);        // both copies are stored ...
  EXPECT_EQ(count(server, "SELECT count() FROM flows FINAL"), 2u);  // ... and count once
}

// Scale-out: two ClickHouse servers, a Distributed table over both, two flowgate instances each
// writing to a different server: every row arrives, spread over both shards.
TEST(ClickhouseSink, TwoFlowgatesIntoADistributedTableOverTwoServers) {
  REQUIRE_CLICKHOUSE();
  ClickhouseServer a;
  ClickhouseServer b;
  a.set_cluster({a.tcp_port(), b.tcp_port()});
  b.set_cluster({a.tcp_port(), b.tcp_port()});
  ASSERT_TRUE(a.start()) << a.log();
  ASSERT_TRUE(b.start()) << b.log();
  ASSERT_EQ(a.run_file(kDistributedSql), "");
  ASSERT_EQ(b.run_file(kDistributedSql), "");
  TempDir dir("flowgate-ch-test-");
  RunResult ra;
  RunResult rb;
  std::thread ta([&] { ra = run_flowgate_pcap(dir, "a", a.url() + "?insert_distributed_sync=1"); });
  std::thread tb([&] { rb = run_flowgate_pcap(dir, "b", b.url() + "?insert_distributed_sync=1"); });
  ta.join();
  tb.join();
  ASSERT_EQ(ra.status, 0) << ra.output;
  ASSERT_EQ(rb.status, 0) << rb.output;
  EXPECT_NE(ra.output.find("dropped=0 batches"), std::string::npos) << ra.output;
  EXPECT_EQ(ra.written + rb.written, 2 * kSampleRecords);
  EXPECT_EQ(count(a, "SELECT count() FROM flows FINAL"), 2 * kSampleRecords);
  EXPECT_EQ(count(b, "SELECT count() FROM flows FINAL"), 2 * kSampleRecords);
  const uint64_t on_a = count(a, "SELECT count() FROM flows_local");
  const uint64_t on_b = count(b, "SELECT count() FROM flows_local");
  EXPECT_GT(on_a, 0u);
  EXPECT_GT(on_b, 0u);
  EXPECT_EQ(on_a + on_b, 2 * kSampleRecords);
}

// ClickHouse stops for 30 s in the middle of a stream and starts again: nothing is lost and
// nothing is doubled.
TEST(ClickhouseSink, LosesNothingWhenClickhouseIsDownFor30Seconds) {
  REQUIRE_CLICKHOUSE();
  ClickhouseServer server;
  ASSERT_TRUE(server.start()) << server.log();
  ASSERT_EQ(server.run_file(kTableSql), "");
  TempDir dir("flowgate-ch-test-");
  HttpSinkConfig c;
  c.kind = HttpSinkKind::kClickhouse;
  c.url = server.url();
  c.http.timeout_ms = 1000;
  c.retry_initial_ms = 50;
  c.retry_max_ms = 1000;
  c.spool_dir = dir.path() + "/spool";
  c.queue_batches = 8;
  std::string error;
  auto sink = HttpSink::open(c, error);
  ASSERT_NE(sink, nullptr) << error;

  constexpr int kRecordsPerBatch = 20;
  uint64_t sent = 0;
  uint64_t spooled_while_down = 0;
  std::string batch;
  const auto write_for = [&](std::chrono::seconds how_long) {
    const auto until = std::chrono::steady_clock::now() + how_long;
    while (std::chrono::steady_clock::now() < until) {
      batch.clear();
      for (int i = 0; i < kRecordsPerBatch; ++i) {
        batch += "{\"flush_timestamp\":" + std::to_string(sent) +
                 ",\"type\":\"netflow9\",\"end\":1700000000,\"bytes\":" + std::to_string(i) +
                 ",\"exporter\":{\"ip\":\"10.0.0.1\"},\"source\":{\"ip\":\"10.1.1." +
                 std::to_string(i) + "\",\"port\":\"80\"}}\n";
        ++sent;
      }
      sink->write(batch, kRecordsPerBatch);
      std::this_thread::sleep_for(100ms);
    }
  };
  const auto t0 = std::chrono::steady_clock::now();
  const auto since = [&t0] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  write_for(3s);
  // 30 s from SIGTERM to the restart. ClickHouse takes its time to stop while the sink's
  // keep-alive connection is open (~10 s here); that is part of the outage.
  const auto outage_end = std::chrono::steady_clock::now() + 30s;
  server.stop();
  const double stopped_at = since();
  write_for(std::chrono::duration_cast<std::chrono::seconds>(outage_end -
                                                             std::chrono::steady_clock::now()));
  spooled_while_down = sink->counters()->load().spool_batches;
  ASSERT_TRUE(server.start()) << server.log();
  const double restarted_at = since();
  const uint64_t replayed_before = sink->counters()->load().batches_replayed;
  write_for(3s);
  // Wait for the spool to drain (bounded).
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    const SinkDelivery f = sink->counters()->load();
    if (f.records_sent == sent) break;
    std::this_thread::sleep_for(100ms);
  }
  const double drained_at = since();
  std::fprintf(stderr,
               "outage: stopped at %.1fs, restarted at %.1fs, %llu batches spooled while down, "
               "all %llu records delivered at %.1fs (%.0f replayed batches/s)\n",
               stopped_at, restarted_at, static_cast<unsigned long long>(spooled_while_down),
               static_cast<unsigned long long>(sent), drained_at,
               static_cast<double>(sink->counters()->load().batches_replayed - replayed_before) /
                   (drained_at - restarted_at));
  sink->finish();
  const SinkDelivery f = sink->counters()->load();
  EXPECT_GT(spooled_while_down, 100u) << stopped_at;  // the outage really went through the spool
  EXPECT_EQ(f.records_sent, sent);
  EXPECT_EQ(f.records_dropped, 0u);
  EXPECT_EQ(f.spool_batches, 0u);
  EXPECT_EQ(count(server, "SELECT count() FROM flows FINAL"), sent);
}

// flowgate exits while ClickHouse is down: its batches stay in the spool. The next run
// delivers them, then its own.
TEST(ClickhouseSink, ARestartOfFlowgateWithANonEmptySpoolLosesNothing) {
  REQUIRE_CLICKHOUSE();
  ClickhouseServer server;
  TempDir dir("flowgate-ch-test-");
  const std::string spool = dir.path() + "/spool";
  const RunResult down = run_flowgate_pcap(dir, "down", server.url(), spool);
  ASSERT_EQ(down.status, 0) << down.output;
  EXPECT_EQ(down.written, kSampleRecords);
  EXPECT_NE(down.output.find("dropped=0 batches"), std::string::npos) << down.output;
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(spool)) files += e.is_regular_file();
  EXPECT_EQ(files, kSampleRecords / 50 + 1);  // batches of 50 records

  ASSERT_TRUE(server.start()) << server.log();
  ASSERT_EQ(server.run_file(kTableSql), "");
  const RunResult up = run_flowgate_pcap(dir, "up", server.url(), spool);
  ASSERT_EQ(up.status, 0) << up.output;
  EXPECT_EQ(count(server, "SELECT count() FROM flows FINAL"), 2 * kSampleRecords) << up.output;
  EXPECT_TRUE(std::filesystem::is_empty(spool));
}

}  // namespace
}  // namespace flowgate::exporter
