#include "decode/datagram_decoder.hpp"

#include "decode/byte_order.hpp"
#include "decode/ipfix_decoder.hpp"
#include "decode/netflow5_decoder.hpp"
#include "decode/netflow9_decoder.hpp"
#include "decode/sflow_decoder.hpp"

namespace flowgate::decode {

FlowType detect_flow_type(Bytes datagram) noexcept {
  const auto* d = reinterpret_cast<const uint8_t*>(datagram.data());
  if (datagram.size() < 2) return FlowType::kUnknown;
  switch (load_be16(d)) {
    case 5: return FlowType::kNetflow5;
    case 9: return FlowType::kNetflow9;
    case 10: return FlowType::kIpfix;
    case 0:
      if (datagram.size() >= 4 && load_be32(d) == 5) return FlowType::kSflow5;
      return FlowType::kUnknown;
    default: return FlowType::kUnknown;
  }
}

namespace {

DecodeStatus decode_as(FlowType expected, Bytes datagram, const DatagramMeta& meta,
                       TemplateCache& templates, FlowOutput& out, DecodeCounters& counters,
                       InterfaceCounterStore* interface_counters) noexcept {
  switch (expected) {
    case FlowType::kNetflow5: return decode_netflow5(datagram, meta, out, counters);
    case FlowType::kNetflow9: return decode_netflow9(datagram, meta, templates, out, counters);
    case FlowType::kIpfix: return decode_ipfix(datagram, meta, templates, out, counters);
    case FlowType::kSflow5:
      return decode_sflow(datagram, meta, out, counters, interface_counters);
    case FlowType::kUnknown: break;
  }
  ++counters.datagrams;
  return counters.count(DecodeStatus::kBadVersion);
}

}  // namespace

DecodeStatus decode_datagram_as(FlowType expected, Bytes datagram, const DatagramMeta& meta,
                                TemplateCache& templates, FlowOutput& out,
                                DecodeCounters& counters, InterfaceCounterStore* interface_counters,
                                ExporterStats* exporter_stats) noexcept {
  if (exporter_stats == nullptr) {
    return decode_as(expected, datagram, meta, templates, out, counters, interface_counters);
  }
  const DecodeMark before = DecodeMark::of(counters);
  const DecodeStatus s =
      decode_as(expected, datagram, meta, templates, out, counters, interface_counters);
  exporter_stats->on_datagram(expected, datagram, meta, before, DecodeMark::of(counters), s);
  return s;
}

DecodeStatus decode_datagram(Bytes datagram, const DatagramMeta& meta, TemplateCache& templates,
                             FlowOutput& out, DecodeCounters& counters,
                             InterfaceCounterStore* interface_counters,
                             ExporterStats* exporter_stats) noexcept {
  return decode_datagram_as(detect_flow_type(datagram), datagram, meta, templates, out,
                            counters, interface_counters, exporter_stats);
}

}  // namespace flowgate::decode
