#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "decode/datagram.hpp"
#include "decode/ip_address.hpp"

namespace flowgate::dataplane {

// What the responder answered. X(enum, metric name, help)
#define FLOWGATE_CONTROL_REPLIES(X)                                                         \
  X(kArp, "arp_reply", "ARP replies sent for the collector's addresses")                    \
  X(kIcmpEcho, "icmp_echo_reply", "ICMP echo replies sent for the collector's IPv4 addresses") \
  X(kIcmp6Echo, "icmp6_echo_reply", "ICMPv6 echo replies sent for the collector's IPv6 addresses") \
  X(kNeighborAdvert, "neighbor_advertisement", "IPv6 neighbour advertisements sent (RFC 4861)")

enum class ControlReply : uint8_t {
  kNone,
#define FLOWGATE_X(e, n, h) e,
  FLOWGATE_CONTROL_REPLIES(FLOWGATE_X)
#undef FLOWGATE_X
      kCount
};

// A NIC that DPDK owns is invisible to the kernel, so nothing else answers ARP, ping or
// neighbour solicitations for the collector's addresses; without that a router cannot resolve
// the next hop to the collector. This answers exactly those, for the configured addresses, and
// nothing else: ARP requests (RFC 826), ICMP echo requests (RFC 792), ICMPv6 echo requests
// (RFC 4443) and neighbour solicitations (RFC 4861 §7.2.4), keeping the request's 802.1Q tags.
// Pure: bytes in, a reply frame out; no allocation after construction.
class ControlResponder {
 public:
  static constexpr size_t kMaxReply = 1600;  // echo requests larger than this are not answered

  ControlResponder() = default;
  ControlResponder(std::array<uint8_t, 6> mac, std::vector<decode::IpAddress> addresses)
      : mac_(mac), addresses_(std::move(addresses)) {}

  bool enabled() const noexcept { return !addresses_.empty(); }
  const std::array<uint8_t, 6>& mac() const noexcept { return mac_; }

  // Builds the reply to `frame` (Ethernet II, optionally VLAN-tagged) into `out`, whose size
  // must be at least kMaxReply. Returns what it built (its length in `length`), or kNone.
  ControlReply respond(decode::Bytes frame, std::span<uint8_t> out, size_t& length) const noexcept;

 private:
  bool owns(const uint8_t* address, bool v6) const noexcept;
  ControlReply arp(const uint8_t* f, size_t l2, size_t n, uint8_t* out, size_t& length) const noexcept;
  ControlReply ipv4(const uint8_t* f, size_t l2, size_t n, uint8_t* out, size_t& length) const noexcept;
  ControlReply ipv6(const uint8_t* f, size_t l2, size_t n, uint8_t* out, size_t& length) const noexcept;

  std::array<uint8_t, 6> mac_{};
  std::vector<decode::IpAddress> addresses_;
};

// The Internet checksum (RFC 1071) of `data` added to `sum`, not yet folded or complemented.
uint32_t checksum_add(uint32_t sum, const uint8_t* data, size_t n) noexcept;
uint16_t checksum_fold(uint32_t sum) noexcept;

}  // namespace flowgate::dataplane
