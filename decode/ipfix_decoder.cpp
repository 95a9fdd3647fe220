#include "decode/ipfix_decoder.hpp"

#include <array>

#include "decode/byte_order.hpp"
#include "decode/set_walker.hpp"
#include "decode/template_decoder.hpp"

namespace flowgate::decode {
namespace {

constexpr size_t kHeaderLength = 16;
constexpr uint16_t kTemplateSet = 2;
constexpr uint16_t kOptionsTemplateSet = 3;
constexpr uint16_t kMinDataSet = 256;
constexpr uint16_t kEnterpriseBit = 0x8000;

// Reads `count` field specifiers (RFC 7011 §3.2): ID, length, and a 4-byte enterprise number
// when the ID's top bit is set.
bool read_fields(const uint8_t*& p, const uint8_t* end, uint16_t count, uint16_t scopes,
                 RawField* fields) {
  for (uint16_t i = 0; i < count; ++i) {
    if (end - p < 4) return false;
    const uint16_t raw = load_be16(p);
    const bool enterprise = (raw & kEnterpriseBit) != 0;
    fields[i] = RawField{static_cast<uint16_t>(raw & ~kEnterpriseBit), load_be16(p + 2),
                         enterprise, i < scopes};
    p += 4;
    if (enterprise) {
      if (end - p < 4) return false;
      p += 4;
    }
  }
  return true;
}

// Template and options template sets (RFC 7011 §3.4.1, §3.4.2). A record with field count 0
// is a withdrawal (§8.1); over UDP withdrawals are not used (§8.4), but accepting them is
// harmless. Template ID 2 / 3 in a withdrawal means every (options) template of the domain.
DecodeStatus parse_template_set(const uint8_t* p, const uint8_t* end, bool options,
                                const SetContext& ctx, TemplateCache& templates, FlowOutput& out,
                                DecodeCounters& c) {
  std::array<RawField, kMaxTemplateFields> fields;
  CompiledTemplate compiled;
  DecodeStatus status = DecodeStatus::kOk;
  while (end - p >= 4) {
    const uint16_t id = load_be16(p);
    const uint16_t count = load_be16(p + 2);
    if (id == 0 && all_zero(p, static_cast<size_t>(end - p))) {
      c.padding_bytes += static_cast<uint64_t>(end - p);
      break;
    }
    p += 4;
    if (count == 0) {
      if (id == (options ? kOptionsTemplateSet : kTemplateSet)) {
        c.templates_withdrawn += templates.withdraw_all(ctx.exporter, ctx.domain, options);
      } else if (id >= kMinDataSet) {
        c.templates_withdrawn += templates.withdraw(ctx.exporter, ctx.domain, id) ? 1 : 0;
      } else {
        return DecodeStatus::kBadTemplate;
      }
      continue;
    }
    uint16_t scopes = 0;
    if (options) {
      if (end - p < 2) return DecodeStatus::kBadTemplate;
      scopes = load_be16(p);
      p += 2;
      if (scopes > count) return DecodeStatus::kBadTemplate;
    }
    if (id < kMinDataSet || count > kMaxTemplateFields ||
        !read_fields(p, end, count, scopes, fields.data())) {
      return DecodeStatus::kBadTemplate;
    }
    const DecodeStatus s = compile_and_store(id, {fields.data(), count}, options, false, ctx,
                                             templates, out, c, compiled);
    if (s != DecodeStatus::kOk) status = s;
  }
  return status;
}

}  // namespace

DecodeStatus decode_ipfix(Bytes datagram, const DatagramMeta& meta, TemplateCache& templates,
                          FlowOutput& out, DecodeCounters& counters) noexcept {
  ++counters.datagrams;
  const auto* d = reinterpret_cast<const uint8_t*>(datagram.data());
  if (datagram.size() < kHeaderLength) return counters.count(DecodeStatus::kTruncated);
  if (load_be16(d) != 10) return counters.count(DecodeStatus::kBadVersion);
  // The message length bounds the sets; bytes after it (some capture paths pad) are ignored.
  const uint16_t length = load_be16(d + 2);
  if (length < kHeaderLength || length > datagram.size()) {
    return counters.count(DecodeStatus::kBadLength);
  }
  const uint8_t* const end = d + length;

  SetContext ctx;
  ctx.meta = meta;
  ctx.type = FlowType::kIpfix;
  ctx.export_secs = load_be32(d + 4);
  ctx.sequence = load_be32(d + 8);
  ctx.domain = load_be32(d + 12);
  ctx.exporter =
      templates.exporter_index(ExporterKey{meta.exporter, meta.exporter_port, FlowType::kIpfix},
                               &counters.exporters_reclaimed);
  if (ctx.exporter == TemplateCache::kNoExporter) {
    return counters.count(DecodeStatus::kExporterLimit);
  }

  const DecodeStatus status = walk_sets(
      d + kHeaderLength, end, true, counters,
      [&](uint16_t set_id, const uint8_t* body, const uint8_t* body_end) {
        if (set_id == kTemplateSet || set_id == kOptionsTemplateSet) {
          return parse_template_set(body, body_end, set_id == kOptionsTemplateSet, ctx,
                                    templates, out, counters);
        }
        if (set_id >= kMinDataSet) {
          return handle_data_set(set_id, body, static_cast<uint32_t>(body_end - body), ctx,
                                 templates, out, counters);
        }
        // 0, 1 (NetFlow v9 IDs) and 4..255 are reserved (RFC 7011 §3.3.2): skipped by length.
        return DecodeStatus::kOk;
      });
  return counters.count(status);
}

}  // namespace flowgate::decode
