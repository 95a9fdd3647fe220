#pragma once

#include <cstdint>
#include <vector>

#include "decode/datagram.hpp"
#include "decode/decode_counters.hpp"
#include "decode/flow_type.hpp"
#include "decode/ip_address.hpp"

namespace flowgate::decode {

// Loss accounting from an export stream's sequence numbers. What the number counts differs by
// protocol: NetFlow v5 flow_sequence counts flows, v9 package sequence counts export packets
// (RFC 3954 §5.1), IPFIX counts data records (RFC 7011 §3.1), sFlow counts datagrams per agent
// and sub-agent (sflow_version_5.txt). Each datagram's number is compared, modulo 2^32, with
// the one the previous datagram made expected:
//  - equal: in order;
//  - ahead by up to kMaxGap: the difference is lost;
//  - ahead by more, or behind by more than the reorder window: the exporter restarted (a
//    reset, counted, not loss) and the stream re-anchors on this datagram;
//  - behind by at most the reorder window: a late (reordered) datagram, counted; its units are
//    counted as late too, so lost - late is the net loss. The expectation stays where it was.
// The windows are the Datadog agent's (comp/netflow/flowaggregator: a backward step of more
// than 1000 for NetFlow v5 and sFlow, 100 for v9 and IPFIX, is a reset).
struct SequenceTracker {
  static constexpr uint32_t kMaxGap = 1u << 24;

  bool anchored = false;
  uint32_t expected = 0;
  uint64_t lost = 0;       // units (flows, packets, records, datagrams) the gaps held
  uint64_t late = 0;       // units that arrived behind the expectation (reordered)
  uint64_t reordered = 0;  // datagrams that arrived behind the expectation
  uint64_t resets = 0;

  static uint32_t reorder_window(FlowType type) noexcept {
    return type == FlowType::kNetflow9 || type == FlowType::kIpfix ? 100 : 1000;
  }
  // A datagram numbered `sequence` carrying `units`; returns the units newly counted lost.
  uint64_t observe(FlowType type, uint32_t sequence, uint32_t units) noexcept;
  // The next datagram anchors afresh (this one's unit count is unknown).
  void resync() noexcept { anchored = false; }
};

// One export stream: an exporter (UDP source address and port; the agent address for sFlow)
// and its observation domain (v9 source ID, IPFIX observation domain, v5 engine type << 8 |
// engine ID, sFlow sub-agent).
struct ExporterRow {
  IpAddress address;
  uint16_t port = 0;
  FlowType type = FlowType::kUnknown;
  uint32_t domain = 0;
  uint64_t datagrams = 0;
  uint64_t bytes = 0;              // UDP payload bytes
  uint64_t records = 0;            // flow records decoded
  uint64_t options_records = 0;    // options data records (sampling, system init time)
  uint64_t decode_errors = 0;      // datagrams a decoder stopped on
  uint64_t sets_pending = 0;       // data sets held for a template not yet seen
  uint64_t sets_missing = 0;       // data sets dropped: template unknown and no room to hold
  uint64_t first_seen_ns = 0;
  uint64_t last_seen_ns = 0;
  uint64_t lost_records = 0;       // estimate: lost units as records (see below)
  uint64_t late_records = 0;       // estimate: late units as records
  uint32_t templates = 0;          // filled by the owner of the TemplateCache at snapshot time
  SequenceTracker sequence;
};

// Per listener (by index), what arrived on it.
struct ListenerRow {
  uint64_t datagrams = 0;
  uint64_t bytes = 0;
  uint64_t records = 0;
  uint64_t decode_errors = 0;
};

// The decode counters a datagram's accounting needs, read before and after decoding it.
struct DecodeMark {
  uint64_t records = 0;
  uint64_t options_records = 0;
  uint64_t block_unavailable = 0;
  uint64_t pending_buffered = 0;
  uint64_t pending_decoded = 0;
  uint64_t unknown_template = 0;
  static DecodeMark of(const DecodeCounters& c) noexcept {
    return {c.records,          c.options_records, c.block_unavailable,
            c.pending_buffered, c.pending_decoded, c.error(DecodeStatus::kUnknownTemplate)};
  }
};

// Per-shard table of export streams, written by one worker with no locks (like the
// TemplateCache) and copied out by it in housekeeping. Sized at construction: a datagram
// never allocates. A new stream at a full table takes the row of the stream heard from least
// recently if that was kIdleNs or more ago (by the datagrams' receive times: an exporter that
// went away, or came back from another source port), counted in reclaimed(); otherwise it is
// summed into one "other" row (no sequence tracking) and counted in overflow().
class ExporterStats {
 public:
  static constexpr uint32_t kMaxListeners = 256;
  static constexpr uint64_t kIdleNs = 3600ull * 1'000'000'000;

  explicit ExporterStats(uint32_t capacity = 1024);

  // Accounts one decoded datagram: `before`/`after` bracket its decode, `status` is what the
  // decoder returned.
  void on_datagram(FlowType type, Bytes datagram, const DatagramMeta& meta,
                   const DecodeMark& before, const DecodeMark& after,
                   DecodeStatus status) noexcept;

  uint32_t size() const noexcept { return size_; }
  uint32_t capacity() const noexcept { return static_cast<uint32_t>(rows_.size()); }
  uint64_t overflow() const noexcept { return overflow_; }
  uint64_t reclaimed() const noexcept { return reclaimed_; }
  const ExporterRow& other() const noexcept { return other_; }
  const ExporterRow* find(const IpAddress& address, uint16_t port, FlowType type,
                          uint32_t domain) const noexcept;

  template <typename Fn>
  void for_each(Fn&& fn) {
    for (uint32_t i = 0; i < size_; ++i) fn(rows_[i]);
  }
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (uint32_t i = 0; i < size_; ++i) fn(static_cast<const ExporterRow&>(rows_[i]));
  }
  const std::vector<ListenerRow>& listeners() const noexcept { return listeners_; }
  // What the tables take, from their sizes (fixed at construction by the capacity).
  uint64_t memory_bytes() const noexcept {
    return sizeof(*this) + rows_.capacity() * sizeof(ExporterRow) +
           table_.capacity() * sizeof(uint32_t) + listeners_.capacity() * sizeof(ListenerRow);
  }

 private:
  ExporterRow* upsert(const IpAddress& address, uint16_t port, FlowType type, uint32_t domain,
                      uint64_t now_ns) noexcept;
  // The row of the stream heard from least recently, if kIdleNs or more before now_ns; else
  // rows_.size(), and no scan again before one could be.
  uint32_t idle_row(uint64_t now_ns) noexcept;

  std::vector<ExporterRow> rows_;  // dense: [0, size_) live
  std::vector<uint32_t> table_;    // open addressing: row index + 1, 0 empty
  uint32_t size_ = 0;
  uint64_t overflow_ = 0;  // datagrams that went to the "other" row
  uint64_t reclaimed_ = 0;  // rows a new stream took from an idle one
  uint64_t next_idle_scan_ns_ = 0;
  ExporterRow other_;
  std::vector<ListenerRow> listeners_;
};

}  // namespace flowgate::decode
