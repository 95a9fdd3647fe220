#include "dataplane/fragment_reassembler.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace flowgate::dataplane {

namespace {

uint64_t mix(uint64_t h, uint64_t v) noexcept {
  h ^= v;
  h *= 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 29);
}

uint64_t range_mask(size_t bit, size_t n) noexcept {
  return (n == 64 ? ~uint64_t{0} : ((uint64_t{1} << n) - 1)) << bit;
}

}  // namespace

FragmentReassembler::FragmentReassembler(size_t max_datagrams, uint64_t timeout_ns)
    : capacity_(std::clamp<size_t>(max_datagrams, 1, size_t{1} << 20)), timeout_ns_(timeout_ns) {
  size_t index_size = 2;
  while (index_size < 2 * capacity_) index_size <<= 1;  // load factor at most 1/2
  index_mask_ = index_size - 1;
  slots_ = std::make_unique<Slot[]>(capacity_);
  index_ = std::make_unique_for_overwrite<uint32_t[]>(index_size);
  std::fill_n(index_.get(), index_size, kNone);
  // Left uninitialised so that pages are only touched by datagrams that use them; a slot's
  // bitmap is cleared when the slot is taken, and no byte is read before a fragment wrote it.
  buffers_ = std::make_unique_for_overwrite<std::byte[]>(capacity_ * kBufferSize);
  bitmaps_ = std::make_unique_for_overwrite<uint64_t[]>(capacity_ * kBitmapWords);
  for (size_t i = capacity_; i-- > 0;) {
    slots_[i].next = free_;
    free_ = static_cast<uint32_t>(i);
  }
}

uint64_t FragmentReassembler::hash_key(const Key& k) noexcept {
  uint64_t w[4];
  std::memcpy(&w[0], k.src.bytes.data(), 16);
  std::memcpy(&w[2], k.dst.bytes.data(), 16);
  uint64_t h = 0x243f6a8885a308d3ull;
  for (uint64_t v : w) h = mix(h, v);
  return mix(h, uint64_t{k.id} | (uint64_t{k.ip_version} << 32) | (uint64_t{k.protocol} << 40));
}

uint32_t FragmentReassembler::find(const Key& k, uint64_t hash) const noexcept {
  for (size_t i = hash & index_mask_;; i = (i + 1) & index_mask_) {
    const uint32_t s = index_[i];
    if (s == kNone) return kNone;
    if (slots_[s].hash == hash && slots_[s].key == k) return s;
  }
}

void FragmentReassembler::index_insert(uint32_t slot) noexcept {
  size_t i = slots_[slot].hash & index_mask_;
  while (index_[i] != kNone) i = (i + 1) & index_mask_;
  index_[i] = slot;
}

// Backward-shift deletion keeps linear probing free of tombstones, so lookups never slow
// down as datagrams come and go.
void FragmentReassembler::index_erase(uint32_t slot) noexcept {
  size_t i = slots_[slot].hash & index_mask_;
  while (index_[i] != slot) i = (i + 1) & index_mask_;
  for (;;) {
    index_[i] = kNone;
    size_t j = i;
    for (;;) {
      j = (j + 1) & index_mask_;
      if (index_[j] == kNone) return;
      const size_t home = slots_[index_[j]].hash & index_mask_;
      // The entry at j may stay only if its home lies cyclically in (i, j].
      const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (!stays) break;
    }
    index_[i] = index_[j];
    i = j;
  }
}

void FragmentReassembler::lru_unlink(uint32_t slot) noexcept {
  Slot& s = slots_[slot];
  if (s.prev != kNone)
    slots_[s.prev].next = s.next;
  else
    head_ = s.next;
  if (s.next != kNone)
    slots_[s.next].prev = s.prev;
  else
    tail_ = s.prev;
  s.prev = s.next = kNone;
}

void FragmentReassembler::lru_push_front(uint32_t slot) noexcept {
  Slot& s = slots_[slot];
  s.prev = kNone;
  s.next = head_;
  if (head_ != kNone)
    slots_[head_].prev = slot;
  else
    tail_ = slot;
  head_ = slot;
}

uint32_t FragmentReassembler::allocate(const Key& k, uint64_t hash, uint64_t now_ns) noexcept {
  if (free_ == kNone) {
    ++counters_.evicted;
    release(tail_);
  }
  const uint32_t slot = free_;
  Slot& s = slots_[slot];
  free_ = s.next;
  s = Slot{};
  s.key = k;
  s.hash = hash;
  s.first_ns = s.last_ns = now_ns;
  s.in_use = true;
  std::memset(bitmap(slot), 0, kBitmapWords * sizeof(uint64_t));
  index_insert(slot);
  lru_push_front(slot);
  ++in_flight_;
  return slot;
}

void FragmentReassembler::release(uint32_t slot) noexcept {
  index_erase(slot);
  lru_unlink(slot);
  Slot& s = slots_[slot];
  s.in_use = false;
  s.next = free_;
  free_ = slot;
  --in_flight_;
}

bool FragmentReassembler::expired(const Slot& s, uint64_t now_ns) const noexcept {
  // Capture timestamps can step backwards; that never expires anything.
  return now_ns > s.first_ns && now_ns - s.first_ns >= timeout_ns_;
}

void FragmentReassembler::expire_lru(uint64_t now_ns) noexcept {
  while (tail_ != kNone && expired(slots_[tail_], now_ns)) {
    ++counters_.timed_out;
    release(tail_);
  }
}

void FragmentReassembler::expire(uint64_t now_ns) noexcept {
  for (size_t i = 0; i < capacity_; ++i) {
    if (slots_[i].in_use && expired(slots_[i], now_ns)) {
      ++counters_.timed_out;
      release(static_cast<uint32_t>(i));
    }
  }
}

// Holes are tracked as a bitmap of 8-octet blocks rather than RFC 815's hole descriptor
// list: its size is fixed (1 KiB a slot), and it tells exactly whether a new fragment touches
// data already received. Every fragment starts on a block boundary and all but the last end
// on one, so block granularity loses nothing.
FragmentReassembler::Coverage FragmentReassembler::coverage(uint32_t slot, size_t first_unit,
                                                            size_t end_unit) noexcept {
  if (first_unit >= end_unit) return Coverage::kNone;
  const uint64_t* words = bitmap(slot);
  size_t set = 0;
  for (size_t u = first_unit; u < end_unit;) {
    const size_t bit = u % 64;
    const size_t n = std::min(64 - bit, end_unit - u);
    set += static_cast<size_t>(std::popcount(words[u / 64] & range_mask(bit, n)));
    u += n;
  }
  if (set == 0) return Coverage::kNone;
  return set == end_unit - first_unit ? Coverage::kFull : Coverage::kPartial;
}

void FragmentReassembler::mark(uint32_t slot, size_t first_unit, size_t end_unit) noexcept {
  uint64_t* words = bitmap(slot);
  for (size_t u = first_unit; u < end_unit;) {
    const size_t bit = u % 64;
    const size_t n = std::min(64 - bit, end_unit - u);
    words[u / 64] |= range_mask(bit, n);
    u += n;
  }
}

ReassemblyStatus FragmentReassembler::add(const ParsedPacket& fragment, uint64_t now_ns,
                                          ParsedPacket& out) noexcept {
  expire_lru(now_ns);
  const FragmentInfo& info = fragment.fragment;
  const uint8_t version = fragment.ip_version;
  if (!info.is_fragment || (version != 4 && version != 6)) {
    ++counters_.bad;
    return ReassemblyStatus::kDropped;
  }
  const Key key{fragment.src, fragment.dst, info.id, version,
                version == 4 ? info.protocol : uint8_t{0}};
  const uint64_t hash = hash_key(key);
  uint32_t slot = find(key, hash);
  if (slot != kNone && expired(slots_[slot], now_ns)) {
    ++counters_.timed_out;
    release(slot);
    slot = kNone;
  }

  const size_t length = fragment.payload.size();
  const size_t offset = info.offset;
  const size_t end = offset + length;
  if (end > (version == 4 ? kMaxIpv4Payload : kMaxIpv6Payload)) {
    ++counters_.too_big;
    if (slot != kNone) release(slot);
    return ReassemblyStatus::kDropped;
  }
  // All fragments but the last carry a multiple of 8 octets (RFC 791 §3.2); RFC 8200 §4.5
  // says such a fragment must be discarded. An empty one could never complete anything.
  if (info.more_fragments && (length == 0 || length % 8 != 0)) {
    ++counters_.bad;
    return ReassemblyStatus::kDropped;
  }

  if (slot == kNone) {
    slot = allocate(key, hash, now_ns);
  } else {
    lru_unlink(slot);
    lru_push_front(slot);
  }
  Slot& s = slots_[slot];
  s.last_ns = now_ns;

  const size_t first_unit = offset / 8;
  const size_t end_unit = (end + 7) / 8;
  switch (coverage(slot, first_unit, end_unit)) {
    case Coverage::kNone:
      break;
    case Coverage::kFull: {
      const bool same_end =
          info.more_fragments ? (!s.has_total || end <= s.total) : (s.has_total && s.total == end);
      if (same_end && std::memcmp(buffer(slot) + offset, fragment.payload.data(), length) == 0) {
        ++counters_.duplicates;
        return ReassemblyStatus::kPending;
      }
      [[fallthrough]];
    }
    case Coverage::kPartial:
      ++counters_.overlaps;
      release(slot);
      return ReassemblyStatus::kDropped;
  }

  // The last fragment fixes the length; nothing may reach past it (RFC 8200 §4.5 drops a
  // datagram whose fragments disagree, RFC 791 has no other way to know the end).
  if (!info.more_fragments) {
    if ((s.has_total && s.total != end) || s.max_end > end) {
      ++counters_.bad;
      release(slot);
      return ReassemblyStatus::kDropped;
    }
    s.has_total = true;
    s.total = static_cast<uint32_t>(end);
  } else if (s.has_total && end > s.total) {
    ++counters_.bad;
    release(slot);
    return ReassemblyStatus::kDropped;
  }

  if (length != 0) std::memcpy(buffer(slot) + offset, fragment.payload.data(), length);
  mark(slot, first_unit, end_unit);
  s.received += static_cast<uint32_t>(length);
  s.max_end = std::max(s.max_end, static_cast<uint32_t>(end));
  // RFC 8200 §4.5: the reassembled packet's next header is the first fragment's.
  if (offset == 0) s.first_protocol = info.protocol;
  ++counters_.fragments;
  if (!s.has_total || s.received != s.total) return ReassemblyStatus::kPending;

  // Whole. The slot is freed now, but its buffer is not reused before the next call, which
  // is how long the payload span is promised to live.
  out = ParsedPacket{};
  out.src = s.key.src;
  out.dst = s.key.dst;
  out.ip_version = version;
  const decode::Bytes data(buffer(slot), s.total);
  const uint8_t protocol = s.first_protocol;
  release(slot);
  switch (parse_reassembled(version, protocol, data, out)) {
    case ParseStatus::kUdp:
      ++counters_.completed;
      return ReassemblyStatus::kComplete;
    case ParseStatus::kNotUdp:
      ++counters_.not_udp;
      return ReassemblyStatus::kNotUdp;
    default:
      ++counters_.malformed;
      return ReassemblyStatus::kMalformed;
  }
}

}  // namespace flowgate::dataplane
