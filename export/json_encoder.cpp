#include "export/json_encoder.hpp"

#include <cstring>
#include <string_view>

#include "export/ip_protocol_names.hpp"
#include "export/text_format.hpp"

namespace flowgate::exporter {
namespace {

using decode::FlowBlock;

// The record's fixed text, in order. Named so that the worst-case size below is summed from
// the very strings encode() writes.
constexpr char kFlushTimestamp[] = "{\"flush_timestamp\":";
constexpr char kType[] = ",\"type\":\"";
constexpr char kSamplingRate[] = "\",\"sampling_rate\":";
constexpr char kDirection[] = ",\"direction\":\"";
constexpr char kStart[] = "\",\"start\":";
constexpr char kEndKey[] = ",\"end\":";
constexpr char kBytes[] = ",\"bytes\":";
constexpr char kPackets[] = ",\"packets\":";
constexpr char kEtherTypeIpv4[] = ",\"ether_type\":\"IPv4\"";
constexpr char kEtherTypeIpv6[] = ",\"ether_type\":\"IPv6\"";
constexpr char kIpProtocol[] = ",\"ip_protocol\":\"";
constexpr char kIpProtocolEnd[] = "\"";
constexpr char kSourceIp[] = "\"},\"source\":{\"ip\":\"";
constexpr char kPort[] = "\",\"port\":\"";
constexpr char kMac[] = "\",\"mac\":\"";
constexpr char kMask[] = "\",\"mask\":\"";
constexpr char kDestinationIp[] = "\"},\"destination\":{\"ip\":\"";
constexpr char kIngress[] = "\"},\"ingress\":{\"interface\":{\"index\":";
constexpr char kEgress[] = "}},\"egress\":{\"interface\":{\"index\":";
constexpr char kEgressEnd[] = "}}";
constexpr char kNextHop[] = ",\"next_hop\":{\"ip\":\"";
constexpr char kNextHopEnd[] = "\"}";
constexpr char kRecordEnd[] = "}\n";

constexpr uint16_t kEtherTypeIpv4Value = 0x0800;
constexpr uint16_t kEtherTypeIpv6Value = 0x86dd;

// `,"tcp_flags":[…]` for each combination of the six flags the reference names (RFC 9293
// §3.1 bit order, FIN first); empty for none, so the key is left out as the reference's
// omitempty does. ECE, CWR and NS are not named by the reference and so not written.
struct TcpFlagsText {
  static constexpr size_t kMax = 50;  // all six
  char text[64][kMax]{};
  uint8_t size[64]{};
  constexpr TcpFlagsText() {
    constexpr std::string_view kNames[6] = {"FIN", "SYN", "RST", "PSH", "ACK", "URG"};
    constexpr std::string_view kKey = ",\"tcp_flags\":[";
    for (unsigned flags = 1; flags < 64; ++flags) {
      size_t n = 0;
      for (char c : kKey) text[flags][n++] = c;
      bool first = true;
      for (unsigned bit = 0; bit < 6; ++bit) {
        if ((flags & (1u << bit)) == 0) continue;
        if (!first) text[flags][n++] = ',';
        first = false;
        text[flags][n++] = '"';
        for (char c : kNames[bit]) text[flags][n++] = c;
        text[flags][n++] = '"';
      }
      text[flags][n++] = ']';
      size[flags] = static_cast<uint8_t>(n);
    }
  }
};
constexpr TcpFlagsText kTcpFlags;
static_assert(kTcpFlags.size[63] == TcpFlagsText::kMax);

template <size_t N>
constexpr size_t length(const char (&)[N]) {
  return N - 1;
}

constexpr size_t kMaxTypeName = 8;  // "netflow5"

constexpr bool type_names_fit() {
  for (int t = 0; t < 256; ++t) {
    const auto type = static_cast<decode::FlowType>(t);
    if (decode::flow_type_name(type).size() > kMaxTypeName) return false;
  }
  return true;
}
static_assert(type_names_fit());

// Everything encode() can write besides the configured strings (tail_ holds the closing brace
// and newline). Direction is at most "ingress", a port 5 digits.
constexpr size_t kMaxFixedAndValues =
    length(kFlushTimestamp) + kMaxDecimalText + length(kType) + kMaxTypeName +
    length(kSamplingRate) + kMaxDecimalText + length(kDirection) + 7 + length(kStart) +
    kMaxDecimalText + length(kEndKey) + kMaxDecimalText + length(kBytes) + kMaxDecimalText +
    length(kPackets) + kMaxDecimalText + length(kEtherTypeIpv4) + length(kIpProtocol) +
    kMaxIpProtocolNameLength + length(kIpProtocolEnd) + kMaxIpText + length(kSourceIp) +
    length(kDestinationIp) +
    2 * (kMaxIpText + length(kPort) + 5 + length(kMac) + kMacText + length(kMask) + kMaxCidrText) +
    length(kIngress) + kMaxDecimalText + length(kEgress) + kMaxDecimalText + length(kEgressEnd) +
    TcpFlagsText::kMax + length(kNextHop) + kMaxIpText + length(kNextHopEnd);
static_assert(length(kEtherTypeIpv4) == length(kEtherTypeIpv6));

template <size_t N>
char* put(char* p, const char (&literal)[N]) noexcept {
  std::memcpy(p, literal, N - 1);
  return p + N - 1;
}

char* put(char* p, std::string_view text) noexcept {
  std::memcpy(p, text.data(), text.size());
  return p + text.size();
}

char* write_port(char* p, uint16_t port, bool rolled_up) noexcept {
  if (rolled_up) {
    *p++ = '*';
    return p;
  }
  return write_decimal(p, port);
}

}  // namespace

char* AddressTextCache::write(char* p, const decode::IpAddress& address,
                              AddressFamily absent_family) noexcept {
  if (address.is_zero()) return write_ip(p, address, absent_family);
  uint64_t w[2];
  std::memcpy(w, address.bytes.data(), 16);
  Slot& s = slots_[((w[0] ^ w[1]) * 0x9e3779b97f4a7c15ull) >> 58];
  static_assert(kSlots == 64, "the slot is the product's top 6 bits");
  if (s.length == 0 || s.address != address) {
    s.address = address;
    s.length = static_cast<uint8_t>(write_ip(s.text, address, absent_family) - s.text);
  }
  std::memcpy(p, s.text, kMaxIpText);
  return p + s.length;
}

JsonEncoder::JsonEncoder(const EncoderConfig& config) {
  device_exporter_ = ",\"device\":{\"namespace\":\"";
  append_json_escaped(device_exporter_, config.device_namespace);
  device_exporter_ += "\"},\"exporter\":{\"ip\":\"";

  host_ = ",\"host\":\"";
  append_json_escaped(host_, config.host);
  host_ += '"';

  for (const auto& [key, value] : config.tags) {
    tail_ += ",\"";
    append_json_escaped(tail_, key);
    tail_ += "\":\"";
    append_json_escaped(tail_, value);
    tail_ += '"';
  }
  tail_ += kRecordEnd;

  max_record_size_ = kMaxFixedAndValues + device_exporter_.size() + host_.size() + tail_.size();
}

void JsonEncoder::encode(const FlowBlock& b, uint32_t r, uint64_t flush_timestamp_ms,
                         std::string& out, uint8_t port_rollup) const noexcept {
  const size_t start = out.size();
  out.resize(start + max_record_size_);
  const char* end = write(out.data() + start, b, r, flush_timestamp_ms, port_rollup);
  out.resize(static_cast<size_t>(end - out.data()));
}

char* JsonEncoder::write(char* p, const FlowBlock& b, uint32_t r, uint64_t flush_timestamp_ms,
                         uint8_t port_rollup) const noexcept {
  const uint16_t ether_type = b.ether_type[r];
  // The family an absent address is written in; a present one carries its own.
  const AddressFamily family =
      ether_type == kEtherTypeIpv6Value ? AddressFamily::kIpv6 : AddressFamily::kIpv4;
  const uint8_t rollup = static_cast<uint8_t>(b.port_rollup[r] | port_rollup);

  p = put(p, kFlushTimestamp);
  if (flush_length_ == 0 || flush_timestamp_ms != flush_ms_) {
    flush_ms_ = flush_timestamp_ms;
    flush_length_ =
        static_cast<uint8_t>(write_decimal(flush_text_, flush_timestamp_ms) - flush_text_);
  }
  std::memcpy(p, flush_text_, kMaxDecimalText);
  p += flush_length_;
  p = put(p, kType);
  p = put(p, decode::flow_type_name(b.flow_type[r]));
  p = put(p, kSamplingRate);
  p = write_decimal(p, b.sampling_rate[r]);
  p = put(p, kDirection);
  p = b.direction[r] == decode::Direction::kEgress ? put(p, "egress") : put(p, "ingress");
  p = put(p, kStart);
  p = write_decimal(p, b.start_ms[r] / 1000);
  p = put(p, kEndKey);
  p = write_decimal(p, b.end_ms[r] / 1000);
  p = put(p, kBytes);
  p = write_decimal(p, b.bytes[r]);
  p = put(p, kPackets);
  p = write_decimal(p, b.packets[r]);
  if (ether_type == kEtherTypeIpv4Value) {
    p = put(p, kEtherTypeIpv4);
  } else if (ether_type == kEtherTypeIpv6Value) {
    p = put(p, kEtherTypeIpv6);
  }
  p = put(p, kIpProtocol);
  p = put(p, ip_protocol_name(b.protocol[r]));
  p = put(p, kIpProtocolEnd);
  p = put(p, device_exporter_);
  p = addresses_.write(p, b.exporter_addr[r], family);

  p = put(p, kSourceIp);
  p = write_ip(p, b.src_addr[r], family);
  p = put(p, kPort);
  p = write_port(p, b.src_port[r], (rollup & FlowBlock::kRollupSrcPort) != 0);
  p = put(p, kMac);
  p = write_mac(p, b.src_mac[r]);
  p = put(p, kMask);
  p = write_cidr(p, b.src_addr[r], b.src_mask[r], family);

  p = put(p, kDestinationIp);
  p = write_ip(p, b.dst_addr[r], family);
  p = put(p, kPort);
  p = write_port(p, b.dst_port[r], (rollup & FlowBlock::kRollupDstPort) != 0);
  p = put(p, kMac);
  p = write_mac(p, b.dst_mac[r]);
  p = put(p, kMask);
  p = write_cidr(p, b.dst_addr[r], b.dst_mask[r], family);

  p = put(p, kIngress);
  p = write_decimal(p, b.in_if[r]);
  p = put(p, kEgress);
  p = write_decimal(p, b.out_if[r]);
  p = put(p, kEgressEnd);
  p = put(p, host_);
  const unsigned flags = b.tcp_flags[r] & 0x3f;
  // A fixed-length copy (the reservation has room for the longest): a copy of the row's own
  // length was a `rep movsq`, 13 % of this function's time.
  std::memcpy(p, kTcpFlags.text[flags], TcpFlagsText::kMax);
  p += kTcpFlags.size[flags];
  p = put(p, kNextHop);
  p = addresses_.write(p, b.next_hop[r], family);
  p = put(p, kNextHopEnd);
  return put(p, tail_);
}

}  // namespace flowgate::exporter
