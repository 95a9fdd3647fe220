#include "export/metrics_format.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "export/metrics_server.hpp"

namespace flowgate::exporter {
namespace {

MetricsSnapshot example() {
  MetricsSnapshot s;
  s.decode.datagrams = 7;
  s.decode.records = 210;
  s.decode.errors[static_cast<size_t>(decode::DecodeStatus::kTruncated)] = 2;
  s.workers.resize(2);
  s.workers[0].datagrams_received = 4;
  s.workers[1].datagrams_received = 3;
  s.workers[1].kernel_drops = 5;
  s.pipeline.written = 200;
  s.pipeline.aggregation_live_keys = 9;
  s.listeners = {"0.0.0.0:2055"};
  s.shards.resize(2);
  for (decode::ShardSnapshot& sh : s.shards) sh.listeners.resize(1);
  s.shards[0].listeners[0].datagrams = 4;
  s.shards[1].listeners[0].datagrams = 3;
  decode::ExporterRow a;
  a.address = decode::IpAddress::from_v4(0xc0000201);  // 192.0.2.1
  a.type = decode::FlowType::kNetflow9;
  a.domain = 7;
  a.datagrams = 5;
  a.records = 150;
  a.templates = 3;
  a.lost_records = 12;
  a.last_seen_ns = 1'700'000'000'123'000'000;
  a.sequence.resets = 1;
  s.shards[0].exporters.push_back(a);
  decode::ExporterRow b = a;  // same exporter from another source port: merged
  b.port = 9999;
  b.datagrams = 1;
  b.records = 10;
  b.last_seen_ns = 1'700'000'000'000'000'000;
  s.shards[1].exporters.push_back(b);
  decode::ExporterRow c;
  c.address = decode::IpAddress::from_v4(0xc0000202);  // 192.0.2.2, fewer records
  c.type = decode::FlowType::kSflow5;
  c.datagrams = 2;
  c.records = 20;
  s.shards[1].exporters.push_back(c);
  s.shards[0].templates_known = 4;
  decode::InterfaceCounters i;
  i.agent = c.address;
  i.if_index = 3;
  i.has_generic = true;
  i.generic.in_octets = 1000;
  i.generic.if_status = 3;
  s.shards[1].interfaces.push_back(i);
  SinkFigures f;
  f.name = "file:/tmp/a \"b\".jsonl";
  f.record(true, 2'000'000);   // 2 ms
  f.record(false, 30'000'000);  // 30 ms
  s.sinks.push_back(f);
  return s;
}

TEST(MetricsFormat, WritesSamplesWithLabels) {
  const std::string text = format_metrics(example());
  for (const char* line : {"flowgate_decode_datagrams_total 7\n",
                           "flowgate_decode_records_total 210\n",
                           "flowgate_decode_errors_total{reason=\"truncated\"} 2\n",
                           "flowgate_decode_errors_total{reason=\"bad_version\"} 0\n",
                           "flowgate_worker_datagrams_received_total{worker=\"0\"} 4\n",
                           "flowgate_worker_datagrams_received_total{worker=\"1\"} 3\n",
                           "flowgate_worker_kernel_drops_total{worker=\"1\"} 5\n",
                           "flowgate_pipeline_records_written_total 200\n",
                           "flowgate_aggregation_live_keys 9\n",
                           "# TYPE flowgate_aggregation_live_keys gauge\n",
                           "# TYPE flowgate_decode_errors_total counter\n",
                           "# HELP flowgate_decode_records_total flow records decoded\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
  EXPECT_EQ(text.find("reason=\"ok\""), std::string::npos);
}

// Exposition format 0.0.4: one HELP and one TYPE per family, before its samples; counters end
// in _total; every sample line is "name[{labels}] value".
TEST(MetricsFormat, EveryFamilyHasHelpAndTypeFirst) {
  std::istringstream in(format_metrics(example()));
  std::set<std::string> helped;
  std::set<std::string> typed;
  std::string line;
  size_t samples = 0;
  while (std::getline(in, line)) {
    ASSERT_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(helped.insert(name).second) << name;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      const std::string type = line.substr(line.rfind(' ') + 1);
      EXPECT_TRUE(typed.insert(name).second) << name;
      EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << line;
      if (type == "counter") {
        EXPECT_TRUE(name.ends_with("_total")) << name;
      }
      continue;
    }
    std::string name = line.substr(0, line.find_first_of("{ "));
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (name.ends_with(suffix) && typed.count(name) == 0) {
        name.resize(name.size() - std::string_view(suffix).size());
      }
    }
    EXPECT_TRUE(name.rfind("flowgate_", 0) == 0) << line;
    EXPECT_EQ(helped.count(name), 1u) << line;
    EXPECT_EQ(typed.count(name), 1u) << line;
    EXPECT_EQ(line.find_first_not_of("0123456789.e+-", line.rfind(' ') + 1), std::string::npos)
        << line;
    ++samples;
  }
  EXPECT_GT(samples, 40u);
}

TEST(MetricsFormat, PerExporterSeriesMergeShardsAndPorts) {
  const std::string text = format_metrics(example());
  const std::string l = "{exporter=\"192.0.2.1\",type=\"netflow9\",domain=\"7\"}";
  for (const std::string& line :
       {"flowgate_exporter_datagrams_total" + l + " 6\n",
        "flowgate_exporter_records_total" + l + " 160\n",
        "flowgate_exporter_templates" + l + " 6\n",
        "flowgate_exporter_lost_records_total" + l + " 24\n",
        "flowgate_exporter_sequence_resets_total" + l + " 2\n",
        "flowgate_exporter_last_seen_timestamp_seconds" + l + " 1700000000.123\n",
        std::string("flowgate_exporter_records_total{exporter=\"192.0.2.2\",type=\"sflow5\","
                    "domain=\"0\"} 20\n"),
        std::string("flowgate_listener_datagrams_total{listener=\"0.0.0.0:2055\"} 7\n"),
        std::string("flowgate_templates_known 4\n"),
        std::string("flowgate_sflow_interface_in_octets_total{agent=\"192.0.2.2\","
                    "if_index=\"3\"} 1000\n"),
        std::string("flowgate_sflow_interface_oper_up{agent=\"192.0.2.2\",if_index=\"3\"} 1\n")}) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
}

TEST(MetricsFormat, ExportersPastTheLimitAreSummedAsOther) {
  MetricsSnapshot s = example();
  s.max_exporters = 1;
  const std::string text = format_metrics(s);
  EXPECT_NE(text.find("flowgate_exporter_records_total{exporter=\"192.0.2.1\""), std::string::npos);
  EXPECT_EQ(text.find("exporter=\"192.0.2.2\""), std::string::npos);
  EXPECT_NE(text.find("flowgate_exporter_records_total{exporter=\"other\",type=\"other\","
                      "domain=\"other\"} 20\n"),
            std::string::npos);
}

TEST(MetricsFormat, SinkBatchesAndLatencyHistogram) {
  const std::string text = format_metrics(example());
  const std::string sink = "sink=\"file:/tmp/a \\\"b\\\".jsonl\"";  // quotes escaped
  for (const std::string& line :
       {"flowgate_sink_batches_total{" + sink + ",result=\"sent\"} 1\n",
        "flowgate_sink_batches_total{" + sink + ",result=\"dropped\"} 1\n",
        "flowgate_sink_batches_total{" + sink + ",result=\"retried\"} 0\n",
        "flowgate_sink_batch_latency_seconds_bucket{" + sink + ",le=\"0.001\"} 0\n",
        "flowgate_sink_batch_latency_seconds_bucket{" + sink + ",le=\"0.0025\"} 1\n",
        "flowgate_sink_batch_latency_seconds_bucket{" + sink + ",le=\"0.025\"} 1\n",
        "flowgate_sink_batch_latency_seconds_bucket{" + sink + ",le=\"0.05\"} 2\n",
        "flowgate_sink_batch_latency_seconds_bucket{" + sink + ",le=\"+Inf\"} 2\n",
        "flowgate_sink_batch_latency_seconds_sum{" + sink + "} 0.032\n",
        "flowgate_sink_batch_latency_seconds_count{" + sink + "} 2\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
}

// The alert rules may only use metric names that /metrics really exports: every flowgate_*
// name in config/prometheus/alerts.yml must be a family (or a histogram's series) here, even
// with no exporter seen yet.
// An HTTP sink's delivery figures replace the hand-over counts and add its own series.
TEST(MetricsFormat, HttpSinkDeliveryFigures) {
  MetricsSnapshot s;
  SinkFigures f;
  f.name = "clickhouse http://127.0.0.1:8123/";
  f.has_delivery = true;
  f.delivery.records_sent = 4096;
  f.delivery.spool_bytes = 123;
  f.delivery.batches_replayed = 2;
  f.sent = 4;
  s.sinks.push_back(f);
  const std::string text = format_metrics(s);
  const std::string l = "{sink=\"clickhouse http://127.0.0.1:8123/\"}";
  EXPECT_NE(text.find("flowgate_sink_records_sent_total" + l + " 4096\n"), std::string::npos) << text;
  EXPECT_NE(text.find("flowgate_sink_spool_bytes" + l + " 123\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE flowgate_sink_spool_bytes gauge"), std::string::npos);
  EXPECT_NE(text.find("flowgate_sink_batches_replayed_total" + l + " 2\n"), std::string::npos);
  EXPECT_NE(text.find("flowgate_sink_batches_total{sink=\"clickhouse http://127.0.0.1:8123/\",result=\"sent\"} 4"),
            std::string::npos);
}

TEST(MetricsFormat, DpdkExceptionPathCounters) {
  MetricsSnapshot snapshot;
  dataplane::DpdkFigures dpdk;
  dpdk.to_kernel = 7;
  dpdk.from_kernel = 5;
  dpdk.exception_drops = 2;
  dpdk.exception_rate_limited = 11;
  add_dpdk_samples(dpdk, snapshot);
  const std::string text = format_metrics(snapshot);
  EXPECT_NE(text.find("# TYPE flowgate_dpdk_exception_to_kernel_total counter\n"
                      "flowgate_dpdk_exception_to_kernel_total 7\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("flowgate_dpdk_exception_from_kernel_total 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("flowgate_dpdk_exception_drops_total 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("flowgate_dpdk_exception_rate_limited_total 11\n"), std::string::npos)
      << text;
}

TEST(MetricsFormat, ReassemblyDropsByReason) {
  MetricsSnapshot snapshot;
  snapshot.reassembly.completed = 9;
  snapshot.reassembly.overlaps = 3;
  snapshot.reassembly.too_big = 1;
  const std::string text = format_metrics(snapshot);
  EXPECT_NE(text.find("# TYPE flowgate_reassembly_overlaps_total counter\n"
                      "flowgate_reassembly_overlaps_total 3\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("flowgate_reassembly_completed_total 9\n"), std::string::npos) << text;
  EXPECT_NE(text.find("flowgate_reassembly_too_big_total 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("flowgate_reassembly_evicted_total 0\n"), std::string::npos) << text;
}

TEST(MetricsFormat, AggregationFiguresIncludeRollupUntracked) {
  MetricsSnapshot snapshot;
  snapshot.pipeline.aggregation_flushed_early = 12;
  snapshot.pipeline.rollup_untracked = 4;
  const std::string text = format_metrics(snapshot);
  EXPECT_NE(text.find("flowgate_aggregation_flushed_early_total 12\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE flowgate_aggregation_rollup_untracked_total counter\n"
                      "flowgate_aggregation_rollup_untracked_total 4\n"),
            std::string::npos) << text;
}

TEST(MetricsFormat, AlertRulesUseExportedNames) {
  MetricsSnapshot snapshot;
  dataplane::DpdkFigures dpdk;  // DPDK mode's families too
  dpdk.ports.push_back(dataplane::DpdkPortFigures{"net_pcap0"});
  add_dpdk_samples(dpdk, snapshot);
  const std::string text = format_metrics(snapshot);
  std::set<std::string> families;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) == 0) families.insert(line.substr(7, line.find(' ', 7) - 7));
  }
  std::ifstream rules(std::filesystem::path(FLOWGATE_SOURCE_DIR) / "config/prometheus/alerts.yml");
  ASSERT_TRUE(rules.good());
  const std::string yaml((std::istreambuf_iterator<char>(rules)), std::istreambuf_iterator<char>());
  size_t used = 0;
  for (size_t at = yaml.find("flowgate_"); at != std::string::npos;
       at = yaml.find("flowgate_", at + 1)) {
    if (at > 0 && (std::isalnum(static_cast<unsigned char>(yaml[at - 1])) || yaml[at - 1] == '_')) {
      continue;  // inside a longer word
    }
    const size_t end = yaml.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_", at);
    const std::string found = yaml.substr(at, end - at);
    std::string n = found;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (families.count(n) == 0 && n.ends_with(suffix)) {
        n.resize(n.size() - std::string_view(suffix).size());
      }
    }
    EXPECT_EQ(families.count(n), 1u) << found << " is used in alerts.yml but not exported";
    ++used;
  }
  EXPECT_GE(used, 4u);
}

TEST(MetricsServer, RoutesRequests) {
  const MetricsServer::Render render = [] { return std::string("x_total 1\n"); };
  const std::string metrics = MetricsServer::respond("GET /metrics HTTP/1.1\r\n\r\n", render);
  EXPECT_EQ(metrics.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_NE(metrics.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(metrics.find("Content-Length: 10\r\n"), std::string::npos);
  EXPECT_TRUE(metrics.ends_with("\r\n\r\nx_total 1\n"));
  EXPECT_TRUE(MetricsServer::respond("GET /metrics?x=1 HTTP/1.0\r\n\r\n", render)
                  .starts_with("HTTP/1.1 200"));
  EXPECT_TRUE(
      MetricsServer::respond("GET /healthz HTTP/1.1\r\n\r\n", render).ends_with("\r\n\r\nok\n"));
  EXPECT_TRUE(MetricsServer::respond("GET / HTTP/1.1\r\n\r\n", render).starts_with("HTTP/1.1 404"));
  EXPECT_TRUE(
      MetricsServer::respond("POST /metrics HTTP/1.1\r\n\r\n", render).starts_with("HTTP/1.1 405"));
  EXPECT_TRUE(MetricsServer::respond("garbage\r\n\r\n", render).starts_with("HTTP/1.1 400"));
  EXPECT_TRUE(MetricsServer::respond("GET /metrics\r\n\r\n", render).starts_with("HTTP/1.1 400"));
}

TEST(MetricsServer, AddedRoutesServeTheirContentType) {
  const MetricsServer::Render render = [] { return std::string("x_total 1\n"); };
  const std::vector<MetricsServer::Route> routes = {
      {"/", "text/html; charset=utf-8", [] { return std::string("<p>hi</p>"); }},
      {"/api/summary", "application/json", [] { return std::string("{}"); }}};
  const std::string page = MetricsServer::respond("GET / HTTP/1.1\r\n\r\n", render, routes);
  EXPECT_TRUE(page.starts_with("HTTP/1.1 200 OK\r\n"));
  EXPECT_NE(page.find("Content-Type: text/html; charset=utf-8\r\n"), std::string::npos);
  EXPECT_TRUE(page.ends_with("<p>hi</p>"));
  const std::string api =
      MetricsServer::respond("GET /api/summary?x=1 HTTP/1.1\r\n\r\n", render, routes);
  EXPECT_NE(api.find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_TRUE(api.ends_with("{}"));
  EXPECT_TRUE(MetricsServer::respond("GET /api/other HTTP/1.1\r\n\r\n", render, routes)
                  .starts_with("HTTP/1.1 404"));
}

}  // namespace
}  // namespace flowgate::exporter
