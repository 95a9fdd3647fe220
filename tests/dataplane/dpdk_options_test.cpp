#include "dataplane/dpdk_options.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/dataplane/frame_builder.hpp"

namespace flowgate::dataplane {
namespace {

namespace fb = testing;

bool has(const std::vector<std::string>& args, const std::string& a) {
  return std::find(args.begin(), args.end(), a) != args.end();
}

TEST(DpdkOptions, RecognisesPciAddresses) {
  EXPECT_TRUE(is_pci_address("0000:03:00.0"));
  EXPECT_TRUE(is_pci_address("03:00.1"));
  EXPECT_TRUE(is_pci_address("0000:af:1f.7"));
  EXPECT_FALSE(is_pci_address("net_pcap0,rx_pcap=a.pcap"));
  EXPECT_FALSE(is_pci_address("0000:03:00.8"));
  EXPECT_FALSE(is_pci_address("03:00"));
  EXPECT_FALSE(is_pci_address("net_af_packet0,iface=veth0"));
}

TEST(DpdkOptions, VdevsRunWithoutHugepagesOrPci) {
  DpdkOptions o;
  o.devices = {"net_pcap0,rx_pcap=a.pcap"};
  const std::vector<std::string> a = eal_arguments(o);
  EXPECT_EQ(a.front(), "flowgate");
  for (const char* f : {"--no-huge", "--no-pci", "--no-shconf", "--no-telemetry", "-m", "512",
                        "-l", "0,1", "--main-lcore=0", "--vdev=net_pcap0,rx_pcap=a.pcap"}) {
    EXPECT_TRUE(has(a, f)) << f;
  }
}

TEST(DpdkOptions, PciDevicesUseHugepagesAndAllowList) {
  DpdkOptions o;
  o.devices = {"0000:03:00.0", "net_tap0,iface=fg0"};
  o.exporter_lcore = 2;
  o.worker_lcores = {4, 5};
  const std::vector<std::string> a = eal_arguments(o);
  EXPECT_FALSE(has(a, "--no-huge"));
  EXPECT_FALSE(has(a, "--no-pci"));
  EXPECT_TRUE(has(a, "-a"));
  EXPECT_TRUE(has(a, "0000:03:00.0"));
  EXPECT_TRUE(has(a, "--vdev=net_tap0,iface=fg0"));
  EXPECT_TRUE(has(a, "2,4,5,6"));  // exporter, workers and the dispatch lcore (one past them)
  EXPECT_TRUE(has(a, "--main-lcore=2"));
}

TEST(DpdkOptions, TheUsersEalArgumentsWin) {
  DpdkOptions o;
  o.devices = {"net_null0"};
  o.eal_args = {"--lcores=0@0,1@1,2@0,3@1", "-m", "256", "--log-level=*:debug"};
  const std::vector<std::string> a = eal_arguments(o);
  EXPECT_FALSE(has(a, "-l"));
  EXPECT_FALSE(has(a, "512"));
  EXPECT_FALSE(has(a, "--log-level=*:notice"));
  EXPECT_TRUE(has(a, "--lcores=0@0,1@1,2@0,3@1"));
  EXPECT_EQ(std::count(a.begin(), a.end(), "-m"), 1);
}

TEST(DpdkOptions, ExceptionTapAddsANetTapVdevLast) {
  DpdkOptions o;
  o.devices = {"net_pcap0,rx_pcap=a.pcap"};
  EXPECT_EQ(exception_tap_device(o), "");
  const std::vector<std::string> without = eal_arguments(o);
  o.exception_tap = "fg0";
  EXPECT_EQ(exception_tap_device(o), "net_tap0");
  std::vector<std::string> with = eal_arguments(o);
  EXPECT_EQ(with.back(), "--vdev=net_tap0,iface=fg0");
  with.pop_back();
  EXPECT_EQ(with, without);  // nothing else changes: still no hugepages for vdevs only
}

TEST(DpdkOptions, ExceptionTapTakesANetTapNameNoDeviceUses) {
  DpdkOptions o;
  o.devices = {"net_tap0,iface=data0", "net_tap1", "net_tap10,iface=x", "0000:03:00.0"};
  o.exception_tap = "kernel0";
  EXPECT_EQ(exception_tap_device(o), "net_tap2");
  const std::vector<std::string> a = eal_arguments(o);
  EXPECT_TRUE(has(a, "--vdev=net_tap0,iface=data0"));
  EXPECT_EQ(a.back(), "--vdev=net_tap2,iface=kernel0");
  EXPECT_FALSE(has(a, "--no-huge"));  // a PCI NIC still means hugepages
}

fb::Frame from(std::array<uint8_t, 4> src, uint16_t sport) {
  return fb::ethernet(0x0800, fb::ipv4(src, fb::kDst4, fb::udp(sport, 2055, fb::payload_of(40))));
}

TEST(SourceShard, OneExporterAlwaysLandsOnOneWorker) {
  // Ports and payloads differ between an exporter's datagrams; the shard must not.
  const uint32_t first = source_shard(from({10, 0, 0, 7}, 1000).data(), from({10, 0, 0, 7}, 1000).size(), 4);
  for (uint16_t port = 1; port < 200; ++port) {
    const fb::Frame f = from({10, 0, 0, 7}, port);
    EXPECT_EQ(source_shard(f.data(), f.size(), 4), first);
  }
  // A non-first fragment (no UDP header) of the same exporter too.
  fb::Ipv4Options o;
  o.offset = 1480;
  const fb::Frame frag = fb::ethernet(0x0800, fb::ipv4({10, 0, 0, 7}, fb::kDst4, fb::payload_of(100), o));
  EXPECT_EQ(source_shard(frag.data(), frag.size(), 4), first);
}

TEST(SourceShard, SpreadsExportersOverWorkers) {
  std::vector<uint32_t> per_worker(2);
  for (uint8_t e = 1; e <= 16; ++e) {
    const fb::Frame f = from({192, 0, 2, e}, 2055);
    ++per_worker[source_shard(f.data(), f.size(), 2)];
  }
  EXPECT_GE(per_worker[0], 4u);
  EXPECT_GE(per_worker[1], 4u);
}

TEST(SourceShard, FollowsVlanTagsAndIpv6) {
  const fb::Frame ip = fb::ipv6(fb::kSrc6, fb::kDst6, 17, fb::udp(1, 2055, {}));
  const fb::Frame plain = fb::ethernet(0x86dd, ip);
  const fb::Frame tagged = fb::ethernet(0x86dd, ip, {0x88a8, 0x8100});
  for (uint32_t n : {3u, 5u, 8u}) {
    EXPECT_EQ(source_shard(plain.data(), plain.size(), n), source_shard(tagged.data(), tagged.size(), n));
    EXPECT_LT(source_shard(plain.data(), plain.size(), n), n);
  }
  const fb::Frame arp = fb::ethernet(fb::kEtherArp, fb::payload_of(28));
  EXPECT_EQ(source_shard(arp.data(), arp.size(), 4), 0u);  // no IP source: worker 0 answers it
  EXPECT_EQ(source_shard(plain.data(), 10, 4), 0u);        // truncated
}

}  // namespace
}  // namespace flowgate::dataplane
