#include "export/metrics_format.hpp"

#include <gtest/gtest.h>

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
      EXPECT_TRUE(type == "counter" || type == "gauge") << line;
      if (type == "counter") {
        EXPECT_TRUE(name.ends_with("_total")) << name;
      }
      continue;
    }
    const std::string name = line.substr(0, line.find_first_of("{ "));
    EXPECT_TRUE(name.rfind("flowgate_", 0) == 0) << line;
    EXPECT_EQ(helped.count(name), 1u) << line;
    EXPECT_EQ(typed.count(name), 1u) << line;
    EXPECT_EQ(line.find_first_not_of("0123456789", line.rfind(' ') + 1), std::string::npos)
        << line;
    ++samples;
  }
  EXPECT_GT(samples, 40u);
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

}  // namespace
}  // namespace flowgate::exporter
