#pragma once

#include <cstdint>
#include <string_view>

#include "dataplane/packet_parser.hpp"

namespace flowgate::dataplane {

// What a packet source saw, up to the UDP datagrams it delivered. Every frame bumps `frames`
// and exactly one of udp_frames .. bad_header (its ParseStatus). X(member, help)
#define FLOWGATE_PACKET_COUNTERS(X)                                                    \
  X(frames, "frames read from the source")                                             \
  X(udp_frames, "frames carrying a whole UDP datagram")                                \
  X(fragments, "IPv4/IPv6 fragments of UDP datagrams handed to reassembly")            \
  X(not_ip, "frames carrying neither IPv4 nor IPv6 (ARP, LLDP, other families)")       \
  X(not_udp, "IP packets whose upper-layer protocol is not UDP (or is hidden by ESP)") \
  X(truncated, "frames shorter than a link, IP or UDP header says they are")           \
  X(bad_header, "IP headers that are malformed: version, IHL, length, header order, over 16 " \
                "IPv6 extension headers")                                                      \
  X(udp_datagrams, "UDP datagrams delivered, whole or reassembled")                    \
  X(reassembled, "UDP datagrams delivered after reassembly from fragments")            \
  X(udp_length_mismatch, "UDP length field disagreeing with the IP length; the smaller was used")

struct PacketCounters {
#define FLOWGATE_X(m, h) uint64_t m = 0;
  FLOWGATE_PACKET_COUNTERS(FLOWGATE_X)
#undef FLOWGATE_X

  // Counts a frame's parse outcome in its one counter.
  void count(ParseStatus s) noexcept {
    switch (s) {
      case ParseStatus::kUdp:
        ++udp_frames;
        break;
      case ParseStatus::kFragment:
        ++fragments;
        break;
      case ParseStatus::kNotIp:
        ++not_ip;
        break;
      case ParseStatus::kNotUdp:
        ++not_udp;
        break;
      case ParseStatus::kTruncated:
        ++truncated;
        break;
      case ParseStatus::kBadHeader:
        ++bad_header;
        break;
      case ParseStatus::kCount:
        break;
    }
  }
  // Calls f(name, help, value) for every counter, in declaration order.
  template <class F>
  void for_each(F&& f) const {
#define FLOWGATE_X(m, h) f(std::string_view{#m}, std::string_view{h}, m);
    FLOWGATE_PACKET_COUNTERS(FLOWGATE_X)
#undef FLOWGATE_X
  }
  // Sums another worker's counters into this one.
  void add(const PacketCounters& o) noexcept {
#define FLOWGATE_X(m, h) m += o.m;
    FLOWGATE_PACKET_COUNTERS(FLOWGATE_X)
#undef FLOWGATE_X
  }
};

}  // namespace flowgate::dataplane
