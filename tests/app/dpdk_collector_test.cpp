// The collector in DPDK mode as an operator runs it, on the vdevs that work on these machines
// (DPDK_NOTES.md): captures replayed through net_pcap, two workers behind software RSS on two
// CPUs, chained mbufs from a small data room, fragmented IPFIX, and ARP / ICMP echo / IPv6
// neighbour solicitations answered into the vdev's tx_pcap. Records are checked against what
// `flowgate --pcap` writes for the same capture, as multisets (receive-time fields aside).

#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "dataplane/control_responder.hpp"
#include "dataplane/dpdk_options.hpp"
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

struct DpdkRun {
  bool aggregate = false;
  uint32_t workers = 1;
  uint32_t mbuf_data_room = 0;
  std::string addresses;  // TOML array body, e.g. "\"192.0.2.10\", \"2001:db8::10\""
  bool tx_pcap = false;
  std::string device;     // instead of net_pcap on the capture
  std::string extra;      // more [collector.dpdk] lines
  std::string netns;      // run the collector in this network namespace
};

std::vector<Datagram> corpus_datagrams() { return all_corpora(kFlowPort, kSflowPort); }

class DpdkCollector : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("flowgate_dpdk_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    metrics_port_ = free_port(SOCK_STREAM);
    ASSERT_NE(metrics_port_, 0);
  }
  void TearDown() override {
    collector_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  std::string config_text(const DpdkRun& r, const fs::path& output, bool dpdk) const {
    std::ostringstream s;
    s << "[[inputs.netflow]]\n  namespace = \"lab\"\n"
         "  [[inputs.netflow.listeners]]\n    flow_type = \"auto\"\n"
      << "    port = " << kFlowPort << "\n"
      << "  [inputs.netflow.tags]\n    site = \"lab-1\"\n    host = \"collector-test\"\n"
         "[[inputs.netflow]]\n  namespace = \"edge\"\n"
         "  [[inputs.netflow.listeners]]\n    flow_type = \"sflow5\"\n"
      << "    port = " << kSflowPort << "\n"
      << "[collector]\nmode = \"" << (dpdk ? "dpdk" : "socket") << "\"\n"
      << "[collector.dpdk]\n"
      << "devices = [\"";
    if (r.device.empty()) {
      s << "net_pcap0,rx_pcap=" << capture().string();
      if (r.tx_pcap) s << ",tx_pcap=" << replies().string();
    } else {
      s << r.device;
    }
    s << "\"]\n" << r.extra;
    if (r.workers == 2) {
      // Four lcores on the two CPUs: exporter and one worker on each, the dispatcher with
      // worker 1. Idle pollers back off, so they share the CPUs.
      s << "worker_lcores = [1, 2]\ndispatch_lcore = 3\n"
           "eal_args = [\"--lcores=0@0,1@1,2@0,3@1\"]\n";
    }
    if (r.mbuf_data_room != 0) s << "mbuf_data_room = " << r.mbuf_data_room << "\n";
    if (!r.addresses.empty()) s << "addresses = [" << r.addresses << "]\n";
    s << "[aggregation]\nenabled = " << (r.aggregate ? "true" : "false")
      << "\nflush_interval = \"300s\"\n"
         "[[outputs]]\ntype = \"file\"\n"
      << "path = \"" << output.string() << "\"\n"
      << "flush_interval = \"100ms\"\n"
         "[metrics]\n"
      << "listen = \"127.0.0.1:" << metrics_port_ << "\"\n";
    return s.str();
  }

  fs::path capture() const { return dir_ / "replay.pcap"; }
  fs::path replies() const { return dir_ / "replies.pcap"; }
  fs::path err() const { return dir_ / "dpdk.err"; }

  // `flowgate --pcap` over the capture with the same configuration; its output file.
  fs::path pcap_run(const DpdkRun& r) {
    const fs::path out = dir_ / "expected.jsonl";
    run_pcap(capture(), config_text(r, out, false), dir_);
    return out;
  }

  std::map<std::string, uint64_t> metrics() const {
    return metrics_samples(metrics_port_, netns_);
  }

  // Runs the collector in DPDK mode until its workers have taken every frame of the capture
  // and decoded `datagrams` datagrams, then stops it with SIGTERM. `feed` runs once the
  // collector is up (a replay onto a veth). Returns the output file and leaves the last
  // /metrics samples in last_metrics_.
  fs::path dpdk_run(const DpdkRun& r, size_t frames, size_t datagrams,
                    const std::function<void()>& feed = [] {}) {
    const fs::path out = dir_ / "dpdk.jsonl";
    const fs::path conf = dir_ / "dpdk.conf";
    std::ofstream(conf) << config_text(r, out, true);
    collector_ = std::make_unique<Child>();
    std::vector<std::string> prefix;
    if (!r.netns.empty()) prefix = {"ip", "netns", "exec", r.netns};
    EXPECT_TRUE(collector_->start({"-c", conf.string()}, dir_ / "dpdk.out", err(), prefix));
    EXPECT_TRUE(wait_for([&] {
      return collector_->exited() || read_text(err()).find("metrics on") != std::string::npos;
    })) << read_text(err());
    feed();
    const bool taken = wait_for([&] {
      if (collector_->exited()) return true;
      last_metrics_ = metrics();
      return sum_prefixed(last_metrics_, "flowgate_worker_rx_frames_total") == frames &&
             sum_prefixed(last_metrics_, "flowgate_worker_datagrams_received_total") == datagrams;
    });
    EXPECT_TRUE(taken) << "frames/datagrams not all taken: " << read_text(err());
    EXPECT_FALSE(collector_->exited()) << read_text(err());
    EXPECT_NE(read_text(err()).find("dpdk mode:"), std::string::npos) << read_text(err());
    summary_ = expect_clean_exit(*collector_, err(), datagrams);
    return out;
  }

  void expect_same_records(const fs::path& expected_file, const fs::path& actual_file) {
    flowgate::testing::expect_same_records(expected_file, actual_file, summary_.written);
  }

  void run_corpus(DpdkRun r, size_t fragment_bytes = 0) {
    const std::vector<Datagram> datagrams = corpus_datagrams();
    const size_t frames = write_capture(capture(), datagrams, kSenderPort, fragment_bytes);
    const fs::path expected = pcap_run(r);
    expect_same_records(expected, dpdk_run(r, frames, datagrams.size()));
  }

  fs::path dir_;
  uint16_t metrics_port_ = 0;
  const VethNamespace* netns_ = nullptr;  // where /metrics is reached, when not here
  std::unique_ptr<Child> collector_;
  std::map<std::string, uint64_t> last_metrics_;
  ExitSummary summary_;
};

TEST_F(DpdkCollector, NetPcapReplayWritesWhatPcapModeWritesWithoutAggregation) {
  run_corpus(DpdkRun{});
  EXPECT_EQ(summary_.written, summary_.records);
}

TEST_F(DpdkCollector, NetPcapReplayWritesWhatPcapModeWritesWithAggregation) {
  DpdkRun r;
  r.aggregate = true;
  run_corpus(r);
  EXPECT_LT(summary_.written, summary_.records);  // the corpus has flows to merge
}

TEST_F(DpdkCollector, ReassemblesFragmentedIpfixDatagrams) {
  std::vector<Datagram> datagrams;
  add(datagrams, ipfix_corpus(), kFlowPort);
  size_t large = 0;
  for (const Datagram& d : datagrams) large += d.payload.size() + 8 > 512 ? 1 : 0;
  ASSERT_GT(large, 10u) << "the IPFIX corpus should hold datagrams larger than one fragment";
  const size_t frames = write_capture(capture(), datagrams, kSenderPort, 512);
  ASSERT_GT(frames, datagrams.size());
  const fs::path expected = pcap_run(DpdkRun{});
  expect_same_records(expected, dpdk_run(DpdkRun{}, frames, datagrams.size()));
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_frames_reassembled_total"), large);
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_reassembly_completed_total"), large);
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_reassembly_overlaps_total"), 0u);
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_reassembly_timed_out_total"), 0u);
}

TEST_F(DpdkCollector, ReadsChainedMbufsFromASmallDataRoom) {
  DpdkRun r;
  r.mbuf_data_room = 256;
  run_corpus(r);
  EXPECT_GT(sum_prefixed(last_metrics_, "flowgate_worker_multi_segment_total"), 0u);
}

// 17 exporters, each sending the whole v9 + IPFIX corpus (templates included): software RSS on
// two workers must give both workers exporters, keep every exporter on one worker (each
// worker's datagram count is then a whole number of corpora, exactly as the hash assigns
// them), miss no template, and write what the single-threaded --pcap run writes.
TEST_F(DpdkCollector, SoftwareRssKeepsEachExporterOnOneWorker) {
  const SpreadCorpus s = corpus_from_exporters(17, kFlowPort, [](const std::array<uint8_t, 4>& a) {
    const fb::Frame probe =
        fb::ethernet(0x0800, fb::ipv4(a, {127, 0, 0, 1}, fb::udp(kSenderPort, kFlowPort, {})));
    return dataplane::source_shard(probe.data(), probe.size(), 2);
  });
  ASSERT_GT(s.per_worker[0], 0u);
  ASSERT_GT(s.per_worker[1], 0u);
  const size_t frames = write_capture(capture(), s.datagrams, kSenderPort);
  DpdkRun r;
  r.workers = 2;
  const fs::path expected = pcap_run(r);
  expect_same_records(expected, dpdk_run(r, frames, s.datagrams.size()));
  EXPECT_NE(read_text(err()).find("software RSS"), std::string::npos) << read_text(err());
  expect_datagrams_per_worker(last_metrics_, s.per_worker);
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_dpdk_dispatched_total"), frames);
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_decode_errors_total"), 0u);
}

// net_af_packet on a veth pair in a namespace of the test's own, fed by tcpreplay: the records
// equal the --pcap run's. The PMD does not chain mbufs, so the pool's data room must hold its
// whole frame (framesz).
TEST_F(DpdkCollector, AfPacketVdevOnAVethWritesWhatPcapModeWrites) {
  if (getuid() != 0) GTEST_SKIP() << "needs root for ip netns";
  const VethNamespace ns("fgtest" + std::to_string(getpid()));
  ASSERT_TRUE(ns.ok()) << "cannot create a namespace with a veth pair";
  netns_ = &ns;
  const std::vector<Datagram> datagrams = corpus_datagrams();
  const size_t frames = write_capture(capture(), datagrams, kSenderPort);
  DpdkRun r;
  r.netns = ns.name();
  r.device = "net_af_packet0,iface=fgb,framesz=10240,blocksz=20480,framecnt=512";
  r.extra = "mbuf_data_room = 10240\nmbufs = 8191\n";
  const fs::path expected = pcap_run(r);
  const fs::path live = dpdk_run(r, frames, datagrams.size(), [&] {
    // Paced and bounded: a few hundred frames at 5000/s.
    EXPECT_TRUE(ns.in("tcpreplay -q -i fga --pps 5000 " + capture().string() + " >/dev/null"));
  });
  expect_same_records(expected, live);
  netns_ = nullptr;
}

// rss = "hardware" on a device that cannot hash on the IP source alone (net_pcap has one
// queue and no RSS) stops start-up with a reason instead of splitting exporters.
TEST_F(DpdkCollector, RefusesHardwareRssWhereTheDeviceCannotDoIt) {
  write_capture(capture(), corpus_datagrams(), kSenderPort);
  DpdkRun r;
  r.workers = 2;
  r.extra = "rss = \"hardware\"\n";
  const fs::path conf = dir_ / "hw.conf";
  std::ofstream(conf) << config_text(r, dir_ / "hw.jsonl", true);
  Child c;
  ASSERT_TRUE(c.start({"-c", conf.string()}, dir_ / "hw.out", err()));
  EXPECT_EQ(c.wait_exit(), 1) << read_text(err());
  EXPECT_NE(read_text(err()).find("RTE_ETH_RSS_L3_SRC_ONLY"), std::string::npos) << read_text(err());
}

uint16_t be16(const fb::Frame& f, size_t at) { return static_cast<uint16_t>(f[at] << 8 | f[at + 1]); }

TEST_F(DpdkCollector, AnswersArpPingAndNeighbourSolicitationForItsAddresses) {
  constexpr std::array<uint8_t, 6> kRouterMac = {0x02, 0, 0, 0, 0, 0x01};
  constexpr std::array<uint8_t, 4> kRouter4 = {192, 0, 2, 1};
  constexpr std::array<uint8_t, 4> kMine4 = {192, 0, 2, 10};
  constexpr std::array<uint8_t, 4> kOther4 = {192, 0, 2, 99};
  constexpr fb::V6 kRouter6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
  constexpr fb::V6 kMine6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
  auto eth = [&](uint16_t type, const fb::Frame& payload) {
    fb::Frame f = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    fb::append(f, kRouterMac);
    fb::put16(f, type);
    fb::append(f, payload);
    return f;
  };
  auto arp_request = [&](const std::array<uint8_t, 4>& target) {
    return eth(fb::kEtherArp, fb::arp(kRouterMac, kRouter4, target));
  };
  auto echo_request = [&](const std::array<uint8_t, 4>& to) {
    fb::Frame icmp = {8, 0, 0, 0, 0x12, 0x34, 0x00, 0x07, 'f', 'l', 'o', 'w'};
    const uint16_t sum = dataplane::checksum_fold(dataplane::checksum_add(0, icmp.data(), icmp.size()));
    icmp[2] = static_cast<uint8_t>(sum >> 8);
    icmp[3] = static_cast<uint8_t>(sum);
    fb::Ipv4Options o;
    o.protocol = 1;
    return eth(0x0800, fb::ipv4(kRouter4, to, icmp, o));
  };
  auto solicitation = [&](const fb::V6& target) {
    fb::Frame ns = {135, 0, 0, 0, 0, 0, 0, 0};
    fb::append(ns, target);
    fb::Frame ip = fb::ipv6(kRouter6, {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0x10}, 58, ns);
    ip[7] = 255;  // hop limit (RFC 4861 §7.1.1)
    uint32_t sum = dataplane::checksum_add(0, ip.data() + 8, 32);
    sum += static_cast<uint32_t>(ns.size()) + 58;
    const uint16_t c = dataplane::checksum_fold(dataplane::checksum_add(sum, ip.data() + 40, ns.size()));
    ip[40 + 2] = static_cast<uint8_t>(c >> 8);
    ip[40 + 3] = static_cast<uint8_t>(c);
    return eth(0x86dd, ip);
  };

  // One flow datagram too, so the run is also a collector run.
  const std::vector<Payload> v5 = netflow5_corpus();
  const fb::Frame flow = fb::ethernet(
      0x0800, fb::ipv4(kRouter4, kMine4, fb::udp(kSenderPort, kFlowPort, v5.front())));
  std::vector<fb::PcapRecord> records;
  for (const fb::Frame& f : {arp_request(kMine4), arp_request(kOther4), echo_request(kMine4),
                             echo_request(kOther4), solicitation(kMine6), flow}) {
    records.push_back(fb::PcapRecord{1'750'000'000ull * 1'000'000'000 + records.size(), f, 0});
  }
  fb::write_pcap(capture(), 1, records);

  DpdkRun r;
  r.tx_pcap = true;
  r.addresses = "\"192.0.2.10\", \"2001:db8::10\"";
  dpdk_run(r, records.size(), 1);
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_worker_control_replies_total"), 3u);

  const std::vector<fb::Frame> tx = read_frames(replies());
  ASSERT_EQ(tx.size(), 3u) << "ARP reply, echo reply, neighbour advertisement; nothing for 192.0.2.99";
  const fb::Frame& arp = tx[0];
  const std::array<uint8_t, 6> mac = {arp[6], arp[7], arp[8], arp[9], arp[10], arp[11]};
  EXPECT_TRUE(std::equal(kRouterMac.begin(), kRouterMac.end(), arp.begin()));  // to the requester
  EXPECT_EQ(be16(arp, 12), fb::kEtherArp);
  EXPECT_EQ(be16(arp, 14 + 6), 2);  // reply
  EXPECT_TRUE(std::equal(mac.begin(), mac.end(), arp.begin() + 14 + 8));  // sender hardware: us
  EXPECT_TRUE(std::equal(kMine4.begin(), kMine4.end(), arp.begin() + 14 + 14));
  EXPECT_TRUE(std::equal(kRouterMac.begin(), kRouterMac.end(), arp.begin() + 14 + 18));
  EXPECT_TRUE(std::equal(kRouter4.begin(), kRouter4.end(), arp.begin() + 14 + 24));

  const fb::Frame& echo = tx[1];
  EXPECT_EQ(be16(echo, 12), 0x0800);
  EXPECT_EQ(echo[14 + 9], 1);
  EXPECT_TRUE(std::equal(kMine4.begin(), kMine4.end(), echo.begin() + 14 + 12));    // from us
  EXPECT_TRUE(std::equal(kRouter4.begin(), kRouter4.end(), echo.begin() + 14 + 16));  // to it
  EXPECT_EQ(dataplane::checksum_fold(dataplane::checksum_add(0, echo.data() + 14, 20)), 0);
  const size_t icmp_len = be16(echo, 16) - 20u;
  EXPECT_EQ(icmp_len, 12u);
  EXPECT_EQ(echo[34], 0);  // echo reply
  EXPECT_EQ(be16(echo, 34 + 4), 0x1234);
  EXPECT_EQ(be16(echo, 34 + 6), 0x0007);
  EXPECT_EQ(std::string(echo.begin() + 34 + 8, echo.begin() + 34 + 12), "flow");
  EXPECT_EQ(dataplane::checksum_fold(dataplane::checksum_add(0, echo.data() + 34, icmp_len)), 0);

  const fb::Frame& na = tx[2];
  EXPECT_EQ(be16(na, 12), 0x86dd);
  EXPECT_EQ(na[14 + 6], 58);
  EXPECT_EQ(na[14 + 7], 255);
  EXPECT_TRUE(std::equal(kMine6.begin(), kMine6.end(), na.begin() + 14 + 8));
  EXPECT_TRUE(std::equal(kRouter6.begin(), kRouter6.end(), na.begin() + 14 + 24));
  EXPECT_EQ(na[54], 136);
  EXPECT_EQ(na[54 + 4] & 0x60, 0x60);  // solicited, override
  EXPECT_TRUE(std::equal(kMine6.begin(), kMine6.end(), na.begin() + 54 + 8));
  EXPECT_EQ(na[54 + 24], 2);  // target link-layer address option
  EXPECT_TRUE(std::equal(mac.begin(), mac.end(), na.begin() + 54 + 26));
}

}  // namespace
}  // namespace flowgate
