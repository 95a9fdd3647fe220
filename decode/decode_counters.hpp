#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace flowgate::decode {

// Outcome of decoding one datagram. Each value other than kOk is a drop reason: a datagram
// that returns it bumps exactly one error counter. Records decoded before the fault are kept.
// X(enum, metric name, help)
#define FLOWGATE_DECODE_STATUSES(X)                                                          \
  X(kOk, "ok", "decoded without fault")                                                     \
  X(kTruncated, "truncated", "datagram shorter than its header or a record it announces")   \
  X(kBadVersion, "bad_version", "version field is not a supported protocol")                \
  X(kBadCount, "bad_count", "NetFlow v5 record count is 0 or over 30")                    \
  X(kBadLength, "bad_length", "IPFIX message length disagrees with the datagram")           \
  X(kBadSetLength, "bad_set_length", "set/flowset length under 4 or past the datagram end")  \
  X(kBadTemplate, "bad_template", "template record malformed (field count, lengths)")       \
  X(kTemplateLimit, "template_limit", "template not stored: per-exporter or cache bound hit") \
  X(kUnknownTemplate, "unknown_template", "data set without template and no room to hold it") \
  X(kExporterLimit, "exporter_limit", "new exporter not tracked: exporter table is full")   \
  X(kBadRecord, "bad_record", "a variable-length field runs past the end of its set")       \
  X(kBadSample, "bad_sample", "sFlow sample or record runs past its container or is too short") \
  X(kBadAddress, "bad_address", "sFlow address type unknown (agent: not IPv4 1 or IPv6 2)")

enum class DecodeStatus : uint8_t {
#define FLOWGATE_X(e, n, h) e,
  FLOWGATE_DECODE_STATUSES(FLOWGATE_X)
#undef FLOWGATE_X
      kCount
};

inline constexpr std::array<std::string_view, static_cast<size_t>(DecodeStatus::kCount)>
    kDecodeStatusNames = {
#define FLOWGATE_X(e, n, h) n,
        FLOWGATE_DECODE_STATUSES(FLOWGATE_X)
#undef FLOWGATE_X
};

inline constexpr std::array<std::string_view, static_cast<size_t>(DecodeStatus::kCount)>
    kDecodeStatusHelp = {
#define FLOWGATE_X(e, n, h) h,
        FLOWGATE_DECODE_STATUSES(FLOWGATE_X)
#undef FLOWGATE_X
};

constexpr std::string_view decode_status_name(DecodeStatus s) noexcept {
  return kDecodeStatusNames[static_cast<size_t>(s)];
}

// Event counters that are not drop reasons. X(member, help)
#define FLOWGATE_DECODE_EVENTS(X)                                                         \
  X(datagrams, "datagrams handed to a decoder")                                           \
  X(records, "flow records decoded")                                                      \
  X(options_records, "options data records decoded (sampling, system init time)")         \
  X(templates_added, "templates stored for the first time")                               \
  X(templates_replaced, "templates re-sent with a changed definition")                    \
  X(templates_refreshed, "templates re-sent unchanged")                                   \
  X(templates_withdrawn, "IPFIX template withdrawals accepted")                           \
  X(templates_expired, "templates dropped: not re-sent within the template timeout")      \
  X(exporters_reclaimed, "new exporters that took a full exporter table's place of one holding nothing") \
  X(enterprise_fields, "enterprise (PEN) or vendor fields skipped by length")             \
  X(pending_buffered, "data sets held until their template arrives")                      \
  X(pending_decoded, "held data sets decoded after their template arrived")               \
  X(pending_dropped, "held data sets evicted or expired before their template arrived")   \
  X(padding_bytes, "bytes of set padding skipped")                                        \
  X(block_unavailable, "records dropped because no FlowBlock was free")                   \
  X(sampling_rates_learned, "sampling rates learned from options data")                  \
  X(sflow_flow_samples, "sFlow flow samples (formats 1, 3) decoded")                      \
  X(sflow_counter_samples, "sFlow counter samples (formats 2, 4) decoded")                \
  X(sflow_discard_samples, "sFlow discarded-packet samples (format 5) skipped by length")  \
  X(sflow_skipped_samples, "sFlow samples of unknown or enterprise formats skipped")      \
  X(sflow_skipped_records, "sFlow flow/counter records of unknown or enterprise formats skipped") \
  X(sflow_headers_unparsed, "sFlow raw packet headers of a protocol not parsed (no L3/L4)")

struct DecodeCounters {
  std::array<uint64_t, static_cast<size_t>(DecodeStatus::kCount)> errors{};
#define FLOWGATE_X(m, h) uint64_t m = 0;
  FLOWGATE_DECODE_EVENTS(FLOWGATE_X)
#undef FLOWGATE_X

  // Records the datagram's outcome: exactly one error counter for a fault.
  DecodeStatus count(DecodeStatus s) noexcept {
    if (s != DecodeStatus::kOk) ++errors[static_cast<size_t>(s)];
    return s;
  }
  uint64_t error(DecodeStatus s) const noexcept { return errors[static_cast<size_t>(s)]; }
  uint64_t total_errors() const noexcept {
    uint64_t t = 0;
    for (uint64_t e : errors) t += e;
    return t;
  }
  // Sums another shard's counters into this one (counters are per core, summed when read).
  void add(const DecodeCounters& o) noexcept {
    for (size_t i = 0; i < errors.size(); ++i) errors[i] += o.errors[i];
#define FLOWGATE_X(m, h) m += o.m;
    FLOWGATE_DECODE_EVENTS(FLOWGATE_X)
#undef FLOWGATE_X
  }
};

}  // namespace flowgate::decode
