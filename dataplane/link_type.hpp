#pragma once

#include <cstdint>
#include <string_view>

namespace flowgate::dataplane {

// Link-layer framing of a captured frame. Values are the LINKTYPE_ numbers of the pcap file
// format (tcpdump.org/linktypes.html), which unlike DLT_ values are the same on every
// platform; pcap_source maps the DLT_ value libpcap reports onto these. Sources that see
// plain Ethernet (DPDK, AF_PACKET) pass kEthernet.
enum class LinkType : uint16_t {
  kNull = 0,         // BSD loopback: 4-byte address family in the capturing host's byte order
  kEthernet = 1,     // Ethernet II, optionally 802.1Q / 802.1ad tagged
  kRaw = 101,        // raw IP, version taken from the first nibble
  kLoop = 108,       // OpenBSD loopback: 4-byte address family in network byte order
  kLinuxSll = 113,   // Linux cooked capture v1 (16-byte header)
  kIpv4 = 228,       // raw IPv4
  kIpv6 = 229,       // raw IPv6
  kLinuxSll2 = 276,  // Linux cooked capture v2 (20-byte header)
};

constexpr std::string_view link_type_name(LinkType t) noexcept {
  switch (t) {
    case LinkType::kNull:
      return "null";
    case LinkType::kEthernet:
      return "ethernet";
    case LinkType::kRaw:
      return "raw";
    case LinkType::kLoop:
      return "loop";
    case LinkType::kLinuxSll:
      return "linux_sll";
    case LinkType::kIpv4:
      return "ipv4";
    case LinkType::kIpv6:
      return "ipv6";
    case LinkType::kLinuxSll2:
      return "linux_sll2";
  }
  return "unknown";
}

}  // namespace flowgate::dataplane
