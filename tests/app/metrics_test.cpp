// The metrics endpoint as a user scrapes it: the real binary on free loopback ports, fed NetFlow
// v5 corpus datagrams, /metrics fetched over a plain TCP socket.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "dataplane/pcap_source.hpp"
#include "tests/support/collector_harness.hpp"
#include "tests/support/corpus.hpp"
#include "tests/support/datagram_split.hpp"

namespace flowgate {
namespace {

using namespace flowgate::testing;


class Metrics : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("flowgate_metrics_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    sender_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  }
  void TearDown() override {
    if (sender_ >= 0) close(sender_);
    if (!HasFailure()) fs::remove_all(dir_);
  }

  fs::path write_config(uint16_t flow_port, const std::string& listen,
                        const std::string& collector = "workers = 2\n") {
    const fs::path path = dir_ / "flowgate.conf";
    std::ofstream(path) << "[[inputs.netflow]]\n"
                           "  [[inputs.netflow.listeners]]\n"
                           "    flow_type = \"auto\"\n"
                           "    bind_host = \"127.0.0.1\"\n"
                        << "    port = " << flow_port << "\n"
                        << "[collector]\n" << collector
                        << "[aggregation]\nenabled = false\n"
                           "[[outputs]]\ntype = \"file\"\n"
                        << "path = \"" << (dir_ / "out.jsonl").string() << "\"\n"
                        << "flush_interval = \"50ms\"\n"
                           "[metrics]\n"
                        << "listen = \"" << listen << "\"\n";
    return path;
  }

  bool send(const Payload& p, uint16_t port) const {
    const sockaddr_in a = loopback(port);
    return sendto(sender_, p.data(), p.size(), 0, reinterpret_cast<const sockaddr*>(&a),
                  sizeof a) == static_cast<ssize_t>(p.size());
  }

  std::string log() const { return testing::read_text(dir_ / "stderr.log"); }

  fs::path dir_;
  int sender_ = -1;
};

TEST_F(Metrics, CountsWhatWasSentAndDecoded) {
  std::vector<Payload> datagrams;
  const std::vector<uint8_t> buf =
      testing::read_file(testing::corpus_dir() / "logstash-codec-netflow/dat/netflow5.dat");
  ASSERT_FALSE(buf.empty());
  for (auto d : testing::split_datagrams(buf)) datagrams.emplace_back(d.begin(), d.end());
  uint64_t records = 0;
  for (const Payload& d : datagrams) {
    ASSERT_GE(d.size(), 24u);
    records += (uint64_t{d[2]} << 8) | d[3];  // NetFlow v5 header: record count
  }
  ASSERT_GT(records, 0u);

  const uint16_t flow_port = free_port(SOCK_DGRAM);
  const uint16_t metrics_port = free_port(SOCK_STREAM);
  const fs::path conf = write_config(flow_port, "127.0.0.1:" + std::to_string(metrics_port));
  Child c;
  ASSERT_TRUE(c.start({"-c", conf.string()}, dir_ / "stdout.log", dir_ / "stderr.log"));
  ASSERT_TRUE(wait_for([&] { return http_get(metrics_port, "/healthz").status != 0; }))
      << log();

  const HttpReply health = http_get(metrics_port, "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  EXPECT_EQ(http_get(metrics_port, "/nothing-here").status, 404);

  const HttpReply before = http_get(metrics_port, "/metrics");
  ASSERT_EQ(before.status, 200);
  EXPECT_NE(before.body.find("# TYPE flowgate_decode_datagrams_total counter"), std::string::npos);
  EXPECT_EQ(samples(before.body).at("flowgate_decode_datagrams_total"), 0u);

  for (const Payload& d : datagrams) {
    ASSERT_TRUE(send(d, flow_port));
    pause_ms(1);
  }
  std::map<std::string, uint64_t> s;
  EXPECT_TRUE(wait_for([&] {
    s = metrics_samples(metrics_port);
    return s["flowgate_decode_datagrams_total"] == datagrams.size() &&
           s["flowgate_pipeline_records_written_total"] == records;
  })) << "datagrams " << s["flowgate_decode_datagrams_total"] << " of " << datagrams.size()
      << ", written " << s["flowgate_pipeline_records_written_total"] << " of " << records;
  EXPECT_EQ(s["flowgate_decode_records_total"], records);
  EXPECT_EQ(sum_prefixed(s, "flowgate_worker_datagrams_received_total"), datagrams.size());
  EXPECT_EQ(s.count("flowgate_worker_datagrams_received_total{worker=\"0\"}"), 1u);
  EXPECT_EQ(s.count("flowgate_worker_datagrams_received_total{worker=\"1\"}"), 1u);
  EXPECT_EQ(sum_prefixed(s, "flowgate_decode_errors_total"), 0u);
  EXPECT_EQ(sum_prefixed(s, "flowgate_worker_kernel_drops_total"), 0u);
  EXPECT_EQ(sum_prefixed(s, "flowgate_worker_ring_full_total"), 0u);
  // The same figures per listener and per export stream (the corpus is one v5 exporter, sent
  // from our one socket, so 127.0.0.1 with engine 0), and no sequence loss on loopback.
  const std::string listener = "{listener=\"127.0.0.1:" + std::to_string(flow_port) + "\"}";
  EXPECT_TRUE(wait_for([&] {
    s = metrics_samples(metrics_port);
    return s["flowgate_listener_records_total" + listener] == records;
  })) << s["flowgate_listener_records_total" + listener];
  EXPECT_EQ(s["flowgate_listener_datagrams_total" + listener], datagrams.size());
  EXPECT_EQ(sum_prefixed(s, "flowgate_exporter_records_total"), records);
  EXPECT_EQ(sum_prefixed(s, "flowgate_exporter_datagrams_total"), datagrams.size());
  EXPECT_EQ(s.count("flowgate_exporter_records_total{exporter=\"127.0.0.1\",type=\"netflow5\","
                    "domain=\"0\"}"),
            1u);
  EXPECT_EQ(sum_prefixed(s, "flowgate_sink_batches_total"),
            s["flowgate_sink_batches_total{sink=\"file:" + (dir_ / "out.jsonl").string() +
              "\",result=\"sent\"}"]);
  EXPECT_GT(sum_prefixed(s, "flowgate_sink_batch_latency_seconds_count"), 0u);

  // A v5 header announcing one record and carrying none.
  Payload truncated(24, 0);
  truncated[1] = 5;
  truncated[3] = 1;
  ASSERT_TRUE(send(truncated, flow_port));
  EXPECT_TRUE(wait_for([&] {
    s = metrics_samples(metrics_port);
    return s["flowgate_decode_errors_total{reason=\"truncated\"}"] == 1;
  })) << s["flowgate_decode_errors_total{reason=\"truncated\"}"];
  EXPECT_EQ(s["flowgate_decode_datagrams_total"], datagrams.size() + 1);
  EXPECT_EQ(s["flowgate_decode_records_total"], records);

  c.signal(SIGTERM);
  EXPECT_EQ(c.wait_exit(), std::optional<int>(0)) << log();
}

// Records lost on the way show up as lost-record estimates per exporter: a NetFlow v5 stream
// that skips a datagram's worth of flow sequence numbers.
TEST_F(Metrics, SequenceGapsAreCountedAsLostRecords) {
  const uint16_t flow_port = free_port(SOCK_DGRAM);
  const uint16_t metrics_port = free_port(SOCK_STREAM);
  const fs::path conf = write_config(flow_port, "127.0.0.1:" + std::to_string(metrics_port));
  Child c;
  ASSERT_TRUE(c.start({"-c", conf.string()}, dir_ / "stdout.log", dir_ / "stderr.log"));
  ASSERT_TRUE(wait_for([&] { return http_get(metrics_port, "/healthz").status != 0; })) << log();
  // v5 datagrams of 2 flows each; sequence 0, 2, then 10 (flows 4..9 lost), then 12.
  auto v5 = [](uint32_t sequence) {
    Payload d(24 + 2 * 48, 0);
    d[1] = 5;
    d[3] = 2;
    d[16] = static_cast<uint8_t>(sequence >> 24);
    d[17] = static_cast<uint8_t>(sequence >> 16);
    d[18] = static_cast<uint8_t>(sequence >> 8);
    d[19] = static_cast<uint8_t>(sequence);
    return d;
  };
  for (uint32_t seq : {0u, 2u, 10u, 12u}) {
    ASSERT_TRUE(send(v5(seq), flow_port));
    pause_ms(2);
  }
  const std::string l = "{exporter=\"127.0.0.1\",type=\"netflow5\",domain=\"0\"}";
  std::map<std::string, uint64_t> s;
  EXPECT_TRUE(wait_for([&] {
    s = metrics_samples(metrics_port);
    return s["flowgate_exporter_records_total" + l] == 8;
  })) << s["flowgate_exporter_records_total" + l];
  EXPECT_EQ(s["flowgate_exporter_lost_records_total" + l], 6u);
  EXPECT_EQ(s["flowgate_exporter_sequence_resets_total" + l], 0u);
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait_exit(), std::optional<int>(0)) << log();
}

// A worker that emptied its socket waits receive_coalesce before reading again, so datagrams
// that trickle in are read many to a recvmmsg call instead of one each: what
// flowgate_worker_receive_calls_total shows against the datagrams received.
TEST_F(Metrics, AWorkerReadsTricklingDatagramsInBatches) {
  const uint16_t flow_port = free_port(SOCK_DGRAM);
  const uint16_t metrics_port = free_port(SOCK_STREAM);
  const fs::path conf = write_config(flow_port, "127.0.0.1:" + std::to_string(metrics_port),
                                     "workers = 1\nreceive_coalesce = \"5ms\"\n");
  Child c;
  ASSERT_TRUE(c.start({"-c", conf.string()}, dir_ / "stdout.log", dir_ / "stderr.log"));
  ASSERT_TRUE(wait_for([&] { return http_get(metrics_port, "/healthz").status != 0; })) << log();
  // 400 NetFlow v5 datagrams of one flow, one every 100 us or more (a sender that falls behind
  // only sends them closer together).
  constexpr uint32_t kDatagrams = 400;
  for (uint32_t i = 0; i < kDatagrams; ++i) {
    Payload d(24 + 48, 0);
    d[1] = 5;
    d[3] = 1;
    d[19] = static_cast<uint8_t>(i);  // sequence (low byte; a wrap only counts a reset)
    ASSERT_TRUE(send(d, flow_port));
    const timespec gap{0, 100'000};
    nanosleep(&gap, nullptr);
  }
  std::map<std::string, uint64_t> s;
  EXPECT_TRUE(wait_for([&] {
    s = metrics_samples(metrics_port);
    return s["flowgate_worker_datagrams_received_total{worker=\"0\"}"] == kDatagrams;
  })) << s["flowgate_worker_datagrams_received_total{worker=\"0\"}"];
  const uint64_t calls = s["flowgate_worker_receive_calls_total{worker=\"0\"}"];
  EXPECT_GE(calls, 1u);
  // Read as they came, 400 datagrams take about 400 calls; 5 ms gathers dozens a call.
  EXPECT_LE(calls, kDatagrams / 4)
      << "datagrams a call: " << kDatagrams / std::max<uint64_t>(calls, 1);
  EXPECT_EQ(s["flowgate_worker_kernel_drops_total{worker=\"0\"}"], 0u);
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait_exit(), std::optional<int>(0)) << log();
}

// The wait is never longer than the receive buffer can absorb: a 64 KiB buffer (128 KiB granted)
// holds 32 datagrams, 64 us at 500,000 a second, and the log says so.
TEST_F(Metrics, TheCoalescingWaitFitsTheReceiveBuffer) {
  const uint16_t flow_port = free_port(SOCK_DGRAM);
  const fs::path conf = write_config(
      flow_port, "", "workers = 1\nreceive_coalesce = \"5ms\"\nreceive_buffer_bytes = 65536\n");
  Child c;
  ASSERT_TRUE(c.start({"-c", conf.string()}, dir_ / "stdout.log", dir_ / "stderr.log"));
  ASSERT_TRUE(wait_for([&] { return log().find("socket mode") != std::string::npos; })) << log();
  const std::string l = log();
  EXPECT_NE(l.find("[collector] receive_coalesce = 5ms lowered to "), std::string::npos) << l;
  const std::optional<uint64_t> us = number_after(l, "lowered to ");
  ASSERT_TRUE(us.has_value()) << l;
  EXPECT_GT(*us, 0u) << l;
  EXPECT_LT(*us, 5000u) << l;
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait_exit(), std::optional<int>(0)) << log();
}

// Runs headless Chromium on `url`; its stdout (the DOM with --dump-dom) and stderr (console
// messages with --enable-logging) go to files. False when it could not run or timed out.
bool run_chromium(const std::vector<std::string>& extra, const std::string& url,
                  const fs::path& dir, const fs::path& out, const fs::path& err) {
  const fs::path profile = dir / "chromium-profile";
  fs::create_directories(profile);
  std::vector<std::string> args = {"chromium", "--headless", "--no-sandbox", "--disable-gpu",
                                   "--disable-quic", "--no-first-run",
                                   "--disable-background-networking", "--disable-component-update",
                                   "--disable-sync", "--user-data-dir=" + profile.string(),
                                   "--enable-logging=stderr", "--v=0",
                                   // Lets the page's fetch of /api/summary finish before the DOM
                                   // is dumped.
                                   "--virtual-time-budget=5000"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(url);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string out_path = out.string();
  const std::string err_path = err.string();
  const pid_t pid = fork();
  if (pid == 0) {
    const int o = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || e < 0 || dup2(o, STDOUT_FILENO) < 0 || dup2(e, STDERR_FILENO) < 0) _exit(126);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  if (pid < 0) return false;
  int status = 0;
  const bool done = wait_for([&] { return waitpid(pid, &status, WNOHANG) == pid; },
                             milliseconds(90'000));
  if (!done) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return false;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// The text of the first `<td class="label" ...>` cell of the table with this id in a dumped DOM.
std::string first_label(const std::string& dom, const std::string& table_id) {
  const size_t table = dom.find("<table id=\"" + table_id + "\"");
  if (table == std::string::npos) return "";
  const size_t at = dom.find("<td class=\"label\"", table);
  const size_t end = dom.find("</table>", table);
  if (at == std::string::npos || at > end) return "";
  const size_t text = dom.find('>', at) + 1;
  return dom.substr(text, dom.find('<', text) - text);
}

// The labels that share the largest byte total in the written records, keyed by `key`.
std::set<std::string> top_by_bytes(const fs::path& jsonl,
                                   const std::function<std::string(simdjson::dom::element)>& key) {
  std::map<std::string, uint64_t> bytes;
  simdjson::dom::parser parser;
  std::ifstream in(jsonl);
  for (std::string line; std::getline(in, line);) {
    simdjson::dom::element r;
    if (parser.parse(line).get(r) != simdjson::SUCCESS) continue;
    bytes[key(r)] += uint64_t(r["bytes"]);
  }
  uint64_t max = 0;
  for (const auto& [k, v] : bytes) max = std::max(max, v);
  std::set<std::string> top;
  for (const auto& [k, v] : bytes) {
    if (v == max) top.insert(k);
  }
  return top;
}

// The dashboard as a user sees it: flowgate fed the sample capture, the page at / loaded in
// headless Chromium, its panels showing the busiest entries of what was written, and no
// script or console error. FLOWGATE_DASHBOARD_SCREENSHOT=path also saves a screenshot
// (docs/dashboard.png comes from this).
TEST_F(Metrics, DashboardShowsTheTopEntriesInChromium) {
  std::vector<Payload> datagrams;
  dataplane::PcapSource source;
  ASSERT_EQ(source.open(std::string(FLOWGATE_TEST_DATA_DIR) + "/sample.pcap"),
            dataplane::PcapStatus::kOk);
  source.run([&](const dataplane::UdpDatagram& d) {
    const auto* p = reinterpret_cast<const uint8_t*>(d.payload.data());
    datagrams.emplace_back(p, p + d.payload.size());
  });
  ASSERT_EQ(datagrams.size(), 20u);

  const uint16_t flow_port = free_port(SOCK_DGRAM);
  const uint16_t metrics_port = free_port(SOCK_STREAM);
  const fs::path conf = write_config(flow_port, "127.0.0.1:" + std::to_string(metrics_port));
  Child c;
  ASSERT_TRUE(c.start({"-c", conf.string()}, dir_ / "stdout.log", dir_ / "stderr.log"));
  ASSERT_TRUE(wait_for([&] { return http_get(metrics_port, "/healthz").status != 0; })) << log();
  for (const Payload& d : datagrams) {
    ASSERT_TRUE(send(d, flow_port));
    pause_ms(1);
  }
  // Everything decoded and written: the window and the output file hold the same records.
  std::string summary;
  EXPECT_TRUE(wait_for([&] {
    summary = http_get(metrics_port, "/api/summary").body;
    return summary.find("\"written\":360") != std::string::npos;
  })) << summary;
  EXPECT_NE(summary.find("\"window\":{\"bytes\":"), std::string::npos) << summary;

  const std::string url = "http://127.0.0.1:" + std::to_string(metrics_port) + "/";
  ASSERT_TRUE(run_chromium({"--dump-dom"}, url, dir_, dir_ / "dom.html", dir_ / "chromium.log"))
      << "chromium (scripts/setup.sh installs it) failed:\n"
      << testing::read_text(dir_ / "chromium.log");
  const std::string dom = testing::read_text(dir_ / "dom.html");
  const std::string console = testing::read_text(dir_ / "chromium.log");
  EXPECT_NE(dom.find("data-state=\"ready\""), std::string::npos) << dom;
  EXPECT_NE(dom.find("<pre id=\"errors\"></pre>"), std::string::npos) << dom;
  EXPECT_EQ(console.find(":CONSOLE"), std::string::npos) << console;  // any console message
  EXPECT_EQ(console.find("Uncaught"), std::string::npos) << console;

  const fs::path out = dir_ / "out.jsonl";
  const auto src = top_by_bytes(out, [](simdjson::dom::element r) {
    return std::string(std::string_view(r["source"]["ip"]));
  });
  const auto dst = top_by_bytes(out, [](simdjson::dom::element r) {
    return std::string(std::string_view(r["destination"]["ip"]));
  });
  const auto dport = top_by_bytes(out, [](simdjson::dom::element r) {
    return std::string(std::string_view(r["destination"]["port"]));
  });
  const auto sport = top_by_bytes(out, [](simdjson::dom::element r) {
    return std::string(std::string_view(r["source"]["port"]));
  });
  EXPECT_EQ(src.count(first_label(dom, "top-sources")), 1u) << first_label(dom, "top-sources");
  EXPECT_EQ(dst.count(first_label(dom, "top-destinations")), 1u)
      << first_label(dom, "top-destinations");
  EXPECT_EQ(dport.count(first_label(dom, "top-destination-ports")), 1u)
      << first_label(dom, "top-destination-ports");
  EXPECT_EQ(sport.count(first_label(dom, "top-source-ports")), 1u)
      << first_label(dom, "top-source-ports");
  // NetFlow and IPFIX name the UDP source as the device: our sender on loopback.
  EXPECT_NE(dom.find("<td class=\"device\">127.0.0.1</td>"), std::string::npos);
  // The capture's three protocols, and the exporter table with its streams and templates.
  for (const char* type : {">netflow5<", ">netflow9<", ">ipfix<"}) {
    EXPECT_NE(dom.find(type), std::string::npos) << type;
  }
  EXPECT_NE(dom.find("<span class=\"health ok\">ok</span>"), std::string::npos);

  if (const char* shot = std::getenv("FLOWGATE_DASHBOARD_SCREENSHOT")) {
    EXPECT_TRUE(run_chromium({"--screenshot=" + std::string(shot), "--window-size=1280,1500",
                              "--hide-scrollbars"},
                             url, dir_, dir_ / "shot.out", dir_ / "shot.log"))
        << testing::read_text(dir_ / "shot.log");
  }
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait_exit(), std::optional<int>(0)) << log();
}

TEST_F(Metrics, RefusesToStartWhenTheConfiguredAddressIsTaken) {
  const int holder = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(holder, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(holder, 1), 0);
  ASSERT_EQ(getsockname(holder, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const uint16_t taken = ntohs(a.sin_port);

  const fs::path conf = write_config(free_port(SOCK_DGRAM), "127.0.0.1:" + std::to_string(taken));
  Child c;
  ASSERT_TRUE(c.start({"-c", conf.string()}, dir_ / "stdout.log", dir_ / "stderr.log"));
  EXPECT_EQ(c.wait_exit(), std::optional<int>(1));
  EXPECT_NE(log().find("cannot serve metrics ([metrics] listen): 127.0.0.1:" +
                       std::to_string(taken) + ": Address already in use"),
            std::string::npos)
      << log();
  close(holder);
}

TEST_F(Metrics, EmptyListenDisablesTheEndpoint) {
  const uint16_t flow_port = free_port(SOCK_DGRAM);
  const fs::path conf = write_config(flow_port, "");
  Child c;
  ASSERT_TRUE(c.start({"-c", conf.string()}, dir_ / "stdout.log", dir_ / "stderr.log"));
  EXPECT_TRUE(wait_for([&] { return log().find("metrics endpoint disabled") != std::string::npos; }))
      << log();
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait_exit(), std::optional<int>(0)) << log();
}

}  // namespace
}  // namespace flowgate
