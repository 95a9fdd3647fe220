#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "decode/flow_type.hpp"
#include "decode/ip_address.hpp"

namespace flowgate::dataplane {

enum class RssMode : uint8_t {
  kAuto,      // hardware where every port hashes on the IP source alone, software otherwise
  kHardware,  // required: start-up fails when a port cannot do it
  kSoftware,  // one dispatch lcore hashes the exporter address to per-worker rings
};

// What the DPDK source needs from the configuration ([collector.dpdk] and the listeners).
struct DpdkOptions {
  std::vector<std::string> devices;   // PCI addresses or vdev strings
  std::vector<std::string> eal_args;  // extra EAL arguments, before the generated ones
  uint32_t exporter_lcore = 0;        // the EAL main lcore; runs the exporter
  std::vector<uint32_t> worker_lcores = {1};
  int dispatch_lcore = -1;            // software RSS; -1: one past the highest other lcore
  RssMode rss = RssMode::kAuto;
  uint32_t rx_queues = 1;             // per port, when one worker or software RSS polls them
  uint32_t rx_descriptors = 1024;
  uint32_t mbufs = 65535;
  uint32_t mbuf_data_room = 0;        // bytes of packet data per mbuf; 0: DPDK's default (2048)
  uint32_t burst = 32;
  uint32_t idle_sleep_us = 100;       // longest pause of an idle poller; 0: pure busy polling
  uint32_t dispatch_ring = 4096;      // mbufs per worker ring (software RSS)
  std::vector<decode::IpAddress> addresses;  // answered for ARP, ICMP echo, IPv6 ND
  std::string exception_tap;          // kernel TAP interface for what is not ours; "": none
  uint32_t exception_rate = 20'000;   // frames a second a worker hands to it at most; 0: no limit
  std::vector<uint16_t> listener_ports;      // by listener index
  std::vector<decode::FlowType> listener_types;
  uint32_t blocks_per_worker = 128;
};

// A PCI address as EAL takes it: [DDDD:]BB:DD.F.
bool is_pci_address(const std::string& device) noexcept;

// The lcore that runs the software-RSS dispatcher.
uint32_t dispatch_lcore(const DpdkOptions& o) noexcept;

// The net_tap vdev that carries the exception path ("net_tap<N>", N the lowest not taken by a
// device of the user's), or "" when exception_tap is not set.
std::string exception_tap_device(const DpdkOptions& o);

// The EAL argument list (argv[0] first). The user's eal_args come first; flowgate adds only what
// they do not already say: the lcore list with the exporter as main lcore, a log level, the
// devices (the exception TAP's net_tap vdev last), and when every device is a vdev the flags that run without hugepages or PCI access
// (DPDK_NOTES.md: --no-huge needs -m 512; --no-shconf lets several instances run at once).
std::vector<std::string> eal_arguments(const DpdkOptions& o);

}  // namespace flowgate::dataplane

namespace flowgate::dataplane {

// Software RSS: the worker that owns a frame's exporter, from the IP source address alone
// (after up to two VLAN tags), so that every datagram and every fragment of one exporter
// lands on one worker and its templates are never split. Frames without an IP source (ARP)
// go to worker 0, which answers them.
uint32_t source_shard(const uint8_t* frame, size_t length, uint32_t shards) noexcept;

}  // namespace flowgate::dataplane
