#include "decode/sflow_decoder.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "decode/byte_order.hpp"

namespace flowgate::decode {
namespace {

// Section and structure names below are those of sflow.org sflow_version_5.txt. Every
// structure is XDR (RFC 4506): big-endian 32-bit words, opaque data padded to 4 bytes.

constexpr uint32_t kVersion = 5;
constexpr uint32_t kAddressIpv4 = 1;
constexpr uint32_t kAddressIpv6 = 2;

// sample_record sample_type, enterprise 0.
constexpr uint32_t kFlowSample = 1;
constexpr uint32_t kCounterSample = 2;
constexpr uint32_t kExpandedFlowSample = 3;
constexpr uint32_t kExpandedCounterSample = 4;
constexpr uint32_t kDiscardedPacket = 5;  // sflow.org sflow_drops.txt

// flow_record flow_format, enterprise 0.
constexpr uint32_t kRawPacketHeader = 1;
constexpr uint32_t kSampledEthernet = 2;
constexpr uint32_t kSampledIpv4 = 3;
constexpr uint32_t kSampledIpv6 = 4;
constexpr uint32_t kExtendedSwitch = 1001;
constexpr uint32_t kExtendedRouter = 1002;
constexpr uint32_t kExtendedGateway = 1003;

// counter_record counter_format, enterprise 0.
constexpr uint32_t kGenericInterface = 1;
constexpr uint32_t kEthernetInterface = 2;

// sampled_header header_protocol.
constexpr uint32_t kHeaderEthernet = 1;  // ETHERNET-ISO88023
constexpr uint32_t kHeaderIpv4 = 11;
constexpr uint32_t kHeaderIpv6 = 12;
constexpr uint32_t kHeaderMpls = 13;

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherMpls = 0x8847;
constexpr uint16_t kEtherMplsMulticast = 0x8848;

constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIcmpv6 = 58;
constexpr uint8_t kProtoSctp = 132;

// Bounds on header walks; each step also consumes bytes, so these only cut pathological chains.
constexpr int kMaxVlanTags = 4;
constexpr int kMaxIpv6ExtensionHeaders = 8;

// Fixed sizes (bytes) of the structures read.
constexpr size_t kFlowSampleFixed = 32;          // flow_sample up to the record count
constexpr size_t kExpandedFlowSampleFixed = 44;  // expanded_flow_sample up to the record count
constexpr size_t kCounterSampleFixed = 12;
constexpr size_t kExpandedCounterSampleFixed = 16;
constexpr size_t kSampledHeaderFixed = 16;     // protocol, frame_length, stripped, header length
constexpr size_t kSampledEthernetLength = 24;  // length, src mac<6+2>, dst mac<6+2>, type
constexpr size_t kSampledIpv4Length = 32;
constexpr size_t kSampledIpv6Length = 56;
constexpr size_t kExtendedSwitchLength = 16;
constexpr size_t kGenericInterfaceLength = 88;
constexpr size_t kEthernetInterfaceLength = 52;

size_t remaining(const uint8_t* p, const uint8_t* end) noexcept {
  return static_cast<size_t>(end - p);
}

uint64_t load_mac(const uint8_t* p) noexcept {
  return (uint64_t{load_be16(p)} << 32) | load_be32(p + 2);
}

// An sFlow `address` union as read from the wire: 0 (UNKNOWN: void), 4 or 16 bytes at `bytes`.
struct WireAddress {
  const uint8_t* bytes = nullptr;
  size_t length = 0;

  // 0.0.0.0, :: or no address: an agent's way of saying "no next hop".
  bool unspecified() const noexcept {
    for (size_t i = 0; i < length; ++i) {
      if (bytes[i] != 0) return false;
    }
    return true;
  }
};

// Reads an `address` (type word, then 0, 4 or 16 bytes). Returns kOk, kBadAddress for an
// unknown type, or kBadSample when the address does not fit.
DecodeStatus read_address(const uint8_t*& p, const uint8_t* end, WireAddress& out) noexcept {
  if (remaining(p, end) < 4) return DecodeStatus::kBadSample;
  const uint32_t type = load_be32(p);
  switch (type) {
    case 0:
      out.length = 0;
      break;
    case kAddressIpv4:
      out.length = 4;
      break;
    case kAddressIpv6:
      out.length = 16;
      break;
    default:
      return DecodeStatus::kBadAddress;
  }
  if (remaining(p, end) - 4 < out.length) return DecodeStatus::kBadSample;
  out.bytes = p + 4;
  p += 4 + out.length;
  return DecodeStatus::kOk;
}

// The same test on a stored address (zero, or v4-mapped 0.0.0.0), without IpAddress::is_v4's
// memcmp: this runs per extended router/gateway record.
bool unspecified(const IpAddress& a) noexcept {
  static constexpr uint8_t kMappedZero[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0};
  uint64_t w[2];
  uint64_t m[2];
  std::memcpy(w, a.bytes.data(), 16);
  std::memcpy(m, kMappedZero, 16);
  return w[0] == 0 && (w[1] == 0 || w[1] == m[1]);
}

// Address columns are written in place: building an IpAddress on the stack and copying it
// makes the 16-byte reload wait on the narrower stores that built it (a store-forwarding stall
// that showed in the benchmark), and so does any other per-record temporary copied to the row.
void store_v4(IpAddress& a, const uint8_t* p) noexcept {
  std::memset(a.bytes.data(), 0, 10);
  a.bytes[10] = 0xff;
  a.bytes[11] = 0xff;
  std::memcpy(a.bytes.data() + 12, p, 4);
}
void store_v6(IpAddress& a, const uint8_t* p) noexcept { std::memcpy(a.bytes.data(), p, 16); }
void store_address(IpAddress& a, const WireAddress& w) noexcept {
  if (w.length == 4) {
    store_v4(a, w.bytes);
  } else if (w.length == 16) {
    store_v6(a, w.bytes);
  } else {
    a = {};
  }
}

// The row of the flow sample being decoded, and what its records have said so far. Records are
// written straight into the row (append_row zeroed it) in whatever order they come; the few
// fields that depend on several records are resolved by finish().
struct FlowRow {
  enum : uint32_t {
    kRawHeader = 1u << 0,
    kHeaderMac = 1u << 1,  // MACs from the raw header's Ethernet header
    kHeaderL3 = 1u << 2,   // the raw header reached the IP addresses
    kEthernetRecord = 1u << 3,
  };
  FlowBlock& b;
  uint32_t r;
  uint32_t present = 0;
  uint32_t frame_length = 0;      // raw packet header
  uint32_t ethernet_length = 0;   // sampled Ethernet
  uint32_t ip_length = 0;         // sampled IPv4/IPv6
  uint16_t frame_ether_type = 0;  // what the raw header's frame says, even if cut short
  uint16_t ethernet_type = 0;     // sampled Ethernet's type
  uint16_t header_vlan = 0;       // outermost 802.1Q/802.1ad VLAN ID of the raw header
  uint16_t switch_src_vlan = 0;
  uint16_t switch_dst_vlan = 0;

  bool has(uint32_t f) const noexcept { return (present & f) != 0; }

  // The L3/L4 columns are all set together (from one source), so that a raw header never
  // leaves ports or flags of a sampled IPv4/IPv6 record behind.
  void set_l3(uint8_t protocol, uint8_t tos, uint16_t ether_type) noexcept {
    b.protocol[r] = protocol;
    b.tos[r] = tos;
    b.ether_type[r] = ether_type;
    b.src_port[r] = 0;
    b.dst_port[r] = 0;
    b.tcp_flags[r] = 0;
  }

  void finish() noexcept {
    // bytes: the sampled frame's original length (raw header), else the sampled Ethernet
    // frame's length, else the sampled IP packet's length.
    b.bytes[r] = has(kRawHeader)        ? frame_length
                 : has(kEthernetRecord) ? ethernet_length
                                        : ip_length;
    // ether type: of the IP header read (set_l3), else what the frame says, else the sampled
    // Ethernet record's type when it is IPv4 or IPv6.
    if (b.ether_type[r] == 0) {
      if (frame_ether_type != 0) {
        b.ether_type[r] = frame_ether_type;
      } else if (ethernet_type == kEtherIpv4 || ethernet_type == kEtherIpv6) {
        b.ether_type[r] = ethernet_type;
      }
    }
    // One VLAN column: the ingress VLAN of the extended switch record, else the outer tag of
    // the sampled frame, else the egress VLAN.
    b.vlan[r] = switch_src_vlan != 0 ? switch_src_vlan
                : header_vlan != 0   ? header_vlan
                                     : switch_dst_vlan;
  }
};

// Transport ports and flags (RFC 793 / 768 / 4960). ICMP and ICMPv6 carry type and code in
// place of ports as NetFlow exporters do (dst port = type << 8 | code, src port 0), so that
// sFlow and NetFlow records of one ICMP flow look alike.
void parse_l4(uint8_t protocol, const uint8_t* p, const uint8_t* end, FlowRow& row) noexcept {
  const size_t n = remaining(p, end);
  FlowBlock& b = row.b;
  const uint32_t r = row.r;
  switch (protocol) {
    case kProtoTcp:
      if (n >= 4) {
        b.src_port[r] = load_be16(p);
        b.dst_port[r] = load_be16(p + 2);
      }
      if (n >= 14) b.tcp_flags[r] = p[13];
      return;
    case kProtoUdp:
    case kProtoSctp:
      if (n >= 4) {
        b.src_port[r] = load_be16(p);
        b.dst_port[r] = load_be16(p + 2);
      }
      return;
    case kProtoIcmp:
    case kProtoIcmpv6:
      if (n >= 2) b.dst_port[r] = static_cast<uint16_t>((p[0] << 8) | p[1]);
      return;
    default:
      return;
  }
}

// RFC 791. Non-first fragments (offset != 0) carry no transport header: their ports stay 0.
void parse_ipv4(const uint8_t* p, const uint8_t* end, FlowRow& row) noexcept {
  if (remaining(p, end) < 20 || (p[0] >> 4) != 4) return;
  const size_t ihl = size_t{p[0] & 0x0fu} * 4;
  if (ihl < 20) return;
  row.present |= FlowRow::kHeaderL3;
  row.set_l3(p[9], p[1], kEtherIpv4);
  store_v4(row.b.src_addr[row.r], p + 12);
  store_v4(row.b.dst_addr[row.r], p + 16);
  if ((load_be16(p + 6) & 0x1fff) != 0) return;
  if (remaining(p, end) < ihl) return;  // options cut off by the sampled header length
  parse_l4(p[9], p + ihl, end, row);
}

// RFC 8200. Walks hop-by-hop (0), routing (43), fragment (44), destination options (60) and
// AH (51, RFC 4302) headers to the upper-layer protocol; `protocol` is the last next-header
// value reached when the sampled header ends inside the chain.
void parse_ipv6(const uint8_t* p, const uint8_t* end, FlowRow& row) noexcept {
  if (remaining(p, end) < 40 || (p[0] >> 4) != 6) return;
  uint8_t next = p[6];
  row.present |= FlowRow::kHeaderL3;
  row.set_l3(next, static_cast<uint8_t>(load_be16(p) >> 4) /* traffic class */, kEtherIpv6);
  store_v6(row.b.src_addr[row.r], p + 8);
  store_v6(row.b.dst_addr[row.r], p + 24);
  p += 40;
  for (int i = 0; i < kMaxIpv6ExtensionHeaders; ++i) {
    size_t length = 0;
    switch (next) {
      case 0:   // hop-by-hop options (§4.3)
      case 43:  // routing (§4.4)
      case 60:  // destination options (§4.6): length in 8-octet units after the first 8
        if (remaining(p, end) < 2) break;
        length = (size_t{p[1]} + 1) * 8;
        break;
      case 44:  // fragment (§4.5): fixed 8 bytes; only offset 0 carries the upper header
        if (remaining(p, end) < 8) break;
        if ((load_be16(p + 2) >> 3) != 0) {
          row.b.protocol[row.r] = p[0];
          return;
        }
        length = 8;
        break;
      case 51:  // AH (RFC 4302 §2.2): length in 4-octet units, minus 2
        if (remaining(p, end) < 2) break;
        length = (size_t{p[1]} + 2) * 4;
        break;
      default:
        row.b.protocol[row.r] = next;
        parse_l4(next, p, end, row);
        return;
    }
    if (length == 0 || remaining(p, end) < length) break;
    next = p[0];
    p += length;
  }
  row.b.protocol[row.r] = next;
}

// The sampled header (sampled_header.header) down to the transport header. Ethernet with up to
// kMaxVlanTags 802.1Q / 802.1ad (QinQ, also the pre-standard 0x9100 / 0x9200) tags, MPLS label
// stacks (RFC 3032) to the bottom-of-stack label, then IPv4 or IPv6 by the first nibble as
// there is no payload type in MPLS.
void parse_header(uint32_t protocol, const uint8_t* p, const uint8_t* end, FlowRow& row,
                  DecodeCounters& c) noexcept {
  uint16_t type = 0;
  switch (protocol) {
    case kHeaderEthernet: {
      if (remaining(p, end) < 14) return;
      row.b.dst_mac[row.r] = load_mac(p);
      row.b.src_mac[row.r] = load_mac(p + 6);
      row.present |= FlowRow::kHeaderMac;
      type = load_be16(p + 12);
      p += 14;
      for (int tag = 0; tag < kMaxVlanTags; ++tag) {
        if (type != 0x8100 && type != 0x88a8 && type != 0x9100 && type != 0x9200) break;
        if (remaining(p, end) < 4) return;
        if (tag == 0) row.header_vlan = load_be16(p) & 0x0fff;
        type = load_be16(p + 2);
        p += 4;
      }
      break;
    }
    case kHeaderIpv4:
      type = kEtherIpv4;
      break;
    case kHeaderIpv6:
      type = kEtherIpv6;
      break;
    case kHeaderMpls:
      type = kEtherMpls;
      break;
    default:
      ++c.sflow_headers_unparsed;
      return;
  }
  if (type == kEtherMpls || type == kEtherMplsMulticast) {
    for (;;) {
      if (remaining(p, end) < 4) return;
      const bool bottom = (p[2] & 0x01) != 0;
      p += 4;
      if (bottom) break;
    }
    if (p == end) return;
    switch (p[0] >> 4) {
      case 4:
        type = kEtherIpv4;
        break;
      case 6:
        type = kEtherIpv6;
        break;
      default:
        return;  // pseudowire control word, Ethernet over MPLS: not followed
    }
  }
  if (type == kEtherIpv4) {
    row.frame_ether_type = kEtherIpv4;
    parse_ipv4(p, end, row);
  } else if (type == kEtherIpv6) {
    row.frame_ether_type = kEtherIpv6;
    parse_ipv6(p, end, row);
  }
}

// One flow_record of a flow sample. Returns kOk, kBadSample (the record is shorter than its
// structure) or kBadAddress.
DecodeStatus parse_flow_record(uint32_t format, const uint8_t* p, const uint8_t* end, FlowRow& row,
                               DecodeCounters& c) noexcept {
  const size_t n = remaining(p, end);
  FlowBlock& b = row.b;
  const uint32_t r = row.r;
  switch (format) {
    case kRawPacketHeader: {
      if (n < kSampledHeaderFixed) return DecodeStatus::kBadSample;
      const uint32_t header_length = load_be32(p + 12);
      if (header_length > n - kSampledHeaderFixed) return DecodeStatus::kBadSample;
      if (row.has(FlowRow::kRawHeader)) return DecodeStatus::kOk;  // the first one counts
      row.present |= FlowRow::kRawHeader;
      // frame_length: the original frame's length, not the captured header's.
      row.frame_length = load_be32(p + 4);
      const uint8_t* h = p + kSampledHeaderFixed;
      parse_header(load_be32(p), h, h + header_length, row, c);
      return DecodeStatus::kOk;
    }
    case kSampledEthernet:
      if (n < kSampledEthernetLength) return DecodeStatus::kBadSample;
      row.present |= FlowRow::kEthernetRecord;
      row.ethernet_length = load_be32(p);
      row.ethernet_type = static_cast<uint16_t>(load_be32(p + 20));
      if (!row.has(FlowRow::kHeaderMac)) {  // the raw header's Ethernet header outranks it
        b.src_mac[r] = load_mac(p + 4);
        b.dst_mac[r] = load_mac(p + 12);
      }
      return DecodeStatus::kOk;
    case kSampledIpv4:
    case kSampledIpv6: {
      const bool v4 = format == kSampledIpv4;
      if (n < (v4 ? kSampledIpv4Length : kSampledIpv6Length)) return DecodeStatus::kBadSample;
      row.ip_length = load_be32(p);
      // A raw header that reached the IP header outranks the sampled IPv4/IPv6 record for the
      // L3/L4 fields: it is the packet itself. Without one (no header, a non-IP frame, or a
      // header cut before the addresses) the record's values are used.
      if (row.has(FlowRow::kHeaderL3)) return DecodeStatus::kOk;
      const size_t alen = v4 ? 4 : 16;
      const uint8_t* q = p + 8 + 2 * alen;  // after length, protocol, src, dst
      row.set_l3(static_cast<uint8_t>(load_be32(p + 4)),
                 static_cast<uint8_t>(load_be32(q + 12)),  // IPv4 tos / IPv6 priority
                 v4 ? kEtherIpv4 : kEtherIpv6);
      if (v4) {
        store_v4(b.src_addr[r], p + 8);
        store_v4(b.dst_addr[r], p + 12);
      } else {
        store_v6(b.src_addr[r], p + 8);
        store_v6(b.dst_addr[r], p + 24);
      }
      b.src_port[r] = static_cast<uint16_t>(load_be32(q));
      b.dst_port[r] = static_cast<uint16_t>(load_be32(q + 4));
      b.tcp_flags[r] = static_cast<uint8_t>(load_be32(q + 8));
      return DecodeStatus::kOk;
    }
    case kExtendedSwitch:
      if (n < kExtendedSwitchLength) return DecodeStatus::kBadSample;
      row.switch_src_vlan = static_cast<uint16_t>(load_be32(p) & 0x0fff);
      row.switch_dst_vlan = static_cast<uint16_t>(load_be32(p + 8) & 0x0fff);
      return DecodeStatus::kOk;
    case kExtendedRouter: {
      WireAddress next_hop;
      if (const DecodeStatus st = read_address(p, end, next_hop); st != DecodeStatus::kOk)
        return st;
      if (remaining(p, end) < 8) return DecodeStatus::kBadSample;
      // The extended router's next hop is the IP next hop; the gateway's (BGP) one stands in
      // only when the router's is absent or unspecified.
      if (!next_hop.unspecified() || unspecified(b.next_hop[r])) {
        store_address(b.next_hop[r], next_hop);
      }
      b.src_mask[r] = static_cast<uint8_t>(load_be32(p));
      b.dst_mask[r] = static_cast<uint8_t>(load_be32(p + 4));
      return DecodeStatus::kOk;
    }
    case kExtendedGateway: {
      WireAddress next_hop;
      if (const DecodeStatus st = read_address(p, end, next_hop); st != DecodeStatus::kOk)
        return st;
      // as, src_as, src_peer_as, then dst_as_path<> of as_path_type segments.
      if (remaining(p, end) < 16) return DecodeStatus::kBadSample;
      const uint32_t router_as = load_be32(p);
      const uint32_t src_as = load_be32(p + 4);
      uint32_t segments = load_be32(p + 12);
      p += 16;
      uint32_t last_as = 0;
      bool path = false;
      for (; segments > 0; --segments) {
        if (remaining(p, end) < 8) return DecodeStatus::kBadSample;
        const uint32_t count = load_be32(p + 4);  // after the segment type (AS_SET/SEQUENCE)
        p += 8;
        if (count > remaining(p, end) / 4) return DecodeStatus::kBadSample;
        if (count > 0) {
          last_as = load_be32(p + (size_t{count} - 1) * 4);
          path = true;
        }
        p += size_t{count} * 4;
      }
      // communities<>, localpref: checked for length, not kept.
      if (remaining(p, end) < 4) return DecodeStatus::kBadSample;
      const uint32_t communities = load_be32(p);
      p += 4;
      if (communities > remaining(p, end) / 4) return DecodeStatus::kBadSample;
      p += size_t{communities} * 4;
      if (remaining(p, end) < 4) return DecodeStatus::kBadSample;
      if (unspecified(b.next_hop[r])) store_address(b.next_hop[r], next_hop);
      // As goflow2 (producer_sf.go): the destination AS is the last AS of the path (the origin),
      // or the router's own AS when the path is empty (the destination is local); a source AS
      // of 0 means the router's own AS too.
      b.dst_as[r] = path ? last_as : router_as;
      b.src_as[r] = src_as != 0 ? src_as : router_as;
      return DecodeStatus::kOk;
    }
    default:
      ++c.sflow_skipped_records;
      return DecodeStatus::kOk;
  }
}

// The interface encoding of a compact flow_sample: the top 2 bits are the format, 0 = ifIndex
// in the low 30 bits. 1 (packet discarded, low bits = reason code) and 2 (multiple interfaces,
// low bits = their count) name no single interface: the row gets 0 for that side.
uint32_t compact_interface(uint32_t v) noexcept { return (v >> 30) == 0 ? v & 0x3fffffff : 0; }

// interface_expanded: a format word (same meanings as above) and a 32-bit value.
uint32_t expanded_interface(uint32_t format, uint32_t value) noexcept {
  return format == 0 ? value : 0;
}

struct DatagramHeader {
  IpAddress agent;
  uint32_t sub_agent = 0;
  uint32_t sequence = 0;
};

// Walks the `count` records (flow_record / counter_record) of a sample: calls
// fn(format, data, end) for each enterprise-0 record and counts the others as skipped. Bytes
// after the last record (some agents pad samples) are counted as padding.
template <typename Fn>
DecodeStatus for_each_record(uint32_t count, const uint8_t* p, const uint8_t* end,
                             DecodeCounters& c, Fn&& fn) noexcept {
  for (uint32_t i = 0; i < count; ++i) {
    if (remaining(p, end) < 8) return DecodeStatus::kBadSample;
    const uint32_t type = load_be32(p);
    const uint32_t length = load_be32(p + 4);
    p += 8;
    if (length > remaining(p, end)) return DecodeStatus::kBadSample;
    const uint8_t* record_end = p + length;
    if ((type >> 12) != 0) {
      ++c.sflow_skipped_records;  // enterprise-specific (data_format: 20-bit enterprise)
    } else {
      const DecodeStatus s = fn(type & 0xfff, p, record_end);
      if (s != DecodeStatus::kOk) return s;
    }
    p = record_end;
  }
  c.padding_bytes += remaining(p, end);
  return DecodeStatus::kOk;
}

DecodeStatus decode_flow_sample(const uint8_t* p, const uint8_t* end, bool expanded,
                                const DatagramHeader& h, const DatagramMeta& meta, FlowOutput& out,
                                DecodeCounters& c) noexcept {
  uint32_t sampling_rate = 0;
  uint32_t in_if = 0;
  uint32_t out_if = 0;
  uint32_t records = 0;
  if (!expanded) {
    // sequence, source_id, sampling_rate, sample_pool, drops, input, output, records
    if (remaining(p, end) < kFlowSampleFixed) return DecodeStatus::kBadSample;
    sampling_rate = load_be32(p + 8);
    in_if = compact_interface(load_be32(p + 20));
    out_if = compact_interface(load_be32(p + 24));
    records = load_be32(p + 28);
    p += kFlowSampleFixed;
  } else {
    // sequence, source type, source index, sampling_rate, sample_pool, drops,
    // input format/value, output format/value, records
    if (remaining(p, end) < kExpandedFlowSampleFixed) return DecodeStatus::kBadSample;
    sampling_rate = load_be32(p + 12);
    in_if = expanded_interface(load_be32(p + 24), load_be32(p + 28));
    out_if = expanded_interface(load_be32(p + 32), load_be32(p + 36));
    records = load_be32(p + 40);
    p += kExpandedFlowSampleFixed;
  }
  const uint32_t r = out.next_row();
  if (r == FlowOutput::kNoRow) {
    // Nowhere to decode into: the sample is dropped unparsed (its records unchecked).
    ++c.sflow_flow_samples;
    ++c.block_unavailable;
    return DecodeStatus::kOk;
  }
  FlowBlock& b = *out.block();
  FlowRow row{b, r};
  const DecodeStatus s = for_each_record(
      records, p, end, c, [&](uint32_t format, const uint8_t* rec, const uint8_t* rec_end) {
        return parse_flow_record(format, rec, rec_end, row, c);
      });
  if (s != DecodeStatus::kOk) {
    --b.size;  // the sample is malformed: drop its half-written row (the block's last)
    return s;
  }
  ++c.sflow_flow_samples;
  row.finish();
  b.packets[r] = 1;
  b.in_if[r] = in_if;
  b.out_if[r] = out_if;
  b.sampling_rate[r] = sampling_rate;
  b.direction[r] = Direction::kIngress;
  // sFlow carries no flow times: start = end = the receive time (as goflow2).
  b.start_ms[r] = b.end_ms[r] = meta.receive_ns / 1'000'000;
  b.exporter_addr[r] = h.agent;
  b.exporter_port[r] = meta.exporter_port;
  b.listener[r] = meta.listener;
  b.observation_domain[r] = h.sub_agent;
  b.sequence[r] = h.sequence;
  b.flow_type[r] = FlowType::kSflow5;
  ++c.records;
  return DecodeStatus::kOk;
}

void read_generic(const uint8_t* p, GenericInterfaceCounters& g) noexcept {
  g.if_index = load_be32(p);
  g.if_type = load_be32(p + 4);
  g.if_speed = load_be64(p + 8);
  g.if_direction = load_be32(p + 16);
  g.if_status = load_be32(p + 20);
  g.in_octets = load_be64(p + 24);
  g.in_ucast_pkts = load_be32(p + 32);
  g.in_multicast_pkts = load_be32(p + 36);
  g.in_broadcast_pkts = load_be32(p + 40);
  g.in_discards = load_be32(p + 44);
  g.in_errors = load_be32(p + 48);
  g.in_unknown_protos = load_be32(p + 52);
  g.out_octets = load_be64(p + 56);
  g.out_ucast_pkts = load_be32(p + 64);
  g.out_multicast_pkts = load_be32(p + 68);
  g.out_broadcast_pkts = load_be32(p + 72);
  g.out_discards = load_be32(p + 76);
  g.out_errors = load_be32(p + 80);
  g.promiscuous_mode = load_be32(p + 84);
}

void read_ethernet(const uint8_t* p, EthernetInterfaceCounters& e) noexcept {
  e.alignment_errors = load_be32(p);
  e.fcs_errors = load_be32(p + 4);
  e.single_collision_frames = load_be32(p + 8);
  e.multiple_collision_frames = load_be32(p + 12);
  e.sqe_test_errors = load_be32(p + 16);
  e.deferred_transmissions = load_be32(p + 20);
  e.late_collisions = load_be32(p + 24);
  e.excessive_collisions = load_be32(p + 28);
  e.internal_mac_transmit_errors = load_be32(p + 32);
  e.carrier_sense_errors = load_be32(p + 36);
  e.frame_too_longs = load_be32(p + 40);
  e.internal_mac_receive_errors = load_be32(p + 44);
  e.symbol_errors = load_be32(p + 48);
}

DecodeStatus decode_counter_sample(const uint8_t* p, const uint8_t* end, bool expanded,
                                   const DatagramHeader& h, const DatagramMeta& meta,
                                   InterfaceCounterStore* store, DecodeCounters& c) noexcept {
  uint32_t source_type = 0;
  uint32_t source_index = 0;
  uint32_t records = 0;
  const uint8_t* sample = p;
  if (!expanded) {
    // sequence, source_id (type in the top 8 bits, index in the low 24), records
    if (remaining(p, end) < kCounterSampleFixed) return DecodeStatus::kBadSample;
    source_type = p[4];
    source_index = load_be32(p + 4) & 0x00ffffff;
    records = load_be32(p + 8);
    p += kCounterSampleFixed;
  } else {
    // sequence, source type, source index, records
    if (remaining(p, end) < kExpandedCounterSampleFixed) return DecodeStatus::kBadSample;
    source_type = load_be32(p + 4);
    source_index = load_be32(p + 8);
    records = load_be32(p + 12);
    p += kExpandedCounterSampleFixed;
  }
  const uint8_t* generic = nullptr;
  const uint8_t* ethernet = nullptr;
  const DecodeStatus s = for_each_record(
      records, p, end, c, [&](uint32_t format, const uint8_t* r, const uint8_t* r_end) noexcept {
        const size_t n = remaining(r, r_end);
        if (format == kGenericInterface) {
          if (n < kGenericInterfaceLength) return DecodeStatus::kBadSample;
          generic = r;
        } else if (format == kEthernetInterface) {
          if (n < kEthernetInterfaceLength) return DecodeStatus::kBadSample;
          ethernet = r;
        } else {
          ++c.sflow_skipped_records;  // processor, VLAN, host, ... counters: not kept
        }
        return DecodeStatus::kOk;
      });
  if (s != DecodeStatus::kOk) return s;
  ++c.sflow_counter_samples;
  if (store == nullptr || (generic == nullptr && ethernet == nullptr)) return DecodeStatus::kOk;

  // Keyed by the generic record's ifIndex; Ethernet counters alone carry none, so the data
  // source index stands in when the source is an interface (source type 0 = ifIndex).
  uint32_t if_index = 0;
  if (generic != nullptr) {
    if_index = load_be32(generic);
  } else if (source_type == 0) {
    if_index = source_index;
  } else {
    return DecodeStatus::kOk;
  }
  InterfaceCounters* e = store->upsert(h.agent, if_index);
  if (e == nullptr) return DecodeStatus::kOk;  // table full: counted by the store
  e->sub_agent = h.sub_agent;
  e->sample_sequence = load_be32(sample);
  e->updated_ns = meta.receive_ns;
  if (generic != nullptr) {
    read_generic(generic, e->generic);
    e->has_generic = true;
  }
  if (ethernet != nullptr) {
    read_ethernet(ethernet, e->ethernet);
    e->has_ethernet = true;
  }
  return DecodeStatus::kOk;
}

}  // namespace

DecodeStatus decode_sflow(Bytes datagram, const DatagramMeta& meta, FlowOutput& out,
                          DecodeCounters& counters,
                          InterfaceCounterStore* interface_counters) noexcept {
  ++counters.datagrams;
  const auto* d = reinterpret_cast<const uint8_t*>(datagram.data());
  const uint8_t* const end = d + datagram.size();
  if (datagram.size() < 8) return counters.count(DecodeStatus::kTruncated);
  if (load_be32(d) != kVersion) return counters.count(DecodeStatus::kBadVersion);

  // sample_datagram_v5: agent address, sub-agent id, sequence number, uptime, samples<>.
  DatagramHeader h;
  const uint8_t* p = d + 4;
  WireAddress agent;
  const DecodeStatus address = read_address(p, end, agent);
  if (address == DecodeStatus::kBadAddress || (address == DecodeStatus::kOk && agent.length == 0)) {
    return counters.count(DecodeStatus::kBadAddress);  // no agent: the records are unowned
  }
  if (address != DecodeStatus::kOk || remaining(p, end) < 16) {
    return counters.count(DecodeStatus::kTruncated);
  }
  store_address(h.agent, agent);
  h.sub_agent = load_be32(p);
  h.sequence = load_be32(p + 4);
  const uint32_t samples = load_be32(p + 12);  // after the uptime, which rows do not use
  p += 16;

  // A fault inside a sample whose length fits skips that sample only; a sample length past the
  // datagram ends the walk. The first fault is the datagram's status.
  DecodeStatus status = DecodeStatus::kOk;
  uint32_t i = 0;
  for (; i < samples; ++i) {
    if (remaining(p, end) < 8) {
      status = DecodeStatus::kTruncated;
      break;
    }
    const uint32_t type = load_be32(p);
    const uint32_t length = load_be32(p + 4);
    p += 8;
    if (length > remaining(p, end)) {
      status = DecodeStatus::kBadSample;
      break;
    }
    const uint8_t* sample_end = p + length;
    DecodeStatus s = DecodeStatus::kOk;
    if ((type >> 12) != 0) {
      ++counters.sflow_skipped_samples;  // enterprise-specific sample
    } else {
      switch (type & 0xfff) {
        case kFlowSample:
        case kExpandedFlowSample:
          s = decode_flow_sample(p, sample_end, (type & 0xfff) == kExpandedFlowSample, h, meta, out,
                                 counters);
          break;
        case kCounterSample:
        case kExpandedCounterSample:
          s = decode_counter_sample(p, sample_end, (type & 0xfff) == kExpandedCounterSample, h,
                                    meta, interface_counters, counters);
          break;
        case kDiscardedPacket:
          ++counters.sflow_discard_samples;
          break;
        default:
          ++counters.sflow_skipped_samples;
          break;
      }
    }
    if (s != DecodeStatus::kOk && status == DecodeStatus::kOk) status = s;
    p = sample_end;
  }
  if (i == samples) counters.padding_bytes += remaining(p, end);
  return counters.count(status);
}

}  // namespace flowgate::decode
