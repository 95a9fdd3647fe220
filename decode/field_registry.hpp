#pragma once

#include <cstdint>

namespace flowgate::decode {

// Where a template field's value goes. Each target names one FlowBlock column or one piece of
// per-record state (times, sampling) that is resolved when the record is complete.
enum class FieldTarget : uint8_t {
  kSkip = 0,
  kSrcAddr4, kSrcAddr6, kDstAddr4, kDstAddr6,
  kSrcPort, kDstPort, kProtocol, kTos, kTcpFlags,
  kInIf, kOutIf, kBytes, kPackets,
  kSrcMask, kDstMask, kSrcMac, kDstMac, kNextHop4, kNextHop6,
  kDirection, kVlan, kIpVersion, kSrcAs, kDstAs,
  // Times, resolved against the header when the record ends (see RecordTimes).
  kFirstUptime, kLastUptime,            // 21/22: ms of sysUpTime (v9) / since system init (IPFIX)
  kStartSec, kEndSec,                   // 150/151 dateTimeSeconds
  kStartMs, kEndMs,                     // 152/153 dateTimeMilliseconds
  kStartNtp, kEndNtp,                   // 154-157 NTP-format micro/nanoseconds
  kStartDeltaUs, kEndDeltaUs,           // 158/159 µs before the export time
  kSysInitMs,                           // 160 systemInitTimeMilliseconds
  // Sampling, from options data or the record itself.
  kSamplingInterval,                    // 34 samplingInterval, 50 samplerRandomInterval
  kSamplerId,                           // 48 samplerId, 302 selectorId
  kPacketInterval, kPacketSpace,        // 305/306 samplingPacketInterval/Space (RFC 5477)
  kSamplingSize, kSamplingPopulation,   // 309/310 samplingSize/samplingPopulation
  kCount
};

// How a field maps: the target, and a priority among fields that feed the same target
// (bytes: 1 octetDeltaCount over 85 octetTotalCount over 23 postOctetDeltaCount). Within a
// template only the present fields with the highest priority for a column are decoded; fields
// of equal priority (an IPv4 and an IPv6 address for the same side) all decode, and a non-zero
// value is never overwritten by a zero one.
struct FieldSpec {
  FieldTarget target = FieldTarget::kSkip;
  uint8_t priority = 0;
};

// The IANA IPFIX information element (RFC 7012 registry) / NetFlow v9 field type (RFC 3954
// §8; IDs 1-127 coincide with IANA). Vendor IDs (v9 ≥ 32768, IPFIX enterprise bit) are
// never looked up here: they are skipped by length.
FieldSpec lookup_field(uint16_t id) noexcept;

// Whether a value of `width` bytes can be stored into `target`; other widths are skipped
// (e.g. an address with a length other than 4/16, RFC 7011 §6.2 reduced-size integers are ok).
bool width_fits(FieldTarget target, uint16_t width) noexcept;

// The column group a target writes, used to pick the best-priority field per column.
uint8_t target_column(FieldTarget target) noexcept;

}  // namespace flowgate::decode
