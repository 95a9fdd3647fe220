#include "decode/template_decoder.hpp"

#include <algorithm>
#include <array>
#include <cstddef>

#include "decode/byte_order.hpp"

namespace flowgate::decode {
namespace {

constexpr uint64_t kNtpUnixOffsetSecs = 2'208'988'800ull;  // 1900-01-01 to 1970-01-01

// Per-record values that are resolved once the whole record is read.
struct RecordState {
  enum : uint32_t {
    kFirstUp = 1u << 0, kLastUp = 1u << 1, kStartAbs = 1u << 2, kEndAbs = 1u << 3,
    kStartDelta = 1u << 4, kEndDelta = 1u << 5, kSysInit = 1u << 6, kInterval = 1u << 7,
    kSampler = 1u << 8, kPktInterval = 1u << 9, kPktSpace = 1u << 10, kSize = 1u << 11,
    kPopulation = 1u << 12,
  };
  // Only `present` and `ip_version` are reset per record: a value is read only when its bit
  // is set, which keeps the per-record cost to two stores.
  uint32_t present = 0;
  uint8_t ip_version = 0;
  uint64_t first_up, last_up, start_abs_ms, end_abs_ms;
  uint64_t start_delta_us, end_delta_us, sys_init_ms;
  uint64_t interval, sampler, pkt_interval, pkt_space, size, population;

  bool has(uint32_t f) const noexcept { return (present & f) != 0; }
  void set(uint32_t f, uint64_t& slot, uint64_t v) noexcept {
    present |= f;
    slot = v;
  }
};

uint64_t ntp_to_unix_ms(uint64_t ntp) noexcept {
  const uint64_t secs = ntp >> 32;
  if (secs < kNtpUnixOffsetSecs) return 0;
  const uint64_t frac_ms = ((ntp & 0xffffffffull) * 1000) >> 32;
  return (secs - kNtpUnixOffsetSecs) * 1000 + frac_ms;
}

uint64_t load_mac(const uint8_t* p) noexcept {
  return (uint64_t{load_be16(p)} << 32) | load_be32(p + 2);
}

// A non-zero value is never overwritten by a zero one: templates that carry both an IPv4 and an
// IPv6 field for one side fill only the one that matches the flow (RFC 7012 leaves the other 0).
void store_address(IpAddress& column, const IpAddress& value, bool value_zero) noexcept {
  if (!value_zero || column.is_zero()) column = value;
}

// Reads options-relevant and time/sampling fields into the record state; returns false when
// the target is a FlowBlock column.
inline bool apply_state(FieldTarget t, const uint8_t* v, uint16_t w, RecordState& rs) noexcept {
  using T = FieldTarget;
  using R = RecordState;
  switch (t) {
    case T::kFirstUptime: rs.set(R::kFirstUp, rs.first_up, load_be_uint(v, w)); return true;
    case T::kLastUptime: rs.set(R::kLastUp, rs.last_up, load_be_uint(v, w)); return true;
    case T::kStartSec: rs.set(R::kStartAbs, rs.start_abs_ms, load_be_uint(v, w) * 1000); return true;
    case T::kEndSec: rs.set(R::kEndAbs, rs.end_abs_ms, load_be_uint(v, w) * 1000); return true;
    case T::kStartMs: rs.set(R::kStartAbs, rs.start_abs_ms, load_be_uint(v, w)); return true;
    case T::kEndMs: rs.set(R::kEndAbs, rs.end_abs_ms, load_be_uint(v, w)); return true;
    case T::kStartNtp: rs.set(R::kStartAbs, rs.start_abs_ms, ntp_to_unix_ms(load_be64(v))); return true;
    case T::kEndNtp: rs.set(R::kEndAbs, rs.end_abs_ms, ntp_to_unix_ms(load_be64(v))); return true;
    case T::kStartDeltaUs: rs.set(R::kStartDelta, rs.start_delta_us, load_be_uint(v, w)); return true;
    case T::kEndDeltaUs: rs.set(R::kEndDelta, rs.end_delta_us, load_be_uint(v, w)); return true;
    case T::kSysInitMs: rs.set(R::kSysInit, rs.sys_init_ms, load_be_uint(v, w)); return true;
    case T::kSamplingInterval: rs.set(R::kInterval, rs.interval, load_be_uint(v, w)); return true;
    case T::kSamplerId: rs.set(R::kSampler, rs.sampler, load_be_uint(v, w)); return true;
    case T::kPacketInterval: rs.set(R::kPktInterval, rs.pkt_interval, load_be_uint(v, w)); return true;
    case T::kPacketSpace: rs.set(R::kPktSpace, rs.pkt_space, load_be_uint(v, w)); return true;
    case T::kSamplingSize: rs.set(R::kSize, rs.size, load_be_uint(v, w)); return true;
    case T::kSamplingPopulation: rs.set(R::kPopulation, rs.population, load_be_uint(v, w)); return true;
    case T::kIpVersion: rs.ip_version = static_cast<uint8_t>(load_be_uint(v, w)); return true;
    default: return false;
  }
}

template <typename T>
inline T& column_at(FlowBlock& b, uint32_t column, uint32_t row) noexcept {
  // `column` is the offsetof() of a std::array<T, kCapacity> member: this addresses its
  // element `row` as the T object it is.
  return reinterpret_cast<T*>(reinterpret_cast<uint8_t*>(&b) + column)[row];
}

[[gnu::always_inline]] inline void apply_step(const DecodeStep& s, const uint8_t* v, uint16_t w,
                                              FlowBlock& b, uint32_t r,
                                              RecordState& rs) noexcept {
  switch (s.op) {
    case StepOp::kSkip: return;
    case StepOp::kU8: column_at<uint8_t>(b, s.column, r) = v[0]; return;
    case StepOp::kU16: column_at<uint16_t>(b, s.column, r) = load_be16(v); return;
    case StepOp::kU32: column_at<uint32_t>(b, s.column, r) = load_be32(v); return;
    case StepOp::kU64: column_at<uint64_t>(b, s.column, r) = load_be64(v); return;
    case StepOp::kU32From2: column_at<uint32_t>(b, s.column, r) = load_be16(v); return;
    case StepOp::kU64From4: column_at<uint64_t>(b, s.column, r) = load_be32(v); return;
    case StepOp::kIntTo8:
      column_at<uint8_t>(b, s.column, r) = static_cast<uint8_t>(load_be_uint(v, w));
      return;
    case StepOp::kIntTo16:
      column_at<uint16_t>(b, s.column, r) = static_cast<uint16_t>(load_be_uint(v, w));
      return;
    case StepOp::kIntTo32:
      column_at<uint32_t>(b, s.column, r) = static_cast<uint32_t>(load_be_uint(v, w));
      return;
    case StepOp::kIntTo64: column_at<uint64_t>(b, s.column, r) = load_be_uint(v, w); return;
    case StepOp::kAddr4: {
      const uint32_t raw = load_be32(v);
      store_address(column_at<IpAddress>(b, s.column, r), IpAddress::from_v4(raw), raw == 0);
      return;
    }
    case StepOp::kAddr6: {
      const IpAddress a = IpAddress::from_v6_bytes(v);
      store_address(column_at<IpAddress>(b, s.column, r), a, a.is_zero());
      return;
    }
    case StepOp::kMac: column_at<uint64_t>(b, s.column, r) = load_mac(v); return;
    case StepOp::kMask: {
      // IPv4 and IPv6 prefix lengths share the column: keep the non-zero one.
      const auto m = static_cast<uint8_t>(load_be_uint(v, w));
      if (m != 0) column_at<uint8_t>(b, s.column, r) = m;
      return;
    }
    case StepOp::kDirection:
      b.direction[r] = load_be_uint(v, w) == 1 ? Direction::kEgress : Direction::kIngress;
      return;
    case StepOp::kVlan: b.vlan[r] = static_cast<uint16_t>(load_be_uint(v, w) & 0x0fff); return;
    case StepOp::kState: apply_state(s.target, v, w, rs); return;
  }
}

// The op and FlowBlock column of a target decoded at `width` bytes.
DecodeStep make_step(FieldTarget target, uint16_t width) noexcept {
  using T = FieldTarget;
  DecodeStep s{width, StepOp::kSkip, target, 0};
  // Integer columns: exact-width ops where the wire width matches, generic otherwise.
  auto integer = [&](uint32_t column, uint8_t column_size) {
    s.column = column;
    switch (column_size) {
      case 1: s.op = width == 1 ? StepOp::kU8 : StepOp::kIntTo8; break;
      case 2: s.op = width == 2 ? StepOp::kU16 : StepOp::kIntTo16; break;
      case 4:
        s.op = width == 4 ? StepOp::kU32 : width == 2 ? StepOp::kU32From2 : StepOp::kIntTo32;
        break;
      default:
        s.op = width == 8 ? StepOp::kU64 : width == 4 ? StepOp::kU64From4 : StepOp::kIntTo64;
        break;
    }
  };
  switch (target) {
    case T::kSkip: break;
    case T::kSrcAddr4: s.op = StepOp::kAddr4; s.column = offsetof(FlowBlock, src_addr); break;
    case T::kDstAddr4: s.op = StepOp::kAddr4; s.column = offsetof(FlowBlock, dst_addr); break;
    case T::kNextHop4: s.op = StepOp::kAddr4; s.column = offsetof(FlowBlock, next_hop); break;
    case T::kSrcAddr6: s.op = StepOp::kAddr6; s.column = offsetof(FlowBlock, src_addr); break;
    case T::kDstAddr6: s.op = StepOp::kAddr6; s.column = offsetof(FlowBlock, dst_addr); break;
    case T::kNextHop6: s.op = StepOp::kAddr6; s.column = offsetof(FlowBlock, next_hop); break;
    case T::kSrcPort: integer(offsetof(FlowBlock, src_port), 2); break;
    case T::kDstPort: integer(offsetof(FlowBlock, dst_port), 2); break;
    case T::kProtocol: integer(offsetof(FlowBlock, protocol), 1); break;
    case T::kTos: integer(offsetof(FlowBlock, tos), 1); break;
    // IPFIX tcpControlBits is 2 bytes (RFC 7125); FIN..URG and ECE/CWR are in the low byte.
    case T::kTcpFlags: integer(offsetof(FlowBlock, tcp_flags), 1); break;
    case T::kInIf: integer(offsetof(FlowBlock, in_if), 4); break;
    case T::kOutIf: integer(offsetof(FlowBlock, out_if), 4); break;
    case T::kSrcAs: integer(offsetof(FlowBlock, src_as), 4); break;
    case T::kDstAs: integer(offsetof(FlowBlock, dst_as), 4); break;
    case T::kBytes: integer(offsetof(FlowBlock, bytes), 8); break;
    case T::kPackets: integer(offsetof(FlowBlock, packets), 8); break;
    case T::kSrcMask: s.op = StepOp::kMask; s.column = offsetof(FlowBlock, src_mask); break;
    case T::kDstMask: s.op = StepOp::kMask; s.column = offsetof(FlowBlock, dst_mask); break;
    case T::kSrcMac: s.op = StepOp::kMac; s.column = offsetof(FlowBlock, src_mac); break;
    case T::kDstMac: s.op = StepOp::kMac; s.column = offsetof(FlowBlock, dst_mac); break;
    case T::kDirection: s.op = StepOp::kDirection; break;
    case T::kVlan: s.op = StepOp::kVlan; break;
    default: s.op = StepOp::kState; break;
  }
  return s;
}

// The sampling rate a record or an options record states for itself; 0 when none.
uint32_t stated_rate(const RecordState& rs) noexcept {
  using R = RecordState;
  uint64_t rate = 0;
  if (rs.has(R::kInterval)) {
    rate = rs.interval;
  } else if (rs.has(R::kPktInterval) && rs.has(R::kPktSpace) && rs.pkt_interval > 0) {
    // RFC 5477 §8.2.2: sample `interval` packets, then skip `space`.
    rate = (rs.pkt_interval + rs.pkt_space) / rs.pkt_interval;
  } else if (rs.has(R::kSize) && rs.has(R::kPopulation) && rs.size > 0) {
    rate = rs.population / rs.size;
  }
  return static_cast<uint32_t>(std::min<uint64_t>(rate, UINT32_MAX));
}

// Resolves a flow time: an absolute time wins, then a delta from the export time, then
// sysUpTime-relative. v9 (RFC 3954 §5.1) times are ms of the exporter's sysUpTime: the signed
// 32-bit difference to the header's uptime survives the 49.7-day wrap. IPFIX 21/22 count from
// systemInitTimeMilliseconds (IE 160) in the record or learned from options data.
bool resolve_time(const RecordState& rs, bool abs, uint64_t abs_ms, bool delta, uint64_t delta_us,
                  bool up, uint64_t up_ms, const SetContext& ctx, uint64_t sys_init_ms,
                  uint64_t& out) noexcept {
  const uint64_t export_ms = uint64_t{ctx.export_secs} * 1000;
  if (abs) {
    out = abs_ms;
    return true;
  }
  if (delta) {
    out = export_ms - std::min(export_ms, delta_us / 1000);
    return true;
  }
  if (up) {
    if (ctx.type == FlowType::kNetflow9) {
      const auto diff = static_cast<int32_t>(ctx.uptime_ms - static_cast<uint32_t>(up_ms));
      out = static_cast<uint64_t>(static_cast<int64_t>(export_ms) - diff);
      return true;
    }
    const uint64_t init = rs.has(RecordState::kSysInit) ? rs.sys_init_ms : sys_init_ms;
    if (init != 0) {
      out = init + up_ms;
      return true;
    }
  }
  return false;
}

// What every record of one data set shares, looked up once per set.
struct SetConstants {
  uint64_t export_ms = 0;
  uint64_t sys_init_ms = 0;     // learned from options data; 0 when unknown
  uint32_t domain_rate = 0;     // learned from options data; 0 when unknown
};

SetConstants set_constants(const SetContext& ctx, const ExporterState& exp) noexcept {
  SetConstants k;
  k.export_ms = uint64_t{ctx.export_secs} * 1000;
  if (const DomainInfo* dom = exp.find_domain(ctx.domain)) {
    k.sys_init_ms = dom->system_init_ms;
    k.domain_rate = dom->sampling_rate;
  }
  return k;
}

constexpr uint32_t kTimeBits = RecordState::kFirstUp | RecordState::kLastUp |
                               RecordState::kStartAbs | RecordState::kEndAbs |
                               RecordState::kStartDelta | RecordState::kEndDelta;
constexpr uint32_t kRateBits = RecordState::kInterval | RecordState::kPktInterval |
                               RecordState::kPktSpace | RecordState::kSize |
                               RecordState::kPopulation;

void finalize_flow(FlowBlock& b, uint32_t r, const RecordState& rs, const SetContext& ctx,
                   const SetConstants& k, const ExporterState& exp) noexcept {
  using R = RecordState;
  b.exporter_addr[r] = ctx.meta.exporter;
  b.exporter_port[r] = ctx.meta.exporter_port;
  b.listener[r] = ctx.meta.listener;
  b.observation_domain[r] = ctx.domain;
  b.sequence[r] = ctx.sequence;
  b.flow_type[r] = ctx.type;

  if (rs.ip_version == 4) {
    b.ether_type[r] = 0x0800;
  } else if (rs.ip_version == 6) {
    b.ether_type[r] = 0x86dd;
  } else {
    const IpAddress& a = !b.src_addr[r].is_zero() ? b.src_addr[r] : b.dst_addr[r];
    b.ether_type[r] = a.is_zero() ? 0 : (a.is_v4() ? 0x0800 : 0x86dd);
  }

  uint64_t start = k.export_ms;
  uint64_t end = k.export_ms;
  if ((rs.present & kTimeBits) != 0) {
    const bool has_start =
        resolve_time(rs, rs.has(R::kStartAbs), rs.start_abs_ms, rs.has(R::kStartDelta),
                     rs.start_delta_us, rs.has(R::kFirstUp), rs.first_up, ctx, k.sys_init_ms,
                     start);
    const bool has_end =
        resolve_time(rs, rs.has(R::kEndAbs), rs.end_abs_ms, rs.has(R::kEndDelta),
                     rs.end_delta_us, rs.has(R::kLastUp), rs.last_up, ctx, k.sys_init_ms, end);
    if (!has_start && has_end) start = end;
    if (!has_end && has_start) end = start;
  }
  b.start_ms[r] = start;
  b.end_ms[r] = end;

  uint32_t rate = (rs.present & kRateBits) != 0 ? stated_rate(rs) : 0;
  if (rate == 0 && rs.has(R::kSampler)) rate = exp.sampler_rate(ctx.domain, rs.sampler);
  if (rate == 0) rate = k.domain_rate;
  b.sampling_rate[r] = rate;
}

void finalize_options(const RecordState& rs, const SetContext& ctx, ExporterState& exp,
                      DecodeCounters& c) noexcept {
  DomainInfo* dom = exp.domain(ctx.domain);
  if (rs.has(RecordState::kSysInit) && dom != nullptr) dom->system_init_ms = rs.sys_init_ms;
  const uint32_t rate = stated_rate(rs);
  if (rate == 0) return;
  if (rs.has(RecordState::kSampler)) exp.set_sampler(ctx.domain, rs.sampler, rate);
  // The latest rate also serves records that name no sampler (one sampler per domain is the
  // common deployment).
  if (dom != nullptr) dom->sampling_rate = rate;
  ++c.sampling_rates_learned;
}

bool is_options_target(FieldTarget t) noexcept {
  using T = FieldTarget;
  switch (t) {
    case T::kSamplingInterval: case T::kSamplerId: case T::kPacketInterval:
    case T::kPacketSpace: case T::kSamplingSize: case T::kSamplingPopulation:
    case T::kSysInitMs:
      return true;
    default:
      return false;
  }
}

uint64_t fnv1a(uint64_t h, uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (i * 8)) & 0xff;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace

bool all_zero(const uint8_t* p, size_t n) noexcept {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

DecodeStatus compile_template(uint16_t id, std::span<const RawField> fields, bool options,
                              bool v9_scope_types, CompiledTemplate& out,
                              DecodeCounters& counters) noexcept {
  constexpr auto kTargets = static_cast<size_t>(FieldTarget::kCount);
  std::array<uint8_t, kTargets> best{};
  auto usable = [&](const RawField& f, FieldSpec& spec) {
    if (f.enterprise || (f.scope && v9_scope_types) || f.length == DecodeStep::kVariable) {
      return false;
    }
    spec = lookup_field(f.id);
    if (spec.target == FieldTarget::kSkip || !width_fits(spec.target, f.length)) return false;
    return !options || is_options_target(spec.target);
  };
  for (const RawField& f : fields) {
    FieldSpec spec;
    if (usable(f, spec)) {
      uint8_t& b = best[target_column(spec.target)];
      b = std::max(b, spec.priority);
    }
  }

  out.id = id;
  out.is_options = options;
  out.has_variable = false;
  out.step_count = 0;
  out.min_record_length = 0;
  uint64_t hash = fnv1a(0xcbf29ce484222325ull, (uint64_t{options} << 16) | id);
  for (const RawField& f : fields) {
    hash = fnv1a(hash, (uint64_t{f.id} << 32) | (uint64_t{f.length} << 8) |
                           (uint64_t{f.enterprise} << 1) | uint64_t{f.scope});
    if (f.enterprise) ++counters.enterprise_fields;
    FieldSpec spec;
    FieldTarget target = FieldTarget::kSkip;
    if (usable(f, spec) && best[target_column(spec.target)] == spec.priority) target = spec.target;

    const bool variable = f.length == DecodeStep::kVariable;
    if (f.length == 0) continue;  // zero-length fields carry nothing (seen from some exporters)
    out.min_record_length += variable ? 1 : f.length;
    if (variable) out.has_variable = true;
    if (target == FieldTarget::kSkip && !variable && out.step_count > 0) {
      DecodeStep& last = out.steps[out.step_count - 1];
      if (last.target == FieldTarget::kSkip && last.width != DecodeStep::kVariable &&
          uint32_t{last.width} + f.length < DecodeStep::kVariable) {
        last.width = static_cast<uint16_t>(last.width + f.length);
        continue;
      }
    }
    if (out.step_count == CompiledTemplate::kMaxSteps) return DecodeStatus::kTemplateLimit;
    out.steps[out.step_count++] = make_step(target, f.length);
  }
  out.definition_hash = hash;
  // A record must consume bytes, or a data set would never end.
  if (out.min_record_length == 0) return DecodeStatus::kBadTemplate;
  return DecodeStatus::kOk;
}

namespace {

// Reads the width of a variable-length field (RFC 7011 §7: one byte, or 255 then two bytes).
// Returns false when the length prefix or the value runs past `end`.
inline bool variable_width(const uint8_t*& p, const uint8_t* end, uint16_t& w) noexcept {
  if (p >= end) return false;
  w = *p++;
  if (w == 255) {
    if (end - p < 2) return false;
    w = load_be16(p);
    p += 2;
  }
  return end - p >= w;
}

// How many whole records remain in [p, end): what is lost when no block is free.
uint64_t count_records(const CompiledTemplate& tmpl, const uint8_t* p, const uint8_t* end) noexcept {
  const uint32_t min_len = tmpl.min_record_length;
  if (!tmpl.has_variable) return static_cast<uint64_t>(end - p) / min_len;
  uint64_t n = 0;
  while (static_cast<uint32_t>(end - p) >= min_len) {
    for (uint32_t i = 0; i < tmpl.step_count; ++i) {
      uint16_t w = tmpl.steps[i].width;
      if (w == DecodeStep::kVariable) {
        if (!variable_width(p, end, w)) return n;
      } else if (end - p < w) {
        return n;
      }
      p += w;
    }
    ++n;
  }
  return n;
}

}  // namespace

DecodeStatus decode_data_set(const uint8_t* data, uint32_t length, const CompiledTemplate& tmpl,
                             const SetContext& ctx, ExporterState& exporter, FlowOutput& out,
                             DecodeCounters& counters) noexcept {
  const uint8_t* p = data;
  const uint8_t* const end = data + length;
  const DecodeStep* const steps = tmpl.steps.data();
  const uint32_t nsteps = tmpl.step_count;
  const uint32_t min_len = tmpl.min_record_length;

  if (tmpl.is_options) {
    while (static_cast<uint32_t>(end - p) >= min_len) {
      RecordState rs;
      for (uint32_t i = 0; i < nsteps; ++i) {
        uint16_t w = steps[i].width;
        if (w == DecodeStep::kVariable) {
          if (!variable_width(p, end, w)) return DecodeStatus::kBadRecord;
        } else if (end - p < w) {
          return DecodeStatus::kBadRecord;
        }
        if (steps[i].target != FieldTarget::kSkip) apply_state(steps[i].target, p, w, rs);
        p += w;
      }
      finalize_options(rs, ctx, exporter, counters);
      ++counters.options_records;
    }
    counters.padding_bytes += static_cast<uint64_t>(end - p);
    return DecodeStatus::kOk;
  }

  const SetConstants k = set_constants(ctx, exporter);
  while (static_cast<uint32_t>(end - p) >= min_len) {
    const uint32_t row = out.next_row();
    if (row == FlowOutput::kNoRow) {
      counters.block_unavailable += count_records(tmpl, p, end);
      return DecodeStatus::kOk;
    }
    FlowBlock& b = *out.block();
    RecordState rs;
    if (!tmpl.has_variable) {
      // Fixed layout: the loop condition already proved the whole record is present.
      for (uint32_t i = 0; i < nsteps; ++i) {
        apply_step(steps[i], p, steps[i].width, b, row, rs);
        p += steps[i].width;
      }
    } else {
      for (uint32_t i = 0; i < nsteps; ++i) {
        uint16_t w = steps[i].width;
        if (w == DecodeStep::kVariable) {
          if (!variable_width(p, end, w)) {
            --b.size;  // drop the half-read row
            return DecodeStatus::kBadRecord;
          }
        } else if (end - p < w) {
          --b.size;
          return DecodeStatus::kBadRecord;
        }
        apply_step(steps[i], p, w, b, row, rs);
        p += w;
      }
    }
    finalize_flow(b, row, rs, ctx, k, exporter);
    ++counters.records;
  }
  counters.padding_bytes += static_cast<uint64_t>(end - p);
  return DecodeStatus::kOk;
}

DecodeStatus handle_data_set(uint16_t template_id, const uint8_t* data, uint32_t length,
                             const SetContext& ctx, TemplateCache& templates, FlowOutput& out,
                             DecodeCounters& counters) noexcept {
  if (const CompiledTemplate* t = templates.find(ctx.exporter, ctx.domain, template_id)) {
    return decode_data_set(data, length, *t, ctx, templates.exporter(ctx.exporter), out,
                           counters);
  }
  if (length == 0) return DecodeStatus::kOk;
  uint64_t evicted = 0;
  const bool held = templates.hold(ctx, template_id, data, length, evicted);
  counters.pending_dropped += evicted;
  if (!held) return DecodeStatus::kUnknownTemplate;
  ++counters.pending_buffered;
  return DecodeStatus::kOk;
}

DecodeStatus store_template(const CompiledTemplate& tmpl, const SetContext& ctx,
                            TemplateCache& templates, FlowOutput& out,
                            DecodeCounters& counters) noexcept {
  switch (templates.store(ctx.exporter, ctx.domain, tmpl)) {
    case StoreResult::kAdded: ++counters.templates_added; break;
    case StoreResult::kReplaced: ++counters.templates_replaced; break;
    case StoreResult::kRefreshed: ++counters.templates_refreshed; break;
    case StoreResult::kLimit: return DecodeStatus::kTemplateLimit;
  }
  DecodeStatus status = DecodeStatus::kOk;
  const CompiledTemplate* stored = templates.find(ctx.exporter, ctx.domain, tmpl.id);
  templates.release_pending(
      ctx.exporter, ctx.domain, tmpl.id, [&](const PendingSet& held, const uint8_t* data) {
        // Held data keeps the header context of the datagram that carried it.
        const DecodeStatus s = decode_data_set(data, held.length, *stored, held.ctx,
                                               templates.exporter(ctx.exporter), out, counters);
        if (s != DecodeStatus::kOk && status == DecodeStatus::kOk) status = s;
        ++counters.pending_decoded;
      });
  return status;
}

}  // namespace flowgate::decode
