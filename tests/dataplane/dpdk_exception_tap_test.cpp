// The DPDK exception path (`exception_tap`) as an operator sees it: flowgate runs in DPDK mode on
// a net_pcap vdev inside a network namespace of the test's own, with a kernel TAP interface
// that the test created (and addressed) there first. Flow datagrams are still decoded as
// `flowgate --pcap` decodes them; an ARP request, a TCP SYN to port 22 and a UDP datagram to a
// port no listener has reach the kernel byte for byte, and what the kernel answers (ARP reply,
// TCP reset, ICMP port unreachable) and sends (a UDP datagram) leaves through the vdev's
// tx_pcap byte for byte. Without the key the same frames are dropped and counted, as before.
// Like the other DPDK tests, each run is a child flowgate process: EAL starts once per process.

#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/control_responder.hpp"
#include "tests/dataplane/frame_builder.hpp"
#include "tests/support/collector_harness.hpp"
#include "tests/support/veth_namespace.hpp"

namespace flowgate {
namespace {

using namespace flowgate::testing;
namespace fb = dataplane::testing;

constexpr uint16_t kFlowPort = 2055;
constexpr uint16_t kSenderPort = 40000;
constexpr const char* kTap = "fgk";
// The box (the TAP's address) and its router, in the benchmarking range (RFC 2544): nothing
// addressed there leaves the namespace, which has no default route anyway.
constexpr std::array<uint8_t, 4> kBox = {198, 18, 0, 10};
constexpr std::array<uint8_t, 4> kRouter = {198, 18, 0, 1};
constexpr std::array<uint8_t, 6> kRouterMac = {0x02, 0, 0, 0, 0, 0x01};
// What net_pcap gives its first port ("\x02pcap" and the port's index), and so the TAP.
constexpr std::array<uint8_t, 6> kNicMac = {0x02, 0x70, 0x63, 0x61, 0x70, 0x00};

fb::Frame ethernet(const std::array<uint8_t, 6>& to, uint16_t type, const fb::Frame& payload) {
  fb::Frame f;
  fb::append(f, to);
  fb::append(f, kRouterMac);
  fb::put16(f, type);
  fb::append(f, payload);
  return f;
}

// IPv4 from the router to the box with a valid header checksum (the kernel checks it).
fb::Frame ipv4_to_box(uint8_t protocol, const fb::Frame& l4) {
  fb::Ipv4Options o;
  o.protocol = protocol;
  fb::Frame ip = fb::ipv4(kRouter, kBox, l4, o);
  const uint16_t sum = dataplane::checksum_fold(dataplane::checksum_add(0, ip.data(), 20));
  ip[10] = static_cast<uint8_t>(sum >> 8);
  ip[11] = static_cast<uint8_t>(sum);
  return ethernet(kNicMac, 0x0800, ip);
}

fb::Frame arp_request_for_box() {
  return ethernet({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, fb::kEtherArp,
                  fb::arp(kRouterMac, kRouter, kBox));
}

// A TCP SYN to the box's SSH port, checksummed over the pseudo-header (RFC 793 §3.1).
fb::Frame ssh_syn() {
  fb::Frame tcp;
  fb::put16(tcp, 40022);
  fb::put16(tcp, 22);
  fb::put32(tcp, 0x01020304);  // sequence
  fb::put32(tcp, 0);
  tcp.push_back(0x50);  // 20-byte header
  tcp.push_back(0x02);  // SYN
  fb::put16(tcp, 64240);
  fb::put16(tcp, 0);
  fb::put16(tcp, 0);
  fb::Frame pseudo;
  fb::append(pseudo, kRouter);
  fb::append(pseudo, kBox);
  fb::put16(pseudo, 6);
  fb::put16(pseudo, static_cast<uint16_t>(tcp.size()));
  const uint16_t sum = dataplane::checksum_fold(
      dataplane::checksum_add(dataplane::checksum_add(0, pseudo.data(), pseudo.size()), tcp.data(), tcp.size()));
  tcp[16] = static_cast<uint8_t>(sum >> 8);
  tcp[17] = static_cast<uint8_t>(sum);
  return ipv4_to_box(6, tcp);
}

// UDP to a port no listener has (checksum 0: none, allowed over IPv4).
fb::Frame udp_to_5000() { return ipv4_to_box(17, fb::udp(40500, 5000, fb::payload_of(24))); }

// Frames in an order-free form, for what several workers pass on concurrently.
std::multiset<std::string> as_multiset(const std::vector<fb::Frame>& frames) {
  std::multiset<std::string> out;
  for (const fb::Frame& f : frames) out.emplace(f.begin(), f.end());
  return out;
}

uint16_t be16(const fb::Frame& f, size_t at) { return static_cast<uint16_t>(f[at] << 8 | f[at + 1]); }

// An AF_PACKET socket on an interface of a namespace, opened from a thread that enters the
// namespace (a socket stays in the namespace it was made in), so this process stays put.
class TapCapture {
 public:
  TapCapture(const std::string& netns, const std::string& interface) {
    std::thread([&] {
      const int ns = open(("/var/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
      if (ns < 0) return;
      const bool entered = setns(ns, CLONE_NEWNET) == 0;
      close(ns);
      if (!entered) return;
      const int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
      sockaddr_ll a{};
      a.sll_family = AF_PACKET;
      a.sll_protocol = htons(ETH_P_ALL);
      a.sll_ifindex = static_cast<int>(if_nametoindex(interface.c_str()));
      if (s >= 0 && a.sll_ifindex != 0 && bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        fd_ = s;
      } else if (s >= 0) {
        close(s);
      }
    }).join();
  }
  ~TapCapture() {
    if (fd_ >= 0) close(fd_);
  }
  TapCapture(const TapCapture&) = delete;
  TapCapture& operator=(const TapCapture&) = delete;

  bool ok() const { return fd_ >= 0; }

  // Reads what arrived until `quiet_ms` pass without a frame (bounded by kWaitLimit): frames
  // the kernel received on the interface (from DPDK) and frames it sent (to DPDK).
  void drain(long quiet_ms = 300) {
    const auto deadline = Clock::now() + kWaitLimit;
    pollfd p{fd_, POLLIN, 0};
    while (Clock::now() < deadline && poll(&p, 1, static_cast<int>(quiet_ms)) == 1) {
      uint8_t buf[65536];
      sockaddr_ll from{};
      socklen_t len = sizeof from;
      const ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      // net_tap takes the interface down and up as it attaches: the socket reports ENETDOWN
      // once and keeps capturing.
      if (n < 0 && errno == ENETDOWN) continue;
      if (n <= 0) break;
      (from.sll_pkttype == PACKET_OUTGOING ? sent : received).emplace_back(buf, buf + n);
    }
  }

  std::vector<fb::Frame> received;
  std::vector<fb::Frame> sent;

 private:
  int fd_ = -1;
};

class DpdkExceptionTap : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("flowgate_tap_" +
                                        std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
                                        "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    metrics_port_ = free_port(SOCK_STREAM);
    ASSERT_NE(metrics_port_, 0);
    // The flow datagrams, with the frames for the kernel among them.
    const std::vector<Payload> v5 = netflow5_corpus();
    const std::vector<Payload> ipfix = ipfix_corpus();
    std::vector<fb::Frame> frames;
    for (const std::vector<Payload>* set : {&v5, &ipfix}) {
      for (const Payload& p : *set) {
        frames.push_back(ipv4_to_box(17, fb::udp(kSenderPort, kFlowPort, p)));
        ++datagrams_;
      }
    }
    for_kernel_ = {arp_request_for_box(), ssh_syn(), udp_to_5000()};
    frames.insert(frames.begin() + 3, for_kernel_.begin(), for_kernel_.end());
    std::vector<fb::PcapRecord> records;
    for (fb::Frame& f : frames) {
      records.push_back(fb::PcapRecord{1'750'000'000ull * 1'000'000'000 + records.size() * 1000, std::move(f), 0});
    }
    frames_ = records.size();
    fb::write_pcap(capture(), 1, records);
  }
  void TearDown() override {
    collector_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  fs::path capture() const { return dir_ / "replay.pcap"; }
  fs::path transmitted() const { return dir_ / "tx.pcap"; }
  fs::path err() const { return dir_ / "dpdk.err"; }

  // `extra`: more [collector.dpdk] lines.
  std::string config_text(const fs::path& output, bool dpdk, const std::string& tap,
                          const std::string& extra = "") const {
    std::ostringstream s;
    s << "[[inputs.netflow]]\n  [[inputs.netflow.listeners]]\n    flow_type = \"auto\"\n"
      << "    port = " << kFlowPort << "\n"
      << "[collector]\nmode = \"" << (dpdk ? "dpdk" : "socket") << "\"\n"
      << "[collector.dpdk]\ndevices = [\"net_pcap0,rx_pcap=" << capture().string()
      << ",tx_pcap=" << transmitted().string() << "\"]\n";
    if (!tap.empty()) s << "exception_tap = \"" << tap << "\"\n";
    s << extra;
    s << "[aggregation]\nenabled = false\n"
      << "[[outputs]]\ntype = \"file\"\npath = \"" << output.string() << "\"\n"
      << "flush_interval = \"100ms\"\n"
      << "[metrics]\nlisten = \"127.0.0.1:" << metrics_port_ << "\"\n";
    return s.str();
  }

  // `flowgate --pcap` over the capture: the records DPDK mode must write too.
  std::vector<std::string> expected_records() {
    const fs::path out = dir_ / "expected.jsonl";
    run_pcap(capture(), config_text(out, false, ""), dir_);
    return comparable_records(out);
  }

  std::map<std::string, uint64_t> metrics() const {
    return metrics_samples(metrics_port_, netns_);
  }

  // Starts DPDK mode and waits until every frame is taken and every datagram decoded, then
  // until `until` holds on /metrics (left in last_metrics_).
  void start(const std::string& tap, const std::function<bool(const std::map<std::string, uint64_t>&)>& until,
             const std::string& extra = "") {
    const fs::path conf = dir_ / "dpdk.conf";
    std::ofstream(conf) << config_text(output(), true, tap, extra);
    collector_ = std::make_unique<Child>();
    std::vector<std::string> prefix;
    if (netns_ != nullptr) prefix = {"ip", "netns", "exec", netns_->name()};
    ASSERT_TRUE(collector_->start({"-c", conf.string()}, dir_ / "dpdk.out", err(), prefix));
    const bool done = wait_for([&] {
      if (collector_->exited()) return true;
      last_metrics_ = metrics();
      return sum_prefixed(last_metrics_, "flowgate_worker_rx_frames_total") == frames_ &&
             sum_prefixed(last_metrics_, "flowgate_worker_datagrams_received_total") == datagrams_ &&
             until(last_metrics_);
    });
    ASSERT_FALSE(collector_->exited()) << read_text(err());
    ASSERT_TRUE(done) << read_text(err());
  }

  // SIGTERM, a clean exit, and the records equal to the --pcap run's.
  void stop_and_compare(const std::vector<std::string>& expected) {
    expect_clean_exit(*collector_, err(), datagrams_);
    const std::vector<std::string> actual = comparable_records(output());
    EXPECT_TRUE(actual == expected) << difference(expected, actual);
  }

  fs::path output() const { return dir_ / "dpdk.jsonl"; }

  // UDP to a port no listener has from 16 routers, to an address the kernel does not have,
  // written as the capture (no datagram for flowgate); returns the frames in capture order.
  std::vector<fb::Frame> write_udp_from_16_routers() {
    std::vector<fb::PcapRecord> records;
    std::vector<fb::Frame> frames;
    for (uint8_t r = 1; r <= 16; ++r) {
      fb::Frame f = ethernet(kNicMac, 0x0800,
                             fb::ipv4({198, 18, 1, r}, {198, 18, 0, 99},
                                      fb::udp(40000, 5000, fb::payload_of(16, r))));
      frames.push_back(f);
      records.push_back(fb::PcapRecord{1'750'000'000ull * 1'000'000'000 + r * 1000ull, f, 0});
    }
    fb::write_pcap(capture(), 1, records);
    frames_ = records.size();
    datagrams_ = 0;
    return frames;
  }

  // A multi-queue TAP named kTap in `ns`, up, IPv6 off, with 198.18.0.10/24 when `address`.
  static bool add_tap(const VethNamespace& ns, bool address) {
    return ns.in(std::string("ip tuntap add dev ") + kTap + " mode tap multi_queue") &&
           ns.in(std::string("sysctl -qw net.ipv6.conf.") + kTap + ".disable_ipv6=1") &&
           (!address || ns.in(std::string("ip addr add 198.18.0.10/24 dev ") + kTap)) &&
           ns.in(std::string("ip link set ") + kTap + " up");
  }

  fs::path dir_;
  uint16_t metrics_port_ = 0;
  size_t frames_ = 0;
  size_t datagrams_ = 0;
  std::vector<fb::Frame> for_kernel_;  // ARP request, SSH SYN, UDP to 5000: in capture order
  const VethNamespace* netns_ = nullptr;
  std::unique_ptr<Child> collector_;
  std::map<std::string, uint64_t> last_metrics_;
};

TEST_F(DpdkExceptionTap, HandsWhatIsNotForAListenerToTheKernelAndSendsItsReplies) {
  if (getuid() != 0) GTEST_SKIP() << "needs root for ip netns and a TAP interface";
  // Not a skip: a host without TUN cannot run the exception path, and should say so.
  ASSERT_TRUE(fs::exists("/dev/net/tun")) << "/dev/net/tun is missing: load the tun module";
  const std::vector<std::string> expected = expected_records();
  ASSERT_FALSE(expected.empty());

  // The operator's way: the TAP exists (multi_queue, as net_tap opens it) with its address
  // before flowgate starts, and flowgate attaches to it. IPv6 off: no router solicitations or
  // DAD of the kernel's own to count.
  const VethNamespace ns("fgtap" + std::to_string(getpid()));
  ASSERT_TRUE(ns.ok()) << "cannot create a network namespace";
  ASSERT_TRUE(add_tap(ns, true));
  TapCapture tap(ns.name(), kTap);
  ASSERT_TRUE(tap.ok()) << "cannot open an AF_PACKET socket on " << kTap;
  netns_ = &ns;

  // The kernel answers the ARP request, resets the SYN and refuses the UDP datagram: three
  // frames from the kernel once it has taken the three frames for it.
  start(kTap, [](const std::map<std::string, uint64_t>& m) {
    return sum_prefixed(m, "flowgate_dpdk_exception_to_kernel_total") == 3 &&
           sum_prefixed(m, "flowgate_dpdk_exception_from_kernel_total") >= 3;
  });
  EXPECT_NE(read_text(err()).find("frames for no listener go to kernel interface fgk"), std::string::npos)
      << read_text(err());
  // The TAP took the NIC's MAC address, so the kernel takes unicast frames to the NIC as its own.
  EXPECT_EQ(ns.output(std::string("cat /sys/class/net/") + kTap + "/address"), "02:70:63:61:70:00\n");
  // The kernel learnt the router's MAC from the ARP request; pinning it stops the kernel from
  // probing it again (5 s on, unconfirmed), which would add frames after the count below.
  ASSERT_TRUE(ns.in(std::string("ip neigh replace 198.18.0.1 lladdr 02:00:00:00:00:01 nud permanent dev ") + kTap));
  // And it sends a datagram of its own.
  ASSERT_TRUE(ns.in("bash -c 'echo -n flowgate-exception-path > /dev/udp/198.18.0.1/7777'"));
  ASSERT_TRUE(wait_for([&] {
    last_metrics_ = metrics();
    return sum_prefixed(last_metrics_, "flowgate_dpdk_exception_from_kernel_total") >= 4;
  })) << read_text(err());
  const uint64_t from_kernel = sum_prefixed(last_metrics_, "flowgate_dpdk_exception_from_kernel_total");
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_dpdk_exception_to_kernel_total"), 3u);
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_dpdk_exception_drops_total"), 0u);
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_worker_non_listener_total"), 0u);
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_frames_not_ip_total"), 1u);   // still parsed and counted
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_frames_not_udp_total"), 1u);
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_worker_control_replies_total"), 0u);  // no addresses: the kernel answers
  stop_and_compare(expected);
  netns_ = nullptr;

  // Into the kernel: exactly the three frames, byte for byte, in order.
  tap.drain();
  ASSERT_EQ(tap.received.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(tap.received[i], for_kernel_[i]) << "frame " << i;

  // Out of the kernel: what it sent on the TAP left through the NIC byte for byte, in order.
  const std::vector<fb::Frame> out = read_frames(transmitted());
  ASSERT_EQ(out.size(), from_kernel);
  ASSERT_GE(tap.sent.size(), out.size());
  for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i], tap.sent[i]) << "frame " << i;
  bool arp_reply = false, reset = false, unreachable = false, datagram = false;
  for (const fb::Frame& f : out) {
    ASSERT_GE(f.size(), 42u);
    EXPECT_TRUE(std::equal(kNicMac.begin(), kNicMac.end(), f.begin() + 6)) << "from the NIC's MAC";
    EXPECT_TRUE(std::equal(kRouterMac.begin(), kRouterMac.end(), f.begin())) << "to the router";
    if (be16(f, 12) == fb::kEtherArp) {
      arp_reply = arp_reply || (be16(f, 14 + 6) == 2 && std::equal(kBox.begin(), kBox.end(), f.begin() + 14 + 14));
      continue;
    }
    ASSERT_EQ(be16(f, 12), 0x0800);
    EXPECT_TRUE(std::equal(kBox.begin(), kBox.end(), f.begin() + 14 + 12));
    EXPECT_TRUE(std::equal(kRouter.begin(), kRouter.end(), f.begin() + 14 + 16));
    const uint8_t protocol = f[14 + 9];
    const size_t l4 = 14 + 4u * (f[14] & 0x0f);
    if (protocol == 6) reset = reset || (be16(f, l4) == 22 && be16(f, l4 + 2) == 40022 && (f[l4 + 13] & 0x04) != 0);
    if (protocol == 1) unreachable = unreachable || (f[l4] == 3 && f[l4 + 1] == 3);
    if (protocol == 17 && be16(f, l4 + 2) == 7777) {
      datagram = std::string(f.begin() + static_cast<long>(l4) + 8, f.end()) == "flowgate-exception-path";
    }
  }
  EXPECT_TRUE(arp_reply) << "the kernel's ARP reply for 198.18.0.10";
  EXPECT_TRUE(reset) << "the kernel's TCP reset from port 22";
  EXPECT_TRUE(unreachable) << "the kernel's ICMP port unreachable for port 5000";
  EXPECT_TRUE(datagram) << "the datagram sent from the namespace to 198.18.0.1:7777";
}

// Two workers behind software RSS: each hands the kernel what it receives on its own TAP queue
// pair, and the kernel's frames, which it spreads over both pairs, all leave through net_pcap's
// single TX queue: worker 1 has none, so worker 0 reads pair 1's RX as well.
TEST_F(DpdkExceptionTap, TwoWorkersPassFramesBothWaysThroughTheirQueuePairs) {
  if (getuid() != 0) GTEST_SKIP() << "needs root for ip netns and a TAP interface";
  ASSERT_TRUE(fs::exists("/dev/net/tun")) << "/dev/net/tun is missing: load the tun module";
  // Spread over the workers by source address; the kernel takes them and answers nothing.
  const std::vector<fb::Frame> sent_in = write_udp_from_16_routers();

  const VethNamespace ns("fgtap" + std::to_string(getpid()));
  ASSERT_TRUE(ns.ok()) << "cannot create a network namespace";
  ASSERT_TRUE(add_tap(ns, true));
  TapCapture tap(ns.name(), kTap);
  ASSERT_TRUE(tap.ok()) << "cannot open an AF_PACKET socket on " << kTap;
  netns_ = &ns;
  start(kTap, [](const std::map<std::string, uint64_t>& m) {
    return sum_prefixed(m, "flowgate_dpdk_exception_to_kernel_total") == 16;
  }, "worker_lcores = [1, 2]\ndispatch_lcore = 3\neal_args = [\"--lcores=0@0,1@1,2@0,3@1\"]\n");
  EXPECT_NE(read_text(err()).find("2 queue pair(s)"), std::string::npos) << read_text(err());
  EXPECT_GT(last_metrics_["flowgate_worker_rx_frames_total{worker=\"0\"}"], 0u);
  EXPECT_GT(last_metrics_["flowgate_worker_rx_frames_total{worker=\"1\"}"], 0u);

  // 16 datagrams from the kernel, each on a flow of its own (the kernel picks a pair by flow).
  ASSERT_TRUE(ns.in(std::string("ip neigh replace 198.18.0.1 lladdr 02:00:00:00:00:01 dev ") + kTap));
  for (int i = 1; i <= 16; ++i) {
    ASSERT_TRUE(ns.in("bash -c 'echo -n kernel-" + std::to_string(i) + " > /dev/udp/198.18.0.1/" +
                      std::to_string(7000 + i) + "'"));
  }
  ASSERT_TRUE(wait_for([&] {
    last_metrics_ = metrics();
    return sum_prefixed(last_metrics_, "flowgate_dpdk_exception_from_kernel_total") >= 16;
  })) << "from the kernel: " << sum_prefixed(last_metrics_, "flowgate_dpdk_exception_from_kernel_total")
      << ", dropped: " << sum_prefixed(last_metrics_, "flowgate_dpdk_exception_drops_total");
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_dpdk_exception_from_kernel_total"), 16u);
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_dpdk_exception_drops_total"), 0u);
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_worker_non_listener_total"), 0u);
  stop_and_compare({});
  netns_ = nullptr;

  tap.drain();
  // Every frame, byte for byte, whichever worker took it.
  EXPECT_EQ(as_multiset(tap.received), as_multiset(sent_in));
  // Every frame the kernel sent left through the NIC.
  const std::vector<fb::Frame> out = read_frames(transmitted());
  EXPECT_EQ(out.size(), 16u);
  EXPECT_EQ(as_multiset(out), as_multiset(tap.sent));
}

// A flood of frames for the kernel is cut at exception_rate a second per worker (a bucket as
// deep): 16 frames at once with a rate of 4, and 4 reach the TAP, 12 are counted.
TEST_F(DpdkExceptionTap, AFloodForTheKernelIsCutAtTheExceptionRate) {
  if (getuid() != 0) GTEST_SKIP() << "needs root for ip netns and a TAP interface";
  ASSERT_TRUE(fs::exists("/dev/net/tun")) << "/dev/net/tun is missing: load the tun module";
  write_udp_from_16_routers();

  const VethNamespace ns("fgtapr" + std::to_string(getpid()));
  ASSERT_TRUE(ns.ok()) << "cannot create a network namespace";
  ASSERT_TRUE(add_tap(ns, false));
  TapCapture tap(ns.name(), kTap);
  ASSERT_TRUE(tap.ok()) << "cannot open an AF_PACKET socket on " << kTap;
  netns_ = &ns;
  start(kTap, [](const std::map<std::string, uint64_t>& m) {
    return sum_prefixed(m, "flowgate_dpdk_exception_to_kernel_total") +
               sum_prefixed(m, "flowgate_dpdk_exception_rate_limited_total") ==
           16;
  }, "exception_rate = 4\n");
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_dpdk_exception_to_kernel_total"), 4u);
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_dpdk_exception_rate_limited_total"), 12u);
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_dpdk_exception_drops_total"), 0u);
  stop_and_compare({});
  netns_ = nullptr;
  tap.drain();
  EXPECT_EQ(tap.received.size(), 4u);
}

TEST_F(DpdkExceptionTap, WithoutTheKeyTheSameFramesAreDroppedAndCounted) {
  const std::vector<std::string> expected = expected_records();
  ASSERT_FALSE(expected.empty());
  start("", [](const std::map<std::string, uint64_t>&) { return true; });
  EXPECT_EQ(read_text(err()).find("kernel interface"), std::string::npos) << read_text(err());
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_worker_non_listener_total"), 1u);  // UDP to 5000
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_frames_not_ip_total"), 1u);        // ARP
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_frames_not_udp_total"), 1u);       // TCP
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_dpdk_exception_to_kernel_total"), 0u);
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_dpdk_exception_from_kernel_total"), 0u);
  EXPECT_EQ(sum_prefixed(last_metrics_, "flowgate_dpdk_exception_drops_total"), 0u);
  stop_and_compare(expected);
  EXPECT_TRUE(read_frames(transmitted()).empty());  // no addresses configured: nothing answered
}

}  // namespace
}  // namespace flowgate
