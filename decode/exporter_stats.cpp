#include "decode/exporter_stats.hpp"

#include <algorithm>
#include <bit>

#include "decode/byte_order.hpp"
#include "decode/hash.hpp"
#include "decode/open_addressing.hpp"

namespace flowgate::decode {
namespace {

uint64_t hash_key(const IpAddress& a, uint16_t port, FlowType type, uint32_t domain) noexcept {
  return hash_address(a, (uint64_t{domain} << 24) ^ (uint64_t{port} << 8) ^
                             static_cast<uint64_t>(type));
}

// What a datagram's header says about its stream. `has_sequence` is false when the header is
// too short to hold one.
struct StreamHeader {
  IpAddress address;
  uint32_t domain = 0;
  uint32_t sequence = 0;
  bool has_sequence = false;
};

StreamHeader read_header(FlowType type, Bytes datagram, const DatagramMeta& meta) noexcept {
  StreamHeader h;
  h.address = meta.exporter;
  const auto* d = reinterpret_cast<const uint8_t*>(datagram.data());
  const size_t n = datagram.size();
  switch (type) {
    case FlowType::kNetflow5:  // version, count, uptime, secs, nsecs, flow_sequence, engine
      if (n >= 24) {
        h.sequence = load_be32(d + 16);
        h.domain = (uint32_t{d[20]} << 8) | d[21];
        h.has_sequence = true;
      }
      break;
    case FlowType::kNetflow9:  // version, count, uptime, secs, package sequence, source ID
      if (n >= 20) {
        h.sequence = load_be32(d + 12);
        h.domain = load_be32(d + 16);
        h.has_sequence = true;
      }
      break;
    case FlowType::kIpfix:  // version, length, export time, sequence, observation domain
      if (n >= 16) {
        h.sequence = load_be32(d + 8);
        h.domain = load_be32(d + 12);
        h.has_sequence = true;
      }
      break;
    case FlowType::kSflow5: {  // version, agent address (type, bytes), sub-agent, sequence
      if (n < 8) break;
      const uint32_t address_type = load_be32(d + 4);
      size_t at = 8;
      if (address_type == 1 && n >= at + 4) {
        h.address = IpAddress::from_v4_bytes(d + at);
        at += 4;
      } else if (address_type == 2 && n >= at + 16) {
        h.address = IpAddress::from_v6_bytes(d + at);
        at += 16;
      } else {
        break;
      }
      if (n >= at + 8) {
        h.domain = load_be32(d + at);
        h.sequence = load_be32(d + at + 4);
        h.has_sequence = true;
      }
      break;
    }
    case FlowType::kUnknown: break;
  }
  return h;
}

}  // namespace

uint64_t SequenceTracker::observe(FlowType type, uint32_t sequence, uint32_t units) noexcept {
  if (!anchored) {
    anchored = true;
    expected = sequence + units;
    return 0;
  }
  // Signed distance modulo 2^32: the counters wrap, and a wrap is not a reset.
  const auto diff = static_cast<int32_t>(sequence - expected);
  if (diff == 0) {
    expected = sequence + units;
    return 0;
  }
  if (diff > 0 && static_cast<uint32_t>(diff) <= kMaxGap) {
    lost += static_cast<uint32_t>(diff);
    expected = sequence + units;
    return static_cast<uint32_t>(diff);
  }
  if (diff < 0 && static_cast<uint32_t>(-static_cast<int64_t>(diff)) <= reorder_window(type)) {
    ++reordered;
    late += units;
    return 0;
  }
  ++resets;
  expected = sequence + units;
  return 0;
}

ExporterStats::ExporterStats(uint32_t capacity) {
  capacity = std::clamp<uint32_t>(capacity, 1, 1u << 20);
  rows_.resize(capacity);
  table_.assign(std::bit_ceil(std::max<uint32_t>(capacity, 8) * 2), 0);
  listeners_.resize(kMaxListeners);
}

ExporterRow* ExporterStats::upsert(const IpAddress& address, uint16_t port, FlowType type,
                                   uint32_t domain, uint64_t now_ns) noexcept {
  const auto mask = static_cast<uint32_t>(table_.size() - 1);
  uint32_t i = static_cast<uint32_t>(hash_key(address, port, type, domain)) & mask;
  for (;; i = (i + 1) & mask) {
    const uint32_t e = table_[i];
    if (e == 0) break;
    ExporterRow& r = rows_[e - 1];
    if (r.domain == domain && r.port == port && r.type == type && r.address == address) return &r;
  }
  uint32_t index = size_;
  if (size_ == rows_.size()) {
    index = idle_row(now_ns);
    if (index == rows_.size()) return nullptr;
    // The idle stream's bucket goes, which may shift the empty one this key would take.
    erase_entry(table_, index + 1, [&](uint32_t e) {
      const ExporterRow& r = rows_[e - 1];
      return hash_key(r.address, r.port, r.type, r.domain);
    });
    for (i = static_cast<uint32_t>(hash_key(address, port, type, domain)) & mask; table_[i] != 0;
         i = (i + 1) & mask) {
    }
    ++reclaimed_;
  } else {
    ++size_;
  }
  ExporterRow& r = rows_[index];
  r = ExporterRow{};
  r.address = address;
  r.port = port;
  r.type = type;
  r.domain = domain;
  table_[i] = index + 1;
  return &r;
}

uint32_t ExporterStats::idle_row(uint64_t now_ns) noexcept {
  const auto none = static_cast<uint32_t>(rows_.size());
  if (now_ns < next_idle_scan_ns_ || size_ == 0) return none;
  uint32_t oldest = 0;
  for (uint32_t i = 1; i < size_; ++i) {
    if (rows_[i].last_seen_ns < rows_[oldest].last_seen_ns) oldest = i;
  }
  if (rows_[oldest].last_seen_ns + kIdleNs <= now_ns) return oldest;
  next_idle_scan_ns_ = rows_[oldest].last_seen_ns + kIdleNs;
  return none;
}

const ExporterRow* ExporterStats::find(const IpAddress& address, uint16_t port, FlowType type,
                                       uint32_t domain) const noexcept {
  const auto mask = static_cast<uint32_t>(table_.size() - 1);
  for (uint32_t i = static_cast<uint32_t>(hash_key(address, port, type, domain)) & mask;;
       i = (i + 1) & mask) {
    const uint32_t e = table_[i];
    if (e == 0) return nullptr;
    const ExporterRow& r = rows_[e - 1];
    if (r.domain == domain && r.port == port && r.type == type && r.address == address) return &r;
  }
}

void ExporterStats::on_datagram(FlowType type, Bytes datagram, const DatagramMeta& meta,
                                const DecodeMark& before, const DecodeMark& after,
                                DecodeStatus status) noexcept {
  const StreamHeader h = read_header(type, datagram, meta);
  const uint64_t records = after.records - before.records;
  const uint64_t options = after.options_records - before.options_records;
  const bool failed = status != DecodeStatus::kOk;

  ListenerRow& l = listeners_[std::min<uint32_t>(meta.listener, kMaxListeners - 1)];
  ++l.datagrams;
  l.bytes += datagram.size();
  l.records += records;
  l.decode_errors += failed ? 1 : 0;

  ExporterRow* r = upsert(h.address, meta.exporter_port, type, h.domain, meta.receive_ns);
  if (r == nullptr) {
    ++overflow_;
    r = &other_;
  }
  ++r->datagrams;
  r->bytes += datagram.size();
  r->records += records;
  r->options_records += options;
  r->decode_errors += failed ? 1 : 0;
  r->sets_pending += after.pending_buffered - before.pending_buffered;
  r->sets_missing += after.unknown_template - before.unknown_template;
  if (r->first_seen_ns == 0) r->first_seen_ns = meta.receive_ns;
  r->last_seen_ns = std::max(r->last_seen_ns, meta.receive_ns);
  if (r == &other_ || !h.has_sequence) return;

  // Units this datagram advances its sequence by, and whether that is known. An IPFIX message
  // counts its data records; those in sets held for a template (or released by one) are not
  // countable here, so the stream re-anchors on the next message instead of inventing a gap.
  uint64_t units = 1;
  bool known = !failed;
  if (type == FlowType::kNetflow5) {
    units = load_be16(reinterpret_cast<const uint8_t*>(datagram.data()) + 2);
  } else if (type == FlowType::kIpfix) {
    units = records + options + (after.block_unavailable - before.block_unavailable);
    known = known && after.pending_buffered == before.pending_buffered &&
            after.pending_decoded == before.pending_decoded &&
            after.unknown_template == before.unknown_template;
  }
  const uint64_t late_before = r->sequence.late;
  const uint64_t lost = r->sequence.observe(type, h.sequence, static_cast<uint32_t>(units));
  const uint64_t late = r->sequence.late - late_before;
  if (type == FlowType::kNetflow9 || type == FlowType::kSflow5) {
    // Datagrams, not records: estimated at this stream's records per datagram so far.
    const uint64_t per = r->records / std::max<uint64_t>(r->datagrams, 1);
    r->lost_records += lost * std::max<uint64_t>(per, 1);
    r->late_records += late * std::max<uint64_t>(per, 1);
  } else {
    r->lost_records += lost;
    r->late_records += late;
  }
  if (!known) r->sequence.resync();
}

}  // namespace flowgate::decode
