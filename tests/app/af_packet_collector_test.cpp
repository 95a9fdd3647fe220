// The collector in af_packet mode as an operator runs it: inside a network namespace of the
// test's own, on one end of a veth pair, with captures replayed onto the other end by
// tcpreplay. Records are checked against what `flowgate --pcap` writes for the same capture,
// as multisets (receive-time fields aside); the filter, the fanout and fragment handling are
// checked by the figures a user would read on /metrics and from `ip -s link`.

#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>

#include <array>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "dataplane/bpf_programs.hpp"
#include "tests/dataplane/frame_builder.hpp"
#include "tests/support/collector_harness.hpp"
#include "tests/support/veth_namespace.hpp"

namespace flowgate {
namespace {

using namespace flowgate::testing;
namespace fb = dataplane::testing;

constexpr uint16_t kFlowPort = 2055;
constexpr uint16_t kSflowPort = 6343;
constexpr uint16_t kSenderPort = 40000;

std::vector<Datagram> corpus_datagrams() { return all_corpora(kFlowPort, kSflowPort); }

class AfPacketCollector : public ::testing::Test {
 protected:
  void SetUp() override {
    if (getuid() != 0) GTEST_SKIP() << "needs root for ip netns";
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("flowgate_afp_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    metrics_port_ = free_port(SOCK_STREAM);
    ASSERT_NE(metrics_port_, 0);
    ns_ = std::make_unique<VethNamespace>("fgafp" + std::to_string(getpid()));
    ASSERT_TRUE(ns_->ok()) << "cannot create a namespace with a veth pair";
  }
  void TearDown() override {
    collector_.reset();
    ns_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  std::string config_text(uint32_t workers, const fs::path& output, bool af_packet) const {
    std::ostringstream s;
    s << "[[inputs.netflow]]\n  namespace = \"lab\"\n"
         "  [[inputs.netflow.listeners]]\n    flow_type = \"auto\"\n"
      << "    port = " << kFlowPort << "\n"
      << "  [inputs.netflow.tags]\n    site = \"lab-1\"\n    host = \"collector-test\"\n"
         "[[inputs.netflow]]\n  namespace = \"edge\"\n"
         "  [[inputs.netflow.listeners]]\n    flow_type = \"sflow5\"\n"
      << "    port = " << kSflowPort << "\n"
      << "[collector]\nmode = \"" << (af_packet ? "af_packet" : "socket") << "\"\n"
      << "workers = " << workers << "\n" << collector_keys_
      << "[collector.af_packet]\ninterface = \"fgb\"\n" << ring_
      << "[aggregation]\nenabled = false\n"
         "[[outputs]]\ntype = \"file\"\n"
      << "path = \"" << output.string() << "\"\n"
      << "flush_interval = \"100ms\"\n"
         "[metrics]\n"
      << "listen = \"127.0.0.1:" << metrics_port_ << "\"\n";
    return s.str();
  }

  fs::path capture() const { return dir_ / "replay.pcap"; }
  // Each run its own log: a second run must not find the first one's "metrics on".
  fs::path err() const { return dir_ / ("afp" + std::to_string(runs_) + ".err"); }

  fs::path pcap_run() {
    const fs::path out = dir_ / "expected.jsonl";
    run_pcap(capture(), config_text(1, out, false), dir_);
    return out;
  }

  std::map<std::string, uint64_t> metrics() const {
    return metrics_samples(metrics_port_, ns_.get());
  }

  // Starts the collector in af_packet mode on fgb, replays the capture onto fga, waits until
  // the workers have taken `frames` frames and decoded `datagrams` datagrams, and stops it
  // with SIGTERM. Leaves the last /metrics samples in last_metrics_.
  fs::path live_run(uint32_t workers, size_t frames, size_t datagrams, int pps = 5000,
                    const fs::path& also = {}) {
    const fs::path out = dir_ / ("afp" + std::to_string(++runs_) + ".jsonl");
    const fs::path conf = dir_ / "afp.conf";
    std::ofstream(conf) << config_text(workers, out, true);
    collector_ = std::make_unique<Child>();
    std::vector<std::string> prefix = {"ip", "netns", "exec", ns_->name()};
    prefix.insert(prefix.end(), as_user_.begin(), as_user_.end());
    EXPECT_TRUE(collector_->start({"-c", conf.string()}, dir_ / "afp.out", err(), prefix));
    EXPECT_TRUE(wait_for([&] {
      return collector_->exited() || read_text(err()).find("metrics on") != std::string::npos;
    })) << read_text(err());
    EXPECT_TRUE(ns_->in("tcpreplay -q -i fga --pps " + std::to_string(pps) + " " +
                        capture().string() + " >/dev/null"));
    if (!also.empty()) {
      EXPECT_TRUE(ns_->in("tcpreplay -q -i fga --pps " + std::to_string(pps) + " " + also.string() +
                          " >/dev/null"));
    }
    const bool taken = wait_for([&] {
      if (collector_->exited()) return true;
      last_metrics_ = metrics();
      return sum_prefixed(last_metrics_, "flowgate_worker_rx_frames_total") >= frames &&
             sum_prefixed(last_metrics_, "flowgate_worker_datagrams_received_total") >= datagrams;
    });
    EXPECT_TRUE(taken) << "frames/datagrams not all taken: " << read_text(err());
    // Anything that should not have come (a frame the filter let through, a datagram twice)
    // would be in a block the kernel retires within the block timeout: look again after it.
    pause_ms(100);
    if (!collector_->exited()) last_metrics_ = metrics();
    EXPECT_FALSE(collector_->exited()) << read_text(err());
    EXPECT_NE(read_text(err()).find("af_packet mode: interface fgb, " + std::to_string(workers) +
                                    " worker(s)"),
              std::string::npos)
        << read_text(err());
    summary_ = expect_clean_exit(*collector_, err(), datagrams);
    EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_worker_rx_frames_total"), frames);
    return out;
  }

  void expect_same_records(const fs::path& expected_file, const fs::path& actual_file) {
    flowgate::testing::expect_same_records(expected_file, actual_file, summary_.written);
  }

  fs::path dir_;
  uint16_t metrics_port_ = 0;
  std::unique_ptr<VethNamespace> ns_;
  std::unique_ptr<Child> collector_;
  std::map<std::string, uint64_t> last_metrics_;
  ExitSummary summary_;
  int runs_ = 0;
  std::string ring_ = "blocks = 8\n";  // [collector.af_packet] ring keys
  std::string collector_keys_;            // more [collector] keys
  std::vector<std::string> as_user_;      // a command that runs the collector as another user
};

TEST_F(AfPacketCollector, CorpusReplayWritesWhatPcapModeWrites) {
  const std::vector<Datagram> datagrams = corpus_datagrams();
  const size_t frames = write_capture(capture(), datagrams, kSenderPort);
  const fs::path expected = pcap_run();
  expect_same_records(expected, live_run(1, frames, datagrams.size()));
  EXPECT_NE(read_text(err()).find("one worker, no fanout"), std::string::npos);
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_decode_errors_total"), 0u);
}

// 17 exporters, each sending the whole v9 + IPFIX corpus (templates included): the fanout
// program must give both workers exporters, keep every exporter on one worker (each worker's
// datagram count is then exactly what the source hash assigns it), miss no template, and
// write what the single-threaded --pcap run writes.
TEST_F(AfPacketCollector, FanoutKeepsEachExporterOnOneWorker) {
  const SpreadCorpus s = corpus_from_exporters(17, kFlowPort, [](const std::array<uint8_t, 4>& a) {
    return dataplane::fanout_worker(a, 2);
  });
  ASSERT_GT(s.per_worker[0], 0u);
  ASSERT_GT(s.per_worker[1], 0u);
  const size_t frames = write_capture(capture(), s.datagrams, kSenderPort);
  const fs::path expected = pcap_run();
  expect_same_records(expected, live_run(2, frames, s.datagrams.size(), 20000));
  EXPECT_NE(read_text(err()).find("hashes the IP source address"), std::string::npos);
  expect_datagrams_per_worker(last_metrics_, s.per_worker);
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_decode_errors_total"), 0u);
}

// Template persistence through the af_packet worker: a first run learns the v9 and IPFIX
// templates from the wire and saves them at shutdown; a restart that is sent only data decodes
// it from the first frame and writes what the first run wrote for the same data.
TEST_F(AfPacketCollector, ARestartDecodesDataFromTheFirstFrame) {
  collector_keys_ = "template_state = \"" + (dir_ / "templates.state").string() + "\"\n";
  std::vector<Datagram> all;
  std::vector<Datagram> data;
  add(all, file_payloads("goflow2/bin/netflow9_TestDecodeNetFlowV9_template_L14.bin"), kFlowPort);
  add(all, file_payloads("logstash-codec-netflow/dat/ipfix_test_mikrotik_tpl.dat"), kFlowPort);
  for (auto* to : {&all, &data}) {
    add(*to, file_payloads("goflow2/bin/netflow9_TestDecodeNetFlowV9_data_L118.bin"), kFlowPort);
    add(*to, file_payloads("logstash-codec-netflow/dat/ipfix_test_mikrotik_data258.dat"),
        kFlowPort);
  }

  size_t frames = write_capture(capture(), all, kSenderPort);
  const std::vector<std::string> first = comparable_records(live_run(1, frames, all.size()));
  ASSERT_GT(first.size(), 0u) << read_text(err());
  ASSERT_NE(read_text(err()).find("template state: saved"), std::string::npos) << read_text(err());

  frames = write_capture(capture(), data, kSenderPort);
  const std::vector<std::string> second = comparable_records(live_run(1, frames, data.size()));
  EXPECT_NE(read_text(err()).find("template state: loaded"), std::string::npos) << read_text(err());
  EXPECT_EQ(second, first) << difference(first, second);
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_decode_pending_buffered_total"), 0u);
}

// UDP to other ports, ICMP and TCP reach the veth (its rx_packets counts them) but never user
// space: the workers' frame counter holds only the listener datagrams and nothing is counted
// as "to a port no listener has".
TEST_F(AfPacketCollector, FilterKeepsOtherTrafficInTheKernel) {
  const std::vector<Datagram> listener = corpus_datagrams();
  std::vector<Datagram> all = listener;
  const Payload junk = fb::payload_of(200);
  for (uint16_t port : {53, 514, 2056, 4739, 9995}) {
    for (int i = 0; i < 20; ++i) all.push_back(Datagram{junk, port});
  }
  write_capture(capture(), all, kSenderPort);
  // ICMP and TCP frames, a second capture replayed after the first.
  std::vector<fb::PcapRecord> other;
  for (uint8_t protocol : {1, 6}) {
    fb::Ipv4Options o;
    o.protocol = protocol;
    for (int i = 0; i < 20; ++i) {
      const fb::Frame f = fb::ethernet(
          0x0800, fb::ipv4({10, 9, 9, 9}, {127, 0, 0, 1}, fb::udp(kSenderPort, kFlowPort, junk), o));
      other.push_back(fb::PcapRecord{1'750'000'000ull * 1'000'000'000 + other.size() * 1000, f, 0});
    }
  }
  const fs::path other_capture = dir_ / "other.pcap";
  fb::write_pcap(other_capture, 1, other);
  const uint64_t rx_before = ns_->rx_packets("fgb");
  const size_t non_listener = all.size() - listener.size();
  live_run(1, listener.size(), listener.size(), 5000, other_capture);
  EXPECT_GE(ns_->rx_packets("fgb") - rx_before, all.size() + other.size());
  EXPECT_EQ(last_metrics_["flowgate_worker_non_listener_total{worker=\"0\"}"], 0u);
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_worker_rx_frames_total"), listener.size());
  EXPECT_GT(non_listener, 0u);
}

// IPFIX datagrams sent as 512-byte IPv4 fragments arrive whole: with one worker the worker's
// reassembler puts them together; with two the kernel does before the fanout
// (PACKET_FANOUT_FLAG_DEFRAG), so the workers see one frame per datagram.
TEST_F(AfPacketCollector, FragmentedIpfixArrivesWhole) {
  std::vector<Datagram> datagrams;
  add(datagrams, ipfix_corpus(), kFlowPort);
  size_t large = 0;
  for (const Datagram& d : datagrams) large += d.payload.size() + 8 > 512 ? 1 : 0;
  ASSERT_GT(large, 10u) << "the IPFIX corpus should hold datagrams larger than one fragment";
  const size_t frames = write_capture(capture(), datagrams, kSenderPort, 512);
  ASSERT_GT(frames, datagrams.size());
  const fs::path expected = pcap_run();
  expect_same_records(expected, live_run(1, frames, datagrams.size()));
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_frames_reassembled_total"), large);

  collector_.reset();
  expect_same_records(expected, live_run(2, datagrams.size(), datagrams.size()));
  EXPECT_EQ(last_metrics_["flowgate_worker_datagrams_received_total{worker=\"" +
                         std::to_string(dataplane::fanout_worker(std::array<uint8_t, 4>{127, 0, 0, 1}, 2)) +
                         "\"}"],
            datagrams.size())
      << "one exporter, one worker";
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_frames_reassembled_total"), 0u);
}

// Exports behind an 802.1Q tag, behind 802.1ad + 802.1Q (QinQ), and over IPv6: the kernel takes
// the outer tag off before packet sockets see the frame, the filter and the fanout program
// find the IP header behind what is left, and the records equal the --pcap run's.
TEST_F(AfPacketCollector, TaggedAndIpv6ExportsPassTheFilterAndTheFanout) {
  std::vector<Payload> corpus = netflow9_corpus();
  for (Payload& p : ipfix_corpus()) corpus.push_back(std::move(p));
  const fb::V6 exporter6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x61};
  const fb::V6 collector6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};
  std::vector<fb::PcapRecord> records;
  auto put = [&](const fb::Frame& f) {
    records.push_back(fb::PcapRecord{1'750'000'000ull * 1'000'000'000 + records.size() * 1000, f, 0});
  };
  for (const Payload& p : corpus) {
    const fb::Frame udp = fb::udp(kSenderPort, kFlowPort, p);
    put(fb::ethernet(0x0800, fb::ipv4({10, 2, 0, 1}, {127, 0, 0, 1}, udp), {0x8100}));
    put(fb::ethernet(0x0800, fb::ipv4({10, 2, 0, 2}, {127, 0, 0, 1}, udp), {0x88a8, 0x8100}));
    put(fb::ethernet(0x86dd, fb::ipv6(exporter6, collector6, 17, udp), {0x88a8, 0x8100}));
  }
  fb::write_pcap(capture(), 1, records);
  std::array<uint64_t, 2> expected_per_worker{};
  expected_per_worker[dataplane::fanout_worker(std::array<uint8_t, 4>{10, 2, 0, 1}, 2)] += corpus.size();
  expected_per_worker[dataplane::fanout_worker(std::array<uint8_t, 4>{10, 2, 0, 2}, 2)] += corpus.size();
  expected_per_worker[dataplane::fanout_worker(exporter6, 2)] += corpus.size();
  const fs::path expected = pcap_run();
  expect_same_records(expected, live_run(2, records.size(), records.size(), 20000));
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_decode_errors_total"), 0u);
  for (int w = 0; w < 2; ++w) {
    const std::string key =
        "flowgate_worker_datagrams_received_total{worker=\"" + std::to_string(w) + "\"}";
    EXPECT_EQ(last_metrics_[key], expected_per_worker[static_cast<size_t>(w)]) << key;
  }
}

// CAP_NET_RAW is all it needs: as `nobody` with that one capability (ambient, as a container
// or a systemd unit with AmbientCapabilities grants it) it runs with two workers and writes
// what --pcap writes.
TEST_F(AfPacketCollector, RunsAsNobodyWithOnlyCapNetRaw) {
  if (getpwnam("nobody") == nullptr || getgrnam("nogroup") == nullptr) {
    GTEST_SKIP() << "no user nobody / group nogroup";
  }
  fs::permissions(dir_, fs::perms::all);  // the collector writes its output file here
  as_user_ = {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
              "--inh-caps=-all,+net_raw", "--ambient-caps=+net_raw"};
  const std::vector<Datagram> datagrams = corpus_datagrams();
  const size_t frames = write_capture(capture(), datagrams, kSenderPort);
  const fs::path expected = pcap_run();
  expect_same_records(expected, live_run(2, frames, datagrams.size()));
}

// A ring the worker cannot empty (the collector is stopped with SIGSTOP while the replay runs)
// fills, and the kernel drops the rest: every frame sent is then either taken or counted in
// flowgate_worker_kernel_drops_total (PACKET_STATISTICS tp_drops), and the exit summary's
// dropped says so.
TEST_F(AfPacketCollector, CountsWhatAFullRingDrops) {
  std::vector<Datagram> datagrams;
  for (int i = 0; i < 3; ++i) {
    for (Datagram& d : corpus_datagrams()) datagrams.push_back(std::move(d));
  }
  const size_t frames = write_capture(capture(), datagrams, kSenderPort);
  ring_ = "blocks = 2\nblock_size = 65536\n";
  const fs::path conf = dir_ / "afp.conf";
  ++runs_;
  std::ofstream(conf) << config_text(1, dir_ / "drops.jsonl", true);
  collector_ = std::make_unique<Child>();
  ASSERT_TRUE(collector_->start({"-c", conf.string()}, dir_ / "afp.out", err(),
                                {"ip", "netns", "exec", ns_->name()}));
  ASSERT_TRUE(wait_for([&] {
    return collector_->exited() || read_text(err()).find("metrics on") != std::string::npos;
  })) << read_text(err());
  ASSERT_FALSE(collector_->exited()) << read_text(err());
  collector_->signal(SIGSTOP);
  EXPECT_TRUE(ns_->in("tcpreplay -q -i fga --pps 20000 " + capture().string() + " >/dev/null"));
  collector_->signal(SIGCONT);
  uint64_t taken = 0, dropped = 0;
  EXPECT_TRUE(wait_for([&] {
    last_metrics_ = metrics();
    taken = sum_prefixed(last_metrics_, "flowgate_worker_rx_frames_total");
    dropped = sum_prefixed(last_metrics_, "flowgate_worker_kernel_drops_total");
    return taken + dropped >= frames;
  })) << "taken " << taken << " dropped " << dropped << " of " << frames;
  EXPECT_EQ(taken + dropped, frames);
  EXPECT_GT(dropped, 0u) << "two 64 KiB blocks cannot hold " << frames << " frames";
  EXPECT_GT(taken, 0u);
  collector_->signal(SIGTERM);
  EXPECT_EQ(collector_->wait_exit(), 0) << read_text(err());
  const std::optional<ExitSummary> s = exit_summary(read_text(err()));
  ASSERT_TRUE(s.has_value()) << read_text(err());
  EXPECT_EQ(s->datagrams, taken);
  EXPECT_EQ(s->dropped, dropped);
}

// Without CAP_NET_RAW the start-up error names the mode, the interface and the capability.
TEST(AfPacketCollectorPrivilege, NamesTheMissingCapability) {
  const passwd* nobody = getpwnam("nobody");
  if (nobody == nullptr) GTEST_SKIP() << "no user 'nobody' to run as";
  if (getuid() != 0) GTEST_SKIP() << "needs root to change to another user";
  const fs::path dir = fs::temp_directory_path() / ("flowgate_afp_priv_" + std::to_string(getpid()));
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::all);
  const fs::path conf = dir / "afp.conf";
  std::ofstream(conf) << "[[inputs.netflow]]\n[[inputs.netflow.listeners]]\nflow_type = \"ipfix\"\n"
                         "[collector]\nmode = \"af_packet\"\n[collector.af_packet]\ninterface = \"lo\"\n"
                         "[metrics]\nlisten = \"\"\n";
  fs::permissions(conf, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                            fs::perms::others_read);
  Child c;
  ASSERT_TRUE(c.start({"-c", conf.string()}, dir / "out", dir / "err",
                      {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                       "--inh-caps=-all", "--bounding-set=-all"}));
  EXPECT_EQ(c.wait_exit(), 1) << read_text(dir / "err");
  const std::string text = read_text(dir / "err");
  EXPECT_NE(text.find("af_packet mode needs CAP_NET_RAW to open a packet socket on lo"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("setcap cap_net_raw+ep"), std::string::npos) << text;
  fs::remove_all(dir);
}

// An interface that does not exist stops start-up with its name and the key that set it.
TEST(AfPacketCollectorStartup, NamesAMissingInterface) {
  const fs::path dir = fs::temp_directory_path() / ("flowgate_afp_if_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path conf = dir / "afp.conf";
  std::ofstream(conf) << "[[inputs.netflow]]\n[[inputs.netflow.listeners]]\nflow_type = \"ipfix\"\n"
                         "[collector]\nmode = \"af_packet\"\n[collector.af_packet]\n"
                         "interface = \"fgnosuch0\"\n[metrics]\nlisten = \"\"\n";
  Child c;
  ASSERT_TRUE(c.start({"-c", conf.string()}, dir / "out", dir / "err"));
  EXPECT_EQ(c.wait_exit(), 1) << read_text(dir / "err");
  EXPECT_NE(read_text(dir / "err").find(
                "no interface \"fgnosuch0\" ([collector.af_packet] interface)"),
            std::string::npos)
      << read_text(dir / "err");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace flowgate
