#include "dataplane/packet_parser.hpp"

#include "decode/byte_order.hpp"

namespace flowgate::dataplane {

namespace {

using decode::Bytes;
using decode::load_be16;
using decode::load_be32;

constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
constexpr uint16_t kEtherTypeVlan = 0x8100;      // IEEE 802.1Q C-tag
constexpr uint16_t kEtherTypeQinQ = 0x88a8;      // IEEE 802.1ad S-tag
constexpr uint16_t kEtherTypeQinQOld1 = 0x9100;  // pre-802.1ad vendor S-tags, still seen
constexpr uint16_t kEtherTypeQinQOld2 = 0x9200;

constexpr size_t kEthernetHeader = 14;
constexpr size_t kVlanTag = 4;
constexpr size_t kSllHeader = 16;         // tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html
constexpr size_t kSll2Header = 20;        // tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html
constexpr uint16_t kArphrdNetlink = 824;  // SLL protocol field is then a netlink family
constexpr size_t kLoopbackHeader = 4;

constexpr size_t kIpv4MinHeader = 20;
constexpr size_t kIpv6Header = 40;
constexpr size_t kIpv6FragmentHeader = 8;
constexpr size_t kUdpHeader = 8;
// Extension headers walked before UDP (Fragment not counted) before the packet is bad_header.
constexpr size_t kMaxExtensionHeaders = 16;

// BSD AF_INET is 2 everywhere; AF_INET6 differs per OS: 24 NetBSD/OpenBSD, 28 FreeBSD,
// 30 Darwin, 10 Linux (tcpdump.org/linktypes/LINKTYPE_NULL.html).
constexpr uint32_t kBsdAfInet = 2;

// IPv6 Next Header values (IANA "IPv6 Extension Header Types", RFC 7045).
constexpr uint8_t kNhHopByHop = 0;
constexpr uint8_t kNhRouting = 43;
constexpr uint8_t kNhFragment = 44;
constexpr uint8_t kNhAh = 51;
constexpr uint8_t kNhDestOptions = 60;
constexpr uint8_t kNhMobility = 135;
constexpr uint8_t kNhHip = 139;
constexpr uint8_t kNhShim6 = 140;
constexpr uint8_t kNhExperiment1 = 253;
constexpr uint8_t kNhExperiment2 = 254;

const uint8_t* bytes_of(Bytes b) noexcept { return reinterpret_cast<const uint8_t*>(b.data()); }

bool is_bsd_af_inet6(uint32_t family) noexcept {
  return family == 10 || family == 24 || family == 28 || family == 30;
}

// Extension headers laid out as RFC 8200 §4.2 prescribes for unknown ones: Next Header, then
// Hdr Ext Len in 8-octet units not counting the first 8.
bool is_generic_extension(uint8_t nh) noexcept {
  return nh == kNhHopByHop || nh == kNhRouting || nh == kNhDestOptions || nh == kNhMobility ||
         nh == kNhHip || nh == kNhShim6 || nh == kNhExperiment1 || nh == kNhExperiment2;
}

ParseStatus parse_udp(Bytes l4, ParsedPacket& out) noexcept {
  out.protocol = kIpProtoUdp;
  if (l4.size() < kUdpHeader) return ParseStatus::kTruncated;
  const uint8_t* p = bytes_of(l4);
  out.src_port = load_be16(p);
  out.dst_port = load_be16(p + 2);
  const size_t udp_length = load_be16(p + 4);
  size_t end = l4.size();
  if (udp_length != end) {
    out.udp_length_mismatch = true;
    // Shorter than IP says: the rest is not UDP data (trust the smaller). Longer: only what IP
    // carried exists. Under 8 cannot be a UDP length at all (RFC 2675 jumbograms write 0), so
    // the IP length stands.
    if (udp_length >= kUdpHeader && udp_length < end) end = udp_length;
  }
  out.payload = l4.subspan(kUdpHeader, end - kUdpHeader);
  return ParseStatus::kUdp;
}

// Whether a fragment whose Fragment header names `nh` can still turn out to be UDP once
// reassembled: UDP itself, or an extension header that may sit between Fragment and UDP.
bool may_carry_udp(uint8_t nh) noexcept {
  return nh == kIpProtoUdp || nh == kNhAh || (is_generic_extension(nh) && nh != kNhHopByHop);
}

// Walks IPv6 extension headers from `nh` to UDP (RFC 8200 §4). `after_fragment` is set when
// walking a reassembled fragmentable part, where neither Hop-by-Hop nor another Fragment
// header may appear.
ParseStatus walk_ipv6(uint8_t nh, Bytes rest, bool after_fragment, ParsedPacket& out) noexcept {
  size_t headers = 0;
  for (bool first = !after_fragment;; first = false) {
    const uint8_t* p = bytes_of(rest);
    size_t length = 0;
    if (nh == kIpProtoUdp) return parse_udp(rest, out);
    if (nh == kNhFragment) {
      if (after_fragment) return ParseStatus::kBadHeader;
      if (rest.size() < kIpv6FragmentHeader) return ParseStatus::kTruncated;
      const uint16_t offset_flags = load_be16(p + 2);
      const uint16_t offset = offset_flags & 0xfff8;  // 13-bit offset in 8-octet units, in place
      const bool more = (offset_flags & 1) != 0;
      const uint8_t next = p[0];
      rest = rest.subspan(kIpv6FragmentHeader);
      after_fragment = true;
      nh = next;
      // RFC 6946: offset 0 and M = 0 is an "atomic fragment", a whole packet that is
      // processed without reassembly.
      if (offset == 0 && !more) continue;
      out.fragment = FragmentInfo{true, more, offset, load_be32(p + 4), next};
      out.protocol = next;
      if (!may_carry_udp(next)) return ParseStatus::kNotUdp;
      out.payload = rest;
      return ParseStatus::kFragment;
    }
    if (is_generic_extension(nh)) {
      // RFC 8200 §4.3: Hop-by-Hop Options must immediately follow the IPv6 header.
      if (nh == kNhHopByHop && !first) return ParseStatus::kBadHeader;
      if (rest.size() < 2) return ParseStatus::kTruncated;
      length = (size_t{p[1]} + 1) * 8;
    } else if (nh == kNhAh) {
      // RFC 4302 §2.2: AH Payload Len is in 4-octet units, minus 2.
      if (rest.size() < 2) return ParseStatus::kTruncated;
      length = (size_t{p[1]} + 2) * 4;
    } else {
      // ESP (its payload is encrypted), No Next Header, TCP, ICMPv6, ...
      out.protocol = nh;
      return ParseStatus::kNotUdp;
    }
    if (rest.size() < length) return ParseStatus::kTruncated;
    // RFC 8504 §5.3 lets a node bound the chain; real packets carry a few headers, and a long
    // chain of empty ones is only a way to make every packet cost more.
    if (++headers > kMaxExtensionHeaders) return ParseStatus::kBadHeader;
    nh = p[0];
    rest = rest.subspan(length);
  }
}

ParseStatus parse_ipv4(Bytes b, ParsedPacket& out) noexcept {
  if (b.size() < kIpv4MinHeader) return ParseStatus::kTruncated;
  const uint8_t* p = bytes_of(b);
  if ((p[0] >> 4) != 4) return ParseStatus::kBadHeader;
  const size_t header = size_t{p[0] & 0x0fu} * 4;  // IHL counts 32-bit words (RFC 791 §3.1)
  if (header < kIpv4MinHeader) return ParseStatus::kBadHeader;
  size_t total = load_be16(p + 2);
  // Captures of locally sent packets with segmentation offload show Total Length 0; the
  // captured bytes are the packet then (Wireshark does the same).
  if (total == 0) total = b.size() < 0xffff ? b.size() : 0xffff;
  if (total < header) return ParseStatus::kBadHeader;
  if (b.size() < header || b.size() < total) return ParseStatus::kTruncated;

  out.ip_version = 4;
  out.src = decode::IpAddress::from_v4_bytes(p + 12);
  out.dst = decode::IpAddress::from_v4_bytes(p + 16);
  out.protocol = p[9];
  // Bytes past Total Length are link padding (Ethernet pads to 60 bytes).
  const Bytes l4 = b.subspan(header, total - header);

  const uint16_t flags_offset = load_be16(p + 6);
  const bool more = (flags_offset & 0x2000) != 0;
  const auto offset = static_cast<uint16_t>((flags_offset & 0x1fff) * 8);
  if (more || offset != 0) {
    out.fragment = FragmentInfo{true, more, offset, load_be16(p + 4), p[9]};
    if (p[9] != kIpProtoUdp) return ParseStatus::kNotUdp;
    out.payload = l4;
    return ParseStatus::kFragment;
  }
  if (p[9] != kIpProtoUdp) return ParseStatus::kNotUdp;
  return parse_udp(l4, out);
}

ParseStatus parse_ipv6(Bytes b, ParsedPacket& out) noexcept {
  if (b.size() < kIpv6Header) return ParseStatus::kTruncated;
  const uint8_t* p = bytes_of(b);
  if ((p[0] >> 4) != 6) return ParseStatus::kBadHeader;
  const size_t payload = load_be16(p + 4);
  if (b.size() - kIpv6Header < payload) return ParseStatus::kTruncated;
  out.ip_version = 6;
  out.src = decode::IpAddress::from_v6_bytes(p + 8);
  out.dst = decode::IpAddress::from_v6_bytes(p + 24);
  return walk_ipv6(p[6], b.subspan(kIpv6Header, payload), false, out);
}

ParseStatus parse_ethertype(uint16_t type, Bytes rest, ParsedPacket& out) noexcept {
  // Any depth of 802.1Q / 802.1ad tags (QinQ and deeper); each tag is TCI then EtherType.
  while (type == kEtherTypeVlan || type == kEtherTypeQinQ || type == kEtherTypeQinQOld1 ||
         type == kEtherTypeQinQOld2) {
    if (rest.size() < kVlanTag) return ParseStatus::kTruncated;
    type = load_be16(bytes_of(rest) + 2);
    rest = rest.subspan(kVlanTag);
  }
  if (type == kEtherTypeIpv4) return parse_ipv4(rest, out);
  if (type == kEtherTypeIpv6) return parse_ipv6(rest, out);
  return ParseStatus::kNotIp;
}

ParseStatus parse_loopback(uint32_t family, Bytes rest, ParsedPacket& out) noexcept {
  if (family == kBsdAfInet) return parse_ipv4(rest, out);
  if (is_bsd_af_inet6(family)) return parse_ipv6(rest, out);
  return ParseStatus::kNotIp;
}

ParseStatus parse_raw(Bytes b, ParsedPacket& out) noexcept {
  if (b.empty()) return ParseStatus::kTruncated;
  const unsigned version = bytes_of(b)[0] >> 4;
  if (version == 4) return parse_ipv4(b, out);
  if (version == 6) return parse_ipv6(b, out);
  return ParseStatus::kBadHeader;
}

}  // namespace

ParseStatus parse_packet(LinkType link, Bytes frame, ParsedPacket& out) noexcept {
  out = ParsedPacket{};
  const uint8_t* p = bytes_of(frame);
  switch (link) {
    case LinkType::kEthernet:
      if (frame.size() < kEthernetHeader) return ParseStatus::kTruncated;
      return parse_ethertype(load_be16(p + 12), frame.subspan(kEthernetHeader), out);
    case LinkType::kLinuxSll:
      if (frame.size() < kSllHeader) return ParseStatus::kTruncated;
      if (load_be16(p + 2) == kArphrdNetlink) return ParseStatus::kNotIp;
      return parse_ethertype(load_be16(p + 14), frame.subspan(kSllHeader), out);
    case LinkType::kLinuxSll2:
      if (frame.size() < kSll2Header) return ParseStatus::kTruncated;
      if (load_be16(p + 8) == kArphrdNetlink) return ParseStatus::kNotIp;
      return parse_ethertype(load_be16(p), frame.subspan(kSll2Header), out);
    case LinkType::kNull: {
      if (frame.size() < kLoopbackHeader) return ParseStatus::kTruncated;
      // The family is in the byte order of the host that wrote the capture, which the file
      // does not record; families are small numbers, so a value above 16 bits is swapped.
      uint32_t family = load_be32(p);
      if (family > 0xffff) family = __builtin_bswap32(family);
      return parse_loopback(family, frame.subspan(kLoopbackHeader), out);
    }
    case LinkType::kLoop:
      if (frame.size() < kLoopbackHeader) return ParseStatus::kTruncated;
      return parse_loopback(load_be32(p), frame.subspan(kLoopbackHeader), out);
    case LinkType::kRaw:
      return parse_raw(frame, out);
    case LinkType::kIpv4:
      return parse_ipv4(frame, out);
    case LinkType::kIpv6:
      return parse_ipv6(frame, out);
  }
  return ParseStatus::kNotIp;
}

ParseStatus parse_reassembled(uint8_t ip_version, uint8_t protocol, Bytes data,
                              ParsedPacket& out) noexcept {
  out.protocol = protocol;
  out.udp_length_mismatch = false;
  if (ip_version == 6) return walk_ipv6(protocol, data, true, out);
  if (protocol != kIpProtoUdp) return ParseStatus::kNotUdp;
  return parse_udp(data, out);
}

}  // namespace flowgate::dataplane
