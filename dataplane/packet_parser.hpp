#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dataplane/link_type.hpp"
#include "decode/datagram.hpp"
#include "decode/ip_address.hpp"

namespace flowgate::dataplane {

// Outcome of parsing one frame. Every frame ends in exactly one of these, so each is also a
// counter. X(enum, metric name, help)
#define FLOWGATE_PARSE_STATUSES(X)                                                                \
  X(kUdp, "udp", "frames carrying a whole UDP datagram")                                          \
  X(kFragment, "fragment", "IPv4/IPv6 fragments of UDP datagrams, handed to reassembly")          \
  X(kNotIp, "not_ip", "frames carrying neither IPv4 nor IPv6 (ARP, LLDP, other families)")        \
  X(kNotUdp, "not_udp", "IP packets whose upper-layer protocol is not UDP (or is hidden by ESP)") \
  X(kTruncated, "truncated", "frames shorter than a link, IP or UDP header says they are")        \
  X(kBadHeader, "bad_header",                                                                     \
    "IP headers that are malformed: version, IHL, length, header order, over 16 IPv6 extension "  \
    "headers")

enum class ParseStatus : uint8_t {
#define FLOWGATE_X(e, n, h) e,
  FLOWGATE_PARSE_STATUSES(FLOWGATE_X)
#undef FLOWGATE_X
      kCount
};

inline constexpr std::array<std::string_view, static_cast<size_t>(ParseStatus::kCount)>
    kParseStatusNames = {
#define FLOWGATE_X(e, n, h) n,
        FLOWGATE_PARSE_STATUSES(FLOWGATE_X)
#undef FLOWGATE_X
};

inline constexpr std::array<std::string_view, static_cast<size_t>(ParseStatus::kCount)>
    kParseStatusHelp = {
#define FLOWGATE_X(e, n, h) h,
        FLOWGATE_PARSE_STATUSES(FLOWGATE_X)
#undef FLOWGATE_X
};

constexpr std::string_view parse_status_name(ParseStatus s) noexcept {
  return kParseStatusNames[static_cast<size_t>(s)];
}

inline constexpr uint8_t kIpProtoUdp = 17;

// Where a fragment belongs in its original datagram (RFC 791 §3.2, RFC 8200 §4.5).
struct FragmentInfo {
  bool is_fragment = false;
  bool more_fragments = false;
  uint16_t offset = 0;   // bytes from the start of the fragmentable part (wire value × 8)
  uint32_t id = 0;       // IPv4 Identification (16 bits) or IPv6 Fragment header Identification
  uint8_t protocol = 0;  // IPv4 Protocol, or the Next Header of the IPv6 Fragment header
};

// What parse_packet found. Spans point into the frame passed in.
struct ParsedPacket {
  decode::IpAddress src;
  decode::IpAddress dst;
  uint16_t src_port = 0;  // kUdp only
  uint16_t dst_port = 0;  // kUdp only
  // kUdp: the UDP payload. kFragment: this fragment's data (after the IPv4 header or the IPv6
  // Fragment header), to be placed at fragment.offset.
  decode::Bytes payload;
  uint8_t ip_version = 0;  // 4 or 6 once the IP header was read
  uint8_t protocol = 0;    // upper-layer protocol reached: 17 for kUdp, the other one for kNotUdp
  // The UDP length field disagreed with the bytes IP says the datagram has; the smaller of
  // the two was used (RFC 768 length vs RFC 791 total length / RFC 8200 payload length).
  bool udp_length_mismatch = false;
  FragmentInfo fragment;
};

// Parses one captured frame of the given link type down to UDP. Lengths come from the IP
// header, not from the capture, so Ethernet padding is ignored; a frame shorter than its IP
// header announces is kTruncated. Never reads outside `frame`.
ParseStatus parse_packet(LinkType link, decode::Bytes frame, ParsedPacket& out) noexcept;

// Parses the upper-layer part of a reassembled datagram: `protocol` is the IPv4 Protocol or
// the Next Header of the first fragment's Fragment header, `data` the reassembled
// fragmentable part. For IPv6 the extension headers that may follow a Fragment header
// (Destination Options, AH, ...) are skipped before UDP. Fills ports, payload, protocol and
// udp_length_mismatch of `out`; leaves its addresses alone.
ParseStatus parse_reassembled(uint8_t ip_version, uint8_t protocol, decode::Bytes data,
                              ParsedPacket& out) noexcept;

}  // namespace flowgate::dataplane
