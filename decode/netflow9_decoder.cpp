#include "decode/netflow9_decoder.hpp"

#include <array>

#include "decode/byte_order.hpp"
#include "decode/set_walker.hpp"
#include "decode/template_decoder.hpp"

namespace flowgate::decode {
namespace {

constexpr size_t kHeaderLength = 20;
constexpr uint16_t kTemplateFlowset = 0;
constexpr uint16_t kOptionsTemplateFlowset = 1;
constexpr uint16_t kMinDataFlowset = 256;
constexpr uint16_t kVendorFieldBit = 0x8000;  // RFC 3954 has no enterprise bit: IDs ≥ 32768
                                               // are vendor-proprietary field types

// Template flowset (RFC 3954 §5.2): records of (template ID, field count, fields).
DecodeStatus parse_templates(const uint8_t* p, const uint8_t* end, const SetContext& ctx,
                             TemplateCache& templates, FlowOutput& out, DecodeCounters& c) {
  std::array<RawField, kMaxTemplateFields> fields;
  CompiledTemplate compiled;
  DecodeStatus status = DecodeStatus::kOk;
  while (end - p >= 4) {
    const uint16_t id = load_be16(p);
    const uint16_t count = load_be16(p + 2);
    if (id == 0 && count == 0 && all_zero(p, static_cast<size_t>(end - p))) {
      c.padding_bytes += static_cast<uint64_t>(end - p);  // zero padding to a 32-bit boundary
      break;
    }
    p += 4;
    if (id < kMinDataFlowset || count == 0 || count > kMaxTemplateFields) {
      return DecodeStatus::kBadTemplate;
    }
    if (static_cast<size_t>(end - p) < size_t{count} * 4) return DecodeStatus::kBadTemplate;
    for (uint16_t i = 0; i < count; ++i, p += 4) {
      const uint16_t type = load_be16(p);
      fields[i] = RawField{type, load_be16(p + 2), (type & kVendorFieldBit) != 0, false};
    }
    const DecodeStatus s = compile_and_store(id, {fields.data(), count}, false, false, ctx,
                                             templates, out, c, compiled);
    if (s != DecodeStatus::kOk) status = s;
  }
  return status;
}

// Options template flowset (RFC 3954 §6.1): template ID, scope length and option length in
// bytes, scope fields (scope types), option fields, then padding.
DecodeStatus parse_options_templates(const uint8_t* p, const uint8_t* end, const SetContext& ctx,
                                     TemplateCache& templates, FlowOutput& out,
                                     DecodeCounters& c) {
  std::array<RawField, kMaxTemplateFields> fields;
  CompiledTemplate compiled;
  DecodeStatus status = DecodeStatus::kOk;
  while (end - p >= 6) {
    const uint16_t id = load_be16(p);
    const uint16_t scope_len = load_be16(p + 2);
    const uint16_t option_len = load_be16(p + 4);
    if (id == 0 && all_zero(p, static_cast<size_t>(end - p))) {
      c.padding_bytes += static_cast<uint64_t>(end - p);
      break;
    }
    p += 6;
    const size_t total = size_t{scope_len} + option_len;
    if (id < kMinDataFlowset || scope_len % 4 != 0 || option_len % 4 != 0 || total == 0 ||
        total / 4 > kMaxTemplateFields || static_cast<size_t>(end - p) < total) {
      return DecodeStatus::kBadTemplate;
    }
    const uint16_t count = static_cast<uint16_t>(total / 4);
    const uint16_t scopes = scope_len / 4;
    for (uint16_t i = 0; i < count; ++i, p += 4) {
      const uint16_t type = load_be16(p);
      fields[i] = RawField{type, load_be16(p + 2), (type & kVendorFieldBit) != 0, i < scopes};
    }
    const DecodeStatus s = compile_and_store(id, {fields.data(), count}, true, true, ctx,
                                             templates, out, c, compiled);
    if (s != DecodeStatus::kOk) status = s;
  }
  return status;
}

}  // namespace

DecodeStatus decode_netflow9(Bytes datagram, const DatagramMeta& meta, TemplateCache& templates,
                             FlowOutput& out, DecodeCounters& counters) noexcept {
  ++counters.datagrams;
  const auto* d = reinterpret_cast<const uint8_t*>(datagram.data());
  const uint8_t* const end = d + datagram.size();
  if (datagram.size() < kHeaderLength) return counters.count(DecodeStatus::kTruncated);
  if (load_be16(d) != 9) return counters.count(DecodeStatus::kBadVersion);

  SetContext ctx;
  ctx.meta = meta;
  ctx.type = FlowType::kNetflow9;
  ctx.uptime_ms = load_be32(d + 4);
  ctx.export_secs = load_be32(d + 8);
  ctx.sequence = load_be32(d + 12);
  ctx.domain = load_be32(d + 16);
  ctx.exporter = templates.exporter_index(
      ExporterKey{meta.exporter, meta.exporter_port, FlowType::kNetflow9},
      &counters.exporters_reclaimed);
  if (ctx.exporter == TemplateCache::kNoExporter) {
    return counters.count(DecodeStatus::kExporterLimit);
  }

  // The header's count counts records, not flowsets, and exporters get it wrong: walk the
  // flowsets by their lengths until fewer than 4 bytes (padding) remain (RFC 3954 §5.1).
  const DecodeStatus status = walk_sets(
      d + kHeaderLength, end, false, counters,
      [&](uint16_t set_id, const uint8_t* body, const uint8_t* body_end) {
        if (set_id == kTemplateFlowset) {
          return parse_templates(body, body_end, ctx, templates, out, counters);
        }
        if (set_id == kOptionsTemplateFlowset) {
          return parse_options_templates(body, body_end, ctx, templates, out, counters);
        }
        if (set_id >= kMinDataFlowset) {
          return handle_data_set(set_id, body, static_cast<uint32_t>(body_end - body), ctx,
                                 templates, out, counters);
        }
        return DecodeStatus::kOk;  // 2..255 are reserved: skipped by length
      });
  return counters.count(status);
}

}  // namespace flowgate::decode
