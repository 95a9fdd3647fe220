#include "decode/template_decoder.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>

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
    case T::kDirection: s.op = StepOp::kDirection; s.column = offsetof(FlowBlock, direction); break;
    case T::kVlan: s.op = StepOp::kVlan; s.column = offsetof(FlowBlock, vlan); break;
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

// The ether type of a record: from its IP version field (60) when 4 or 6, else from the family
// of its source (else destination) address; 0 when it has neither.
uint16_t ether_type_of(uint8_t ip_version, const FlowBlock& b, uint32_t r) noexcept {
  if (ip_version == 4) return 0x0800;
  if (ip_version == 6) return 0x86dd;
  const IpAddress& a = !b.src_addr[r].is_zero() ? b.src_addr[r] : b.dst_addr[r];
  return a.is_zero() ? 0 : (a.is_v4() ? 0x0800 : 0x86dd);
}

// What a record's RecordState resolves to: ether type, times and sampling rate.
void finalize_state(FlowBlock& b, uint32_t r, const RecordState& rs, const SetContext& ctx,
                    const SetConstants& k, const ExporterState& exp) noexcept {
  using R = RecordState;
  b.ether_type[r] = ether_type_of(rs.ip_version, b, r);

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

void finalize_flow(FlowBlock& b, uint32_t r, const RecordState& rs, const SetContext& ctx,
                   const SetConstants& k, const ExporterState& exp) noexcept {
  b.exporter_addr[r] = ctx.meta.exporter;
  b.exporter_port[r] = ctx.meta.exporter_port;
  b.listener[r] = ctx.meta.listener;
  b.observation_domain[r] = ctx.domain;
  b.sequence[r] = ctx.sequence;
  b.flow_type[r] = ctx.type;
  finalize_state(b, r, rs, ctx, k, exp);
}

void finalize_options(const RecordState& rs, const SetContext& ctx, ExporterState& exp,
                      DecodeCounters& c) noexcept {
  DomainInfo* dom = exp.domain(ctx.domain);
  if (rs.has(RecordState::kSysInit) && dom != nullptr) {
    dom->system_init_ms = rs.sys_init_ms;
    dom->refreshed_ns = ctx.meta.receive_ns;
  }
  const uint32_t rate = stated_rate(rs);
  if (rate == 0) return;
  if (rs.has(RecordState::kSampler)) {
    exp.set_sampler(ctx.domain, rs.sampler, rate, ctx.meta.receive_ns);
  }
  // The latest rate also serves records that name no sampler (one sampler per domain is the
  // common deployment).
  if (dom != nullptr) {
    dom->sampling_rate = rate;
    dom->refreshed_ns = ctx.meta.receive_ns;
  }
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

// Fills in the offsets and the ColumnarPlan of a fixed-layout data template.
void plan_columnar(CompiledTemplate& t) noexcept {
  using T = FieldTarget;
  constexpr uint8_t kNo = ColumnarPlan::kNoStep;
  static_assert(CompiledTemplate::kMaxSteps < kNo, "step indices fit the plan");
  static_assert(kFlowColumns.size() < 64, "column bits fit zero_columns");
  ColumnarPlan& plan = t.plan;
  plan = ColumnarPlan{};
  // Columns every record gets from the set's header or from the plan.
  uint64_t written = 0;
  for (const uint32_t c :
       {offsetof(FlowBlock, exporter_addr), offsetof(FlowBlock, exporter_port),
        offsetof(FlowBlock, listener), offsetof(FlowBlock, observation_domain),
        offsetof(FlowBlock, sequence), offsetof(FlowBlock, flow_type),
        offsetof(FlowBlock, ether_type), offsetof(FlowBlock, start_ms),
        offsetof(FlowBlock, end_ms), offsetof(FlowBlock, sampling_rate)}) {
    written |= column_bit(c);
  }
  // [0] start, [1] end: the last step of each kind.
  uint8_t abs[2] = {kNo, kNo};
  uint8_t delta[2] = {kNo, kNo};
  uint8_t up[2] = {kNo, kNo};
  uint32_t src_v4 = 0, src_v6 = 0, dst_v4 = 0, dst_v6 = 0;
  uint32_t offset = 0;
  for (uint32_t i = 0; i < t.step_count; ++i) {
    DecodeStep& s = t.steps[i];
    s.offset = static_cast<uint16_t>(offset);
    s.first_in_column = false;
    offset += s.width;
    const auto idx = static_cast<uint8_t>(i);
    if (s.op == StepOp::kSkip) continue;
    if (s.op == StepOp::kState) {
      switch (s.target) {
        case T::kFirstUptime: up[0] = idx; break;
        case T::kLastUptime: up[1] = idx; break;
        case T::kStartSec: case T::kStartMs: case T::kStartNtp: abs[0] = idx; break;
        case T::kEndSec: case T::kEndMs: case T::kEndNtp: abs[1] = idx; break;
        case T::kStartDeltaUs: delta[0] = idx; break;
        case T::kEndDeltaUs: delta[1] = idx; break;
        case T::kIpVersion: plan.ip_version_step = idx; break;
        case T::kSamplerId: plan.sampler_step = idx; break;
        default: plan.per_record_state = true; break;
      }
      continue;
    }
    const uint64_t bit = column_bit(s.column);
    s.first_in_column = (written & bit) == 0;
    written |= bit;
    const bool v4 = s.op == StepOp::kAddr4;
    if (s.column == offsetof(FlowBlock, src_addr)) ++(v4 ? src_v4 : src_v6);
    if (s.column == offsetof(FlowBlock, dst_addr)) ++(v4 ? dst_v4 : dst_v6);
  }
  for (int e = 0; e < 2; ++e) {
    (e == 0 ? plan.start_step : plan.end_step) =
        abs[e] != kNo ? abs[e] : delta[e] != kNo ? delta[e] : up[e];
  }
  plan.zero_columns = ((uint64_t{1} << kFlowColumns.size()) - 1) & ~written;
  // An IPv4 step always stores a non-zero (v4-mapped) address: see ether_type_of().
  if (src_v4 + src_v6 > 0) {
    plan.ether_from_rows = src_v6 > 0;
    plan.ether_type = 0x0800;
  } else if (dst_v4 + dst_v6 > 0) {
    plan.ether_from_rows = dst_v6 > 0;
    plan.ether_type = 0x0800;
  } else {
    plan.ether_from_rows = false;
    plan.ether_type = 0;
  }
}

uint64_t fnv1a(uint64_t h, uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (i * 8)) & 0xff;
    h *= 0x100000001b3ull;
  }
  return h;
}

// Of the wire definition (id, kind and every field as received): equal for a re-sent template.
uint64_t definition_hash(uint16_t id, std::span<const RawField> fields, bool options) noexcept {
  uint64_t hash = fnv1a(0xcbf29ce484222325ull, (uint64_t{options} << 16) | id);
  for (const RawField& f : fields) {
    hash = fnv1a(hash, (uint64_t{f.id} << 32) | (uint64_t{f.length} << 8) |
                           (uint64_t{f.enterprise} << 1) | uint64_t{f.scope});
  }
  return hash;
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
  out.columnar = false;
  out.plan = ColumnarPlan{};
  out.step_count = 0;
  out.min_record_length = 0;
  for (const RawField& f : fields) {
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
  out.definition_hash = definition_hash(id, fields, options);
  // A record must consume bytes, or a data set would never end.
  if (out.min_record_length == 0) return DecodeStatus::kBadTemplate;
  // A record longer than 65535 bytes cannot fit a set; such a template decodes nothing and is
  // left to the interpreted path rather than widening DecodeStep::offset.
  if (!options && !out.has_variable && out.min_record_length <= UINT16_MAX) {
    out.columnar = true;
    plan_columnar(out);
  }
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

// Columnar decoding of fixed-layout templates. A chunk is `n` consecutive records at `rec`
// (`stride` bytes apart, all inside the set) decoded into rows [first, first + n) of a block:
// each step runs one loop over the chunk, so its dispatch is paid once per chunk, not once per
// record.

template <typename T>
inline T* column_rows(FlowBlock& b, uint32_t column, uint32_t first) noexcept {
  return &column_at<T>(b, column, first);
}

// Calls store(i, field) for each record of the chunk, `field` pointing at the step's bytes.
template <typename Store>
[[gnu::always_inline]] inline void each_row(const uint8_t* field, uint32_t stride, uint32_t n,
                                            Store&& store) noexcept {
  for (uint32_t i = 0; i < n; ++i, field += stride) store(i, field);
}

// As each_row(), with the field read as an unsigned integer of `width` bytes; the width is
// dispatched once, outside the loop.
template <typename Store>
[[gnu::always_inline]] inline void each_uint(const uint8_t* field, uint32_t stride, uint16_t width,
                                             uint32_t n, Store&& store) noexcept {
  using Row = const uint8_t*;
  switch (width) {
    case 1:
      return each_row(field, stride, n, [&](uint32_t i, Row v) { store(i, uint64_t{v[0]}); });
    case 2:
      return each_row(field, stride, n, [&](uint32_t i, Row v) { store(i, load_be16(v)); });
    case 4:
      return each_row(field, stride, n, [&](uint32_t i, Row v) { store(i, load_be32(v)); });
    case 8:
      return each_row(field, stride, n, [&](uint32_t i, Row v) { store(i, load_be64(v)); });
    default:
      return each_row(field, stride, n,
                      [&](uint32_t i, Row v) { store(i, load_be_uint(v, width)); });
  }
}

// IpAddress::from_v4_bytes() stored in place: one 16-byte copy.
inline void store_v4_mapped(IpAddress& a, const uint8_t* v) noexcept {
  uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  std::memcpy(mapped + 12, v, 4);
  std::memcpy(a.bytes.data(), mapped, 16);
}

void decode_column(const DecodeStep& s, const uint8_t* rec, uint32_t stride, uint32_t n,
                   FlowBlock& b, uint32_t first) noexcept {
  const uint8_t* const f = rec + s.offset;
  const uint16_t w = s.width;
  switch (s.op) {
    case StepOp::kSkip:
    case StepOp::kState:
      return;
    case StepOp::kU8: {
      uint8_t* __restrict c = column_rows<uint8_t>(b, s.column, first);
      each_row(f, stride, n, [c](uint32_t i, const uint8_t* v) { c[i] = v[0]; });
      return;
    }
    case StepOp::kU16: {
      uint16_t* __restrict c = column_rows<uint16_t>(b, s.column, first);
      each_row(f, stride, n, [c](uint32_t i, const uint8_t* v) { c[i] = load_be16(v); });
      return;
    }
    case StepOp::kU32: {
      uint32_t* __restrict c = column_rows<uint32_t>(b, s.column, first);
      each_row(f, stride, n, [c](uint32_t i, const uint8_t* v) { c[i] = load_be32(v); });
      return;
    }
    case StepOp::kU64: {
      uint64_t* __restrict c = column_rows<uint64_t>(b, s.column, first);
      each_row(f, stride, n, [c](uint32_t i, const uint8_t* v) { c[i] = load_be64(v); });
      return;
    }
    case StepOp::kU32From2: {
      uint32_t* __restrict c = column_rows<uint32_t>(b, s.column, first);
      each_row(f, stride, n, [c](uint32_t i, const uint8_t* v) { c[i] = load_be16(v); });
      return;
    }
    case StepOp::kU64From4: {
      uint64_t* __restrict c = column_rows<uint64_t>(b, s.column, first);
      each_row(f, stride, n, [c](uint32_t i, const uint8_t* v) { c[i] = load_be32(v); });
      return;
    }
    case StepOp::kIntTo8: {
      uint8_t* __restrict c = column_rows<uint8_t>(b, s.column, first);
      each_uint(f, stride, w, n, [c](uint32_t i, uint64_t v) { c[i] = static_cast<uint8_t>(v); });
      return;
    }
    case StepOp::kIntTo16: {
      uint16_t* __restrict c = column_rows<uint16_t>(b, s.column, first);
      each_uint(f, stride, w, n, [c](uint32_t i, uint64_t v) { c[i] = static_cast<uint16_t>(v); });
      return;
    }
    case StepOp::kIntTo32: {
      uint32_t* __restrict c = column_rows<uint32_t>(b, s.column, first);
      each_uint(f, stride, w, n, [c](uint32_t i, uint64_t v) { c[i] = static_cast<uint32_t>(v); });
      return;
    }
    case StepOp::kIntTo64: {
      uint64_t* __restrict c = column_rows<uint64_t>(b, s.column, first);
      each_uint(f, stride, w, n, [c](uint32_t i, uint64_t v) { c[i] = v; });
      return;
    }
    case StepOp::kAddr4: {
      IpAddress* __restrict c = column_rows<IpAddress>(b, s.column, first);
      if (s.first_in_column) {
        each_row(f, stride, n, [c](uint32_t i, const uint8_t* v) { store_v4_mapped(c[i], v); });
      } else {
        each_row(f, stride, n, [c](uint32_t i, const uint8_t* v) {
          if (load_be32(v) != 0 || c[i].is_zero()) store_v4_mapped(c[i], v);
        });
      }
      return;
    }
    case StepOp::kAddr6: {
      IpAddress* __restrict c = column_rows<IpAddress>(b, s.column, first);
      if (s.first_in_column) {
        each_row(f, stride, n, [c](uint32_t i, const uint8_t* v) { std::memcpy(&c[i], v, 16); });
      } else {
        each_row(f, stride, n, [c](uint32_t i, const uint8_t* v) {
          const IpAddress a = IpAddress::from_v6_bytes(v);
          store_address(c[i], a, a.is_zero());
        });
      }
      return;
    }
    case StepOp::kMac: {
      uint64_t* __restrict c = column_rows<uint64_t>(b, s.column, first);
      each_row(f, stride, n, [c](uint32_t i, const uint8_t* v) { c[i] = load_mac(v); });
      return;
    }
    case StepOp::kMask: {
      // IPv4 and IPv6 prefix lengths share the column: a later step keeps a non-zero one.
      uint8_t* __restrict c = column_rows<uint8_t>(b, s.column, first);
      if (s.first_in_column) {
        each_uint(f, stride, w, n, [c](uint32_t i, uint64_t v) { c[i] = static_cast<uint8_t>(v); });
      } else {
        each_uint(f, stride, w, n, [c](uint32_t i, uint64_t v) {
          if (static_cast<uint8_t>(v) != 0) c[i] = static_cast<uint8_t>(v);
        });
      }
      return;
    }
    case StepOp::kDirection: {
      Direction* __restrict c = column_rows<Direction>(b, s.column, first);
      each_uint(f, stride, w, n, [c](uint32_t i, uint64_t v) {
        c[i] = v == 1 ? Direction::kEgress : Direction::kIngress;
      });
      return;
    }
    case StepOp::kVlan: {
      uint16_t* __restrict c = column_rows<uint16_t>(b, s.column, first);
      each_uint(f, stride, w, n,
                [c](uint32_t i, uint64_t v) { c[i] = static_cast<uint16_t>(v & 0x0fff); });
      return;
    }
  }
}

// Writes the start or end time of every record of the chunk from `s`, the step the plan chose;
// false when the time cannot be resolved (IPFIX sysUpTime with no known system init time).
bool decode_time(const DecodeStep& s, const uint8_t* rec, uint32_t stride, uint32_t n,
                 uint64_t* __restrict out, const SetContext& ctx, const SetConstants& k) noexcept {
  using T = FieldTarget;
  const uint8_t* const f = rec + s.offset;
  switch (s.target) {
    case T::kStartSec: case T::kEndSec:
      each_uint(f, stride, s.width, n, [out](uint32_t i, uint64_t v) { out[i] = v * 1000; });
      return true;
    case T::kStartMs: case T::kEndMs:
      each_uint(f, stride, s.width, n, [out](uint32_t i, uint64_t v) { out[i] = v; });
      return true;
    case T::kStartNtp: case T::kEndNtp:
      each_row(f, stride, n, [out](uint32_t i, const uint8_t* v) {
        out[i] = ntp_to_unix_ms(load_be64(v));
      });
      return true;
    case T::kStartDeltaUs: case T::kEndDeltaUs: {
      const uint64_t export_ms = k.export_ms;
      each_uint(f, stride, s.width, n, [out, export_ms](uint32_t i, uint64_t v) {
        out[i] = export_ms - std::min(export_ms, v / 1000);
      });
      return true;
    }
    case T::kFirstUptime: case T::kLastUptime: {
      // As resolve_time(); the template has no system-init field (the plan would be per record).
      if (ctx.type == FlowType::kNetflow9) {
        const auto export_ms = static_cast<int64_t>(k.export_ms);
        const uint32_t uptime = ctx.uptime_ms;
        each_uint(f, stride, s.width, n, [out, export_ms, uptime](uint32_t i, uint64_t v) {
          const auto diff = static_cast<int32_t>(uptime - static_cast<uint32_t>(v));
          out[i] = static_cast<uint64_t>(export_ms - diff);
        });
        return true;
      }
      const uint64_t init = k.sys_init_ms;
      if (init == 0) return false;
      each_uint(f, stride, s.width, n, [out, init](uint32_t i, uint64_t v) { out[i] = init + v; });
      return true;
    }
    default:
      return false;
  }
}

void decode_chunk(const uint8_t* rec, uint32_t n, const CompiledTemplate& tmpl,
                  const SetContext& ctx, const SetConstants& k, const ExporterState& exp,
                  FlowBlock& b, uint32_t first) noexcept {
  const ColumnarPlan& plan = tmpl.plan;
  const uint32_t stride = tmpl.min_record_length;
  auto* const base = reinterpret_cast<uint8_t*>(&b);

  // A column the template lacks is zeroed, unless the block knows it to be zero in every row
  // already (FlowBlock::zero_columns): an exporter sends one template for as long as it runs,
  // so after the first fill of a block the columns it lacks are neither written nor fetched.
  // Every other column this chunk writes is no longer known to be zero.
  const uint64_t known_zero = b.zero_columns & plan.zero_columns;
  b.zero_columns = known_zero;
  b.filled_zero = (first == 0 ? ~uint64_t{0} : b.filled_zero) & plan.zero_columns;
  for (uint64_t z = plan.zero_columns & ~known_zero; z != 0; z &= z - 1) {
    const FlowColumn& c = kFlowColumns[static_cast<size_t>(__builtin_ctzll(z))];
    std::memset(base + c.offset + size_t{first} * c.size, 0, size_t{n} * c.size);
  }
  for (uint32_t i = 0; i < tmpl.step_count; ++i) {
    decode_column(tmpl.steps[i], rec, stride, n, b, first);
  }

  std::fill_n(&b.exporter_addr[first], n, ctx.meta.exporter);
  std::fill_n(&b.exporter_port[first], n, ctx.meta.exporter_port);
  std::fill_n(&b.listener[first], n, ctx.meta.listener);
  std::fill_n(&b.observation_domain[first], n, ctx.domain);
  std::fill_n(&b.sequence[first], n, ctx.sequence);
  std::fill_n(&b.flow_type[first], n, ctx.type);

  constexpr uint8_t kNo = ColumnarPlan::kNoStep;
  if (plan.per_record_state) {
    for (uint32_t i = 0; i < n; ++i) {
      const uint8_t* const r = rec + size_t{i} * stride;
      RecordState rs;
      for (uint32_t j = 0; j < tmpl.step_count; ++j) {
        const DecodeStep& s = tmpl.steps[j];
        if (s.op == StepOp::kState) apply_state(s.target, r + s.offset, s.width, rs);
      }
      finalize_state(b, first + i, rs, ctx, k, exp);
    }
    return;
  }

  uint16_t* __restrict ether = &b.ether_type[first];
  if (plan.ip_version_step != kNo) {
    const DecodeStep& s = tmpl.steps[plan.ip_version_step];
    each_uint(rec + s.offset, stride, s.width, n, [&](uint32_t i, uint64_t v) {
      const auto version = static_cast<uint8_t>(v);
      ether[i] = plan.ether_from_rows ? ether_type_of(version, b, first + i)
                 : version == 4       ? 0x0800
                 : version == 6       ? 0x86dd
                                      : plan.ether_type;
    });
  } else if (plan.ether_from_rows) {
    for (uint32_t i = 0; i < n; ++i) ether[i] = ether_type_of(0, b, first + i);
  } else {
    std::fill_n(ether, n, plan.ether_type);
  }

  uint64_t* const start = &b.start_ms[first];
  uint64_t* const end = &b.end_ms[first];
  const bool has_start = plan.start_step != kNo &&
                         decode_time(tmpl.steps[plan.start_step], rec, stride, n, start, ctx, k);
  const bool has_end = plan.end_step != kNo &&
                       decode_time(tmpl.steps[plan.end_step], rec, stride, n, end, ctx, k);
  if (has_start && !has_end) std::copy_n(start, n, end);
  if (has_end && !has_start) std::copy_n(end, n, start);
  if (!has_start && !has_end) {
    std::fill_n(start, n, k.export_ms);
    std::fill_n(end, n, k.export_ms);
  }

  uint32_t* __restrict rate = &b.sampling_rate[first];
  if (plan.sampler_step != kNo) {
    // Records of one set mostly name one sampler: look it up when it changes.
    const DecodeStep& s = tmpl.steps[plan.sampler_step];
    uint64_t last_id = 0;
    uint32_t last_rate = 0;
    bool known = false;
    each_uint(rec + s.offset, stride, s.width, n, [&](uint32_t i, uint64_t id) {
      if (!known || id != last_id) {
        last_rate = exp.sampler_rate(ctx.domain, id);
        if (last_rate == 0) last_rate = k.domain_rate;
        last_id = id;
        known = true;
      }
      rate[i] = last_rate;
    });
  } else {
    std::fill_n(rate, n, k.domain_rate);
  }
}

// Decodes a data set through a columnar template: the record count is known up front, so rows
// are reserved a chunk at a time (a chunk ends where a block fills).
DecodeStatus decode_columnar(const uint8_t* data, uint32_t length, const CompiledTemplate& tmpl,
                             const SetContext& ctx, const ExporterState& exporter, FlowOutput& out,
                             DecodeCounters& counters) noexcept {
  const uint32_t stride = tmpl.min_record_length;
  const SetConstants k = set_constants(ctx, exporter);
  const uint8_t* p = data;
  uint32_t left = length / stride;
  while (left > 0) {
    uint32_t first = 0;
    const uint32_t n = out.next_rows(left, first);
    if (n == 0) {
      counters.block_unavailable += left;
      return DecodeStatus::kOk;
    }
    decode_chunk(p, n, tmpl, ctx, k, exporter, *out.block(), first);
    // The rows a next set as long will take, fetched while this datagram's rest is parsed
    // and the next one received.
    prefetch_rows_for_write(*out.block(), first + n, n);
    counters.records += n;
    p += size_t{n} * stride;
    left -= n;
  }
  counters.padding_bytes += length % stride;
  return DecodeStatus::kOk;
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

  if (tmpl.columnar) return decode_columnar(data, length, tmpl, ctx, exporter, out, counters);

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

DecodeStatus compile_and_store(uint16_t id, std::span<const RawField> fields, bool options,
                               bool v9_scope_types, const SetContext& ctx,
                               TemplateCache& templates, FlowOutput& out,
                               DecodeCounters& counters, CompiledTemplate& scratch) noexcept {
  // Exporters re-send their templates every few datagrams (Cisco's default: every 20). One held
  // with the same definition is refreshed from the hash alone, without compiling it again:
  // only a template that compiled is ever held, so the outcome is what compiling would give.
  if (const CompiledTemplate* held = templates.find(ctx.exporter, ctx.domain, id);
      held != nullptr && held->is_options == options &&
      held->definition_hash == definition_hash(id, fields, options)) {
    for (const RawField& f : fields) counters.enterprise_fields += f.enterprise ? 1 : 0;
    ++counters.templates_refreshed;
    templates.note_definition(ctx.exporter, ctx.domain, id, fields, ctx.meta.receive_ns);
    return DecodeStatus::kOk;
  }
  const DecodeStatus s = compile_template(id, fields, options, v9_scope_types, scratch, counters);
  if (s != DecodeStatus::kOk) return s;
  const DecodeStatus stored = store_template(scratch, ctx, templates, out, counters);
  // The field list as received, for the template state file; a no-op when not stored.
  templates.note_definition(ctx.exporter, ctx.domain, id, fields, ctx.meta.receive_ns);
  return stored;
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
