// The collector in socket mode as a user runs it: the real binary on free loopback ports, fed
// corpus datagrams by a paced UDP sender, stopped with signals. Its output file is checked
// against what `flowgate --pcap` writes for a capture of the same datagrams, as multisets of
// records (receive-time fields aside).

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "dataplane/pcap_source.hpp"
#include "tests/dataplane/frame_builder.hpp"
#include "tests/support/collector_harness.hpp"
#include "tests/support/corpus.hpp"
#include "tests/support/datagram_split.hpp"
#include "tests/support/http_receiver.hpp"
#include "tests/support/udp_port_holder.hpp"

namespace flowgate {
namespace {

using namespace flowgate::testing;

constexpr int kPaceEvery = 32;  // datagrams between sender pauses

// What /proc/net/udp and /proc/net/udp6 say about the sockets bound to some local ports.
struct UdpSocketState {
  size_t sockets = 0;
  uint64_t rx_queue = 0;  // bytes waiting to be read, summed
  uint64_t drops = 0;     // datagrams the kernel dropped, summed
};

UdpSocketState udp_sockets(const std::vector<uint16_t>& ports) {
  UdpSocketState s;
  for (const char* table : {"/proc/net/udp", "/proc/net/udp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // column names
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout
      // inode ref pointer drops
      std::istringstream fields(line);
      std::string sl, local, remote, st, queues, timer, retransmits, uid, timeout, inode, ref,
          pointer;
      uint64_t drops = 0;
      fields >> sl >> local >> remote >> st >> queues >> timer >> retransmits >> uid >> timeout >>
          inode >> ref >> pointer >> drops;
      const size_t colon = local.rfind(':');
      const size_t qcolon = queues.find(':');
      if (fields.fail() || colon == std::string::npos || qcolon == std::string::npos) continue;
      const auto port = static_cast<uint16_t>(std::stoul(local.substr(colon + 1), nullptr, 16));
      if (std::find(ports.begin(), ports.end(), port) == ports.end()) continue;
      ++s.sockets;
      s.rx_queue += std::stoull(queues.substr(qcolon + 1), nullptr, 16);
      s.drops += drops;
    }
  }
  return s;
}

// A UDP socket on 127.0.0.1 with a port of its own, so that the capture written for
// `flowgate --pcap` can name the same exporter address and port as the live run.
class Sender {
 public:
  Sender() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port_ = ntohs(a.sin_port);
    }
  }
  ~Sender() {
    if (fd_ >= 0) close(fd_);
  }
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  uint16_t port() const { return port_; }

  bool send(const Payload& p, uint16_t to_port) const {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(to_port);
    return sendto(fd_, p.data(), p.size(), 0, reinterpret_cast<const sockaddr*>(&a), sizeof a) ==
           static_cast<ssize_t>(p.size());
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

size_t line_count(const fs::path& file) {
  const std::string text = testing::read_text(file);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

struct ConfigOptions {
  uint16_t flow_port = 0;   // "auto" listener of the first input (NetFlow, IPFIX)
  uint16_t sflow_port = 0;  // sflow5 listener of the second input
  bool aggregate = false;
  fs::path output;
  uint64_t max_file_bytes = 0;
  uint32_t batch_records = 1024;
  std::string flush_interval = "100ms";  // of the file output's batches
  std::string extra_outputs;             // more [[outputs]] blocks, verbatim (live runs only)
  uint32_t max_keys = 0;                 // [aggregation] max_keys; 0: the default
  bool direct_io = false;                // the file output's direct_io
};

std::string config_text(const ConfigOptions& c) {
  std::ostringstream s;
  s << "[[inputs.netflow]]\n"
       "  namespace = \"lab\"\n"
       "  [[inputs.netflow.listeners]]\n"
       "    flow_type = \"auto\"\n"
       "    bind_host = \"127.0.0.1\"\n"
    << "    port = " << c.flow_port << "\n"
    << "  [inputs.netflow.tags]\n"
       "    site = \"lab-1\"\n"
       "    host = \"collector-test\"\n"
       "[[inputs.netflow]]\n"
       "  namespace = \"edge\"\n"
       "  [[inputs.netflow.listeners]]\n"
       "    flow_type = \"sflow5\"\n"
       "    bind_host = \"127.0.0.1\"\n"
    << "    port = " << c.sflow_port << "\n"
    << "  [inputs.netflow.tags]\n"
       "    role = \"edge\"\n"
       "[collector]\n"
       "workers = 2\n"
       "[aggregation]\n"
    << "enabled = " << (c.aggregate ? "true" : "false") << "\n"
    << "flush_interval = \"300s\"\n"  // nothing is due before shutdown, in either mode
    << (c.max_keys != 0 ? "max_keys = " + std::to_string(c.max_keys) + "\n" : std::string())
    << "[[outputs]]\n"
       "type = \"file\"\n"
    << "path = \"" << c.output.string() << "\"\n"
    << "max_file_bytes = " << c.max_file_bytes << "\n"
    << (c.direct_io ? "direct_io = true\n" : "")
    << "batch_records = " << c.batch_records << "\n"
    << "flush_interval = \"" << c.flush_interval << "\"\n"
    << c.extra_outputs << "[log]\n"
       "level = \"info\"\n";
  return s.str();
}

class LiveCollector : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("flowgate_live_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    options_.flow_port = free_udp_port();
    options_.sflow_port = free_udp_port();
    ASSERT_NE(options_.flow_port, 0);
    ASSERT_NE(options_.sflow_port, 0);
    ASSERT_NE(options_.flow_port, options_.sflow_port);
    ASSERT_NE(sender_.port(), 0);
    options_.output = dir_ / "flows.jsonl";
  }
  void TearDown() override {
    collector_.reset();  // kills a collector a failed test left running
    if (!HasFailure()) fs::remove_all(dir_);
  }

  std::vector<uint16_t> ports() const { return {options_.flow_port, options_.sflow_port}; }

  fs::path write_config(const std::string& name, const ConfigOptions& o) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << config_text(o);
    return p;
  }

  // Runs `flowgate --pcap` over a capture of `datagrams` with the live configuration (output
  // to its own file) and returns that file.
  fs::path pcap_run(const std::string& name, const std::vector<Datagram>& datagrams) {
    const fs::path capture = dir_ / (name + ".pcap");
    write_capture(capture, datagrams, sender_.port());
    ConfigOptions o = options_;
    o.output = dir_ / (name + ".expected.jsonl");
    o.max_file_bytes = 0;
    o.direct_io = false;
    o.extra_outputs.clear();
    run_pcap(capture, config_text(o), dir_, name + ".pcap");
    return o.output;
  }

  // Starts the collector and waits until it is listening with its signal handlers in place
  // (it logs "socket mode" after both).
  void start_collector() {
    const fs::path conf = write_config("live.conf", options_);
    collector_ = std::make_unique<Child>();
    ASSERT_TRUE(collector_->start({"-c", conf.string()}, dir_ / "live.out", live_err()));
    const bool ready = wait_for([&] {
      return collector_->exited() ||
             testing::read_text(live_err()).find("socket mode") != std::string::npos;
    });
    ASSERT_TRUE(ready) << "collector not ready: " << testing::read_text(live_err());
    ASSERT_FALSE(collector_->exited()) << testing::read_text(live_err());
    // Two workers, each with one socket per listener.
    ASSERT_EQ(udp_sockets(ports()).sockets, 4u);
    drops_at_start_ = udp_sockets(ports()).drops;
  }

  fs::path live_err() const { return dir_ / "live.err"; }

  // Sends every datagram from one socket, pausing every kPaceEvery datagrams and while the
  // collector's sockets hold more than a few hundred KiB, so that no receive buffer overflows.
  // Bounded: one pass over the list, and each pause is bounded.
  void send_paced(const std::vector<Datagram>& datagrams) {
    for (size_t i = 0; i < datagrams.size(); ++i) {
      ASSERT_TRUE(sender_.send(datagrams[i].payload, datagrams[i].port)) << "datagram " << i;
      if ((i + 1) % kPaceEvery == 0) {
        pause_ms(1);
        ASSERT_TRUE(wait_for([&] { return udp_sockets(ports()).rx_queue < (256u << 10); }))
            << "the collector stopped reading";
      }
    }
  }

  // Sends without pausing (the collector's receive buffers are large enough for a corpus).
  void send_burst(const std::vector<Datagram>& datagrams) {
    for (size_t i = 0; i < datagrams.size(); ++i) {
      ASSERT_TRUE(sender_.send(datagrams[i].payload, datagrams[i].port)) << "datagram " << i;
    }
  }

  // Waits until the collector's sockets are empty, then checks that the kernel dropped nothing.
  void wait_received() {
    ASSERT_TRUE(wait_for([&] { return udp_sockets(ports()).rx_queue == 0; }))
        << "datagrams left unread";
    ASSERT_EQ(udp_sockets(ports()).drops, drops_at_start_) << "the kernel dropped datagrams";
  }

  // SIGTERM, exit 0, and the exit summary line.
  ExitSummary stop_collector() {
    collector_->signal(SIGTERM);
    const std::optional<int> code = collector_->wait_exit();
    const std::string log = testing::read_text(live_err());
    EXPECT_EQ(code, 0) << log;
    const std::optional<ExitSummary> s = exit_summary(log);
    EXPECT_TRUE(s.has_value()) << log;
    EXPECT_EQ(s.value_or(ExitSummary{}).dropped, 0u) << log;
    return s.value_or(ExitSummary{});
  }

  // Live output equals the --pcap output of the same datagrams; both decoded every datagram
  // and covered each protocol.
  void run_end_to_end(bool aggregate) {
    options_.aggregate = aggregate;
    const std::vector<Datagram> datagrams = all_corpora(options_.flow_port, options_.sflow_port);
    const std::vector<std::string> expected = comparable_records(pcap_run("corpus", datagrams));

    ASSERT_NO_FATAL_FAILURE(start_collector());
    ASSERT_NO_FATAL_FAILURE(send_paced(datagrams));
    ASSERT_NO_FATAL_FAILURE(wait_received());
    const ExitSummary s = stop_collector();
    EXPECT_EQ(s.datagrams, datagrams.size());

    const std::vector<std::string> live = comparable_records(options_.output);
    EXPECT_EQ(s.written, live.size());
    if (aggregate) {
      EXPECT_LT(s.written, s.records);  // the corpus has flows to merge
      EXPECT_EQ(testing::read_text(live_err()).find("written early"), std::string::npos)
          << "the default table holds the corpus";
    } else {
      EXPECT_EQ(s.written, s.records);
    }
    EXPECT_EQ(live.size(), expected.size());
    EXPECT_TRUE(live == expected) << difference(expected, live);

    std::map<std::string, size_t> types;
    simdjson::dom::parser parser;
    std::istringstream in(testing::read_text(options_.output));
    std::string line;
    const std::string host = host_name();
    while (std::getline(in, line)) {
      simdjson::dom::object o = parser.parse(line).get_object().value();
      const std::string type(o["type"].get_string().value());
      ++types[type];
      std::string_view ns = o["device"]["namespace"].get_string().value();
      std::string_view site;
      std::string_view role;
      if (type == "sflow5") {
        EXPECT_EQ(ns, "edge");
        EXPECT_EQ(o["host"].get_string().value(), host);  // no host tag: the machine's name
        EXPECT_EQ(o["role"].get(role), simdjson::SUCCESS);
        EXPECT_EQ(role, "edge");
        EXPECT_NE(o["site"].get(site), simdjson::SUCCESS);
      } else {
        EXPECT_EQ(ns, "lab");
        EXPECT_EQ(o["host"].get_string().value(), "collector-test");  // the host tag wins
        EXPECT_EQ(o["site"].get(site), simdjson::SUCCESS);
        EXPECT_EQ(site, "lab-1");
        EXPECT_NE(o["role"].get(role), simdjson::SUCCESS);
      }
    }
    for (const char* t : {"netflow5", "netflow9", "ipfix", "sflow5"}) {
      EXPECT_GT(types[t], 0u) << "no " << t << " records";
    }
  }

  fs::path dir_;
  ConfigOptions options_;
  Sender sender_;
  std::unique_ptr<Child> collector_;
  uint64_t drops_at_start_ = 0;
};

TEST_F(LiveCollector, WritesWhatPcapModeWritesWithoutAggregation) { run_end_to_end(false); }

TEST_F(LiveCollector, WritesWhatPcapModeWritesWithAggregation) { run_end_to_end(true); }

// The file written past the page cache holds the same records, whole, after SIGTERM. On a
// memory file system flowgate says it writes through the page cache instead.
TEST_F(LiveCollector, WritesWhatPcapModeWritesThroughDirectIo) {
  options_.direct_io = true;
  run_end_to_end(false);
  struct statfs fs {};
  ASSERT_EQ(statfs(dir_.c_str(), &fs), 0);
  const bool memory = fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC;
  EXPECT_EQ(testing::read_text(live_err()).find("does not take O_DIRECT") != std::string::npos,
            memory)
      << testing::read_text(live_err());
}

// A table smaller than the traffic's keys writes keys early; the log says so, with the count
// and the key to raise, and the metric's counter agrees with the records written.
TEST_F(LiveCollector, WarnsWhenTheAggregationTableIsTooSmall) {
  options_.aggregate = true;
  options_.max_keys = 8;
  std::vector<Datagram> datagrams;
  add(datagrams, netflow5_corpus(), options_.flow_port);
  ASSERT_NO_FATAL_FAILURE(start_collector());
  ASSERT_NO_FATAL_FAILURE(send_paced(datagrams));
  ASSERT_NO_FATAL_FAILURE(wait_received());
  ASSERT_TRUE(wait_for([&] {
    return testing::read_text(live_err()).find("written early") != std::string::npos;
  })) << testing::read_text(live_err());
  const std::string log = testing::read_text(live_err());
  EXPECT_NE(log.find("aggregation table full"), std::string::npos) << log;
  EXPECT_NE(log.find("max_keys = 8 live keys"), std::string::npos) << log;
  EXPECT_NE(log.find("[aggregation] max_keys"), std::string::npos) << log;
  // What a key costs, as the README has it (410-470 bytes), not a few keys' huge pages.
  const std::optional<uint64_t> bytes_a_key = number_after(log, "(about ");
  ASSERT_TRUE(bytes_a_key.has_value()) << log;
  EXPECT_GE(*bytes_a_key, 350u) << log;
  EXPECT_LE(*bytes_a_key, 500u) << log;
  const ExitSummary s = stop_collector();
  EXPECT_GT(s.written, 8u) << "more keys than the table holds were written";
}

TEST_F(LiveCollector, WritesRecordsInFlightAtSigterm) {
  // A long batch interval: what was received sits in a worker's block, the ring or the batch
  // when SIGTERM comes, and must still reach the file.
  options_.flush_interval = "60s";
  options_.batch_records = 100'000;
  std::vector<Datagram> datagrams;
  add(datagrams, netflow9_corpus(), options_.flow_port);
  add(datagrams, netflow5_corpus(), options_.flow_port);
  add(datagrams, sflow_corpus(), options_.sflow_port);
  const std::vector<std::string> expected = comparable_records(pcap_run("burst", datagrams));
  ASSERT_GT(expected.size(), 0u);

  ASSERT_NO_FATAL_FAILURE(start_collector());
  ASSERT_NO_FATAL_FAILURE(send_burst(datagrams));
  const ExitSummary s = stop_collector();  // SIGTERM straight after the last send
  EXPECT_EQ(s.datagrams, datagrams.size());
  const std::vector<std::string> live = comparable_records(options_.output);
  EXPECT_EQ(s.written, live.size());
  EXPECT_EQ(live.size(), expected.size());
  EXPECT_TRUE(live == expected) << difference(expected, live);
}

// An http output beside the file: the collector's sink thread delivers every batch, retrying
// what the receiver refuses, and what is in flight at SIGTERM still arrives before the exit.
TEST_F(LiveCollector, DeliversToAnHttpOutputThroughRetriesAndSigterm) {
  testing::HttpReceiver receiver;
  ASSERT_TRUE(receiver.ok());
  receiver.answer_with({503, 503, 500});
  options_.flush_interval = "60s";
  options_.batch_records = 200;
  options_.extra_outputs = "[[outputs]]\ntype = \"http\"\nurl = \"" + receiver.url("/flows") +
                           "\"\nretry_max = \"200ms\"\n";
  std::vector<Datagram> datagrams;
  add(datagrams, netflow9_corpus(), options_.flow_port);
  add(datagrams, sflow_corpus(), options_.sflow_port);
  const std::vector<std::string> expected = comparable_records(pcap_run("http", datagrams));
  ASSERT_GT(expected.size(), 200u);

  ASSERT_NO_FATAL_FAILURE(start_collector());
  ASSERT_NO_FATAL_FAILURE(send_burst(datagrams));
  const ExitSummary s = stop_collector();
  EXPECT_EQ(s.datagrams, datagrams.size());
  EXPECT_EQ(s.dropped, 0u);
  const fs::path received = dir_ / "received.jsonl";
  {
    std::ofstream out(received);
    for (const testing::HttpRequest& r : receiver.accepted()) out << r.body;
  }
  const std::vector<std::string> got = comparable_records(received);
  EXPECT_EQ(got.size(), s.written);
  EXPECT_TRUE(got == expected) << difference(expected, got);
  EXPECT_EQ(receiver.requests().size(), receiver.accepted().size() + 3);
  EXPECT_NE(testing::read_text(live_err()).find("sent="), std::string::npos);
}

TEST_F(LiveCollector, SighupReopensTheOutputFile) {
  std::vector<Datagram> before;
  add(before, netflow9_corpus(), options_.flow_port);
  std::vector<Datagram> after;
  add(after, netflow5_corpus(), options_.flow_port);
  add(after, sflow_corpus(), options_.sflow_port);
  const std::vector<std::string> expected_before = comparable_records(pcap_run("before", before));
  const std::vector<std::string> expected_after = comparable_records(pcap_run("after", after));
  ASSERT_GT(expected_before.size(), 0u);
  ASSERT_GT(expected_after.size(), 0u);

  ASSERT_NO_FATAL_FAILURE(start_collector());
  ASSERT_NO_FATAL_FAILURE(send_paced(before));
  ASSERT_TRUE(wait_for([&] { return line_count(options_.output) >= expected_before.size(); }))
      << line_count(options_.output) << " of " << expected_before.size() << " records written";

  // logrotate: move the file away, then tell the collector.
  const fs::path rotated = dir_ / "flows.jsonl.old";
  fs::rename(options_.output, rotated);
  collector_->signal(SIGHUP);
  ASSERT_TRUE(wait_for([&] { return fs::exists(options_.output); }))
      << "no new file after SIGHUP: " << testing::read_text(live_err());

  ASSERT_NO_FATAL_FAILURE(send_paced(after));
  ASSERT_NO_FATAL_FAILURE(wait_received());
  const ExitSummary s = stop_collector();
  EXPECT_EQ(s.datagrams, before.size() + after.size());
  EXPECT_NE(testing::read_text(live_err()).find("output files reopened"), std::string::npos);

  const std::vector<std::string> old_file = comparable_records(rotated);
  const std::vector<std::string> new_file = comparable_records(options_.output);
  EXPECT_TRUE(old_file == expected_before) << difference(expected_before, old_file);
  EXPECT_TRUE(new_file == expected_after) << difference(expected_after, new_file);
}

TEST_F(LiveCollector, RotatesTheOutputFileBySize) {
  std::vector<Datagram> datagrams;
  add(datagrams, netflow9_corpus(), options_.flow_port);
  const fs::path expected_file = pcap_run("rotate", datagrams);
  const std::vector<std::string> expected = comparable_records(expected_file);
  // Small batches, and a limit between half and all of the output: exactly one rotation, so
  // flows.jsonl.1 and flows.jsonl together hold everything.
  const uint64_t total = fs::file_size(expected_file);
  options_.batch_records = 50;
  options_.max_file_bytes = total * 2 / 3;
  ASSERT_GT(expected.size(), 500u);

  ASSERT_NO_FATAL_FAILURE(start_collector());
  ASSERT_NO_FATAL_FAILURE(send_paced(datagrams));
  ASSERT_NO_FATAL_FAILURE(wait_received());
  const ExitSummary s = stop_collector();
  EXPECT_EQ(s.written, expected.size());

  const fs::path first = dir_ / "flows.jsonl.1";
  ASSERT_TRUE(fs::exists(first));
  ASSERT_TRUE(fs::exists(options_.output));
  EXPECT_FALSE(fs::exists(dir_ / "flows.jsonl.2"));
  EXPECT_LE(fs::file_size(first), options_.max_file_bytes);
  EXPECT_LE(fs::file_size(options_.output), options_.max_file_bytes);
  std::vector<std::string> both = comparable_records(first);
  for (std::string& r : comparable_records(options_.output)) both.push_back(std::move(r));
  std::sort(both.begin(), both.end());
  EXPECT_TRUE(both == expected) << difference(expected, both);
}

// A bound port means started: the aggregation tables are faulted in before the listeners are
// bound, so the first datagrams never wait for them in the socket buffer (where a long start-up
// on a VM whose memory was never touched overflowed it, and its CPU went to the first second of
// traffic).
TEST_F(LiveCollector, BindsItsListenersOnlyOnceItsTablesAreInMemory) {
  options_.aggregate = true;
  options_.max_keys = 1'000'000;  // 394 MiB of tables, faulted in at start
  const fs::path conf = write_config("bind.conf", options_);
  collector_ = std::make_unique<Child>();
  ASSERT_TRUE(collector_->start({"-c", conf.string()}, dir_ / "bind.out", live_err()));
  const auto rss_kib_now = [&]() -> uint64_t {
    const std::string status =
        testing::read_text("/proc/" + std::to_string(collector_->pid()) + "/status");
    const size_t at = status.find("VmRSS:");
    return at == std::string::npos ? 0 : std::stoull(status.substr(at + 6));
  };
  // Start-up first checks each port with a plain socket, bound and closed at once, before the
  // tables: a socket seen counts only if it is still there once the size has been read (the
  // tables take far longer to fault in than that), else the wait goes on.
  uint64_t rss_kib = 0;
  ASSERT_TRUE(wait_for([&] {
    if (collector_->exited()) return true;
    if (udp_sockets(ports()).sockets == 0) return false;
    const uint64_t rss = rss_kib_now();
    if (udp_sockets(ports()).sockets == 0) return false;
    rss_kib = rss;
    return true;
  })) << testing::read_text(live_err());
  ASSERT_FALSE(collector_->exited()) << testing::read_text(live_err());
  EXPECT_GE(rss_kib, uint64_t{380} << 10) << "bound before its tables were in memory";
  ASSERT_TRUE(wait_for([&] {
    return testing::read_text(live_err()).find("socket mode") != std::string::npos;
  })) << testing::read_text(live_err());
  stop_collector();
}

TEST_F(LiveCollector, FailsClearlyWhenThePortIsTaken) {
  // Whether the port is held by a plain socket or by another collector's SO_REUSEPORT socket
  // (which a second flowgate of the same user could otherwise join, splitting the datagrams
  // silently), start-up must fail with a clear message.
  for (const bool reuseport : {false, true}) {
    SCOPED_TRACE(reuseport ? "holder with SO_REUSEPORT" : "plain holder");
    int holder = -1;
    ASSERT_NO_FATAL_FAILURE(testing::hold_loopback_udp_port(reuseport, holder, options_.flow_port));

    const fs::path conf = write_config("taken.conf", options_);
    Child c;
    ASSERT_TRUE(c.start({"-c", conf.string()}, dir_ / "taken.out", dir_ / "taken.err"));
    const std::optional<int> code = c.wait_exit();
    close(holder);
    const std::string err = testing::read_text(dir_ / "taken.err");
    ASSERT_TRUE(code.has_value()) << "the collector kept running: " << err;
    EXPECT_EQ(*code, 1) << err;
    EXPECT_NE(err.find("cannot listen: 127.0.0.1:" + std::to_string(options_.flow_port) +
                       ": Address already in use"),
              std::string::npos)
        << err;
    EXPECT_FALSE(fs::exists(options_.output) && fs::file_size(options_.output) > 0);
  }
}

}  // namespace
}  // namespace flowgate
