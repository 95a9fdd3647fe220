#include "export/port_rollup.hpp"

#include <algorithm>
#include <bit>
#include <cstddef>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace flowgate::exporter {

namespace {

uint64_t slot_count(uint32_t capacity) noexcept { return std::bit_ceil(uint64_t{capacity} * 2); }
uint32_t pair_capacity(uint32_t capacity) noexcept { return std::max<uint32_t>(capacity / 2, 8); }

// The slot holding `key`, or the empty slot where it would go (linear probing).
template <typename Slot>
Slot& probe(HugePageArray<Slot>& table, uint64_t key) noexcept {
  const size_t mask = table.size() - 1;
  size_t i = key & mask;
  while (table[i].key != 0 && table[i].key != key) i = (i + 1) & mask;
  return table[i];
}

// Ages every slot of `table` by `age` (which returns false for a slot to remove), then puts
// each remaining one back where a probe from its home finds it. Walking from an empty slot (at
// most half the slots are used) keeps every probe run whole: a slot moves only to a place at or
// before its own.
template <typename Slot, typename Age>
void rotate_table(HugePageArray<Slot>& table, uint32_t& used, Age age) noexcept {
  const size_t n = table.size();
  const size_t mask = n - 1;
  size_t start = 0;
  while (table[start].key != 0) ++start;
  for (size_t step = 1; step <= n; ++step) {
    Slot& s = table[(start + step) & mask];
    if (s.key == 0) continue;
    if (!age(s)) {
      s = Slot{};
      --used;
      continue;
    }
    const Slot moving = s;
    s.key = 0;
    Slot& to = probe(table, moving.key);
    to = moving;
    if (&to != &s) s = Slot{};
  }
}

}  // namespace

PortRollup::PortRollup(uint32_t threshold, uint32_t capacity)
    : threshold_(std::min(threshold, kMaxThreshold)),
      capacity_(std::max<uint32_t>(capacity, 16)),
      pair_capacity_(pair_capacity(capacity_)) {
  if (threshold_ == 0) return;  // off: no tables
  pairs_ = HugePageArray<PairSlot>(slot_count(pair_capacity_));
  keys_ = HugePageArray<KeySlot>(slot_count(capacity_));
}

uint64_t PortRollup::table_bytes(uint32_t threshold, uint32_t capacity) noexcept {
  if (threshold == 0) return 0;
  capacity = std::max<uint32_t>(capacity, 16);
  return HugePageArray<PairSlot>::bytes_for(slot_count(pair_capacity(capacity))) +
         HugePageArray<KeySlot>::bytes_for(slot_count(capacity));
}

bool PortRollup::claim(KeySlot& slot, uint64_t key) noexcept {
  if (keys_used_ >= capacity_) {
    ++untracked_;
    return false;
  }
  slot.key = key;
  ++keys_used_;
  return true;
}

void PortRollup::insert(KeySlot& slot, const bool (&open)[2], uint16_t peer) const noexcept {
  // Which of the slot's ports, both generations', equal `peer`, two bits a port.
  uint64_t match = 0;
#if defined(__SSE2__)
  // All 22 ports compared at once: a loop whose length varies with the sets would mispredict
  // on nearly every flow. The third load's last two ports lie past the sets (still in the slot:
  // the padding); they and the ports beyond each set's count are masked off.
  static_assert(offsetof(KeySlot, peers) + 48 <= sizeof(KeySlot),
                "the third 16-byte load stays inside the slot");
  const __m128i want = _mm_set1_epi16(static_cast<short>(peer));
  const auto* p = reinterpret_cast<const unsigned char*>(slot.peers);
  const auto equal = [&](int at) {
    return static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi16(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + at)), want))));
  };
  match = equal(0) | equal(16) << 16 | equal(32) << 32;
#else
  for (uint32_t i = 0; i < 2 * kMaxThreshold; ++i) {
    if (slot.peers[i / kMaxThreshold][i % kMaxThreshold] == peer) match |= uint64_t{3} << (2 * i);
  }
#endif
  for (uint32_t g = 0; g < 2; ++g) {
    uint16_t& count = slot.count[g];
    const uint64_t seen = (match >> (2 * kMaxThreshold * g)) & ((uint64_t{1} << (2 * count)) - 1);
    if (open[g] && count < threshold_ && seen == 0) slot.peers[g][count++] = peer;
  }
}

EphemeralPort PortRollup::track(uint64_t pair, uint16_t src_port, uint16_t dst_port,
                                uint32_t generations) noexcept {
  const uint64_t sk = src_key(pair, src_port);
  const uint64_t dk = dst_key(pair, dst_port);
  KeySlot* src = &probe(keys_, sk);
  KeySlot* dst = &probe(keys_, dk);
  // The reference stops adding to a generation once either side has reached the threshold.
  bool open[2];
  for (uint32_t g = 0; g < 2; ++g) {
    open[g] = (generations >> g & 1) != 0 && src->count[g] < threshold_ &&
              dst->count[g] < threshold_;
  }
  if (open[0] || open[1]) {
    if (src->key == 0 && claim(*src, sk)) {
      // Claiming the source's slot may have taken the empty slot the destination probe found.
      if (dst->key != dk) dst = &probe(keys_, dk);
    }
    if (dst->key == 0) claim(*dst, dk);
    if (src->key == sk) insert(*src, open, dst_port);
    if (dst->key == dk) insert(*dst, open, src_port);
  }
  const uint32_t src_to_dst = src->key == sk ? src->count[current_] : 0;
  const uint32_t dst_to_src = dst->key == dk ? dst->count[current_] : 0;
  if (src_to_dst < threshold_ && dst_to_src < threshold_) return EphemeralPort::kNone;
  return src_to_dst >= dst_to_src ? EphemeralPort::kDestination : EphemeralPort::kSource;
}

void PortRollup::spill(PairSlot& slot, uint64_t pair) noexcept {
  // None of the pair's keys can have reached the threshold yet (each has fewer peers than the
  // pair has tuples), so the order and the reference's stop rule do not matter here.
  const uint32_t newer = current_ ^ 1;
  for (uint32_t i = 0; i < slot.count; ++i) {
    const uint32_t generations = (1u << current_) | ((slot.newer >> i & 1u) << newer);
    track(pair, static_cast<uint16_t>(slot.tuples[i] >> 16),
          static_cast<uint16_t>(slot.tuples[i] & 0xffff), generations);
  }
  slot.count = 0;
  slot.newer = 0;
  slot.state = kSpilled;
  const size_t bit = spilled_bit(pair);
  spilled_[bit / 64] |= uint64_t{1} << (bit % 64);
}

PortRollup::Verdict PortRollup::add_rest(const Fingerprints& f) noexcept {
  const uint64_t key = pair_key(f);
  PairSlot& pair = probe(pairs_, key);
  if (pair.key == 0) {
    if (pairs_used_ >= pair_capacity_) {
      ++untracked_;
      return Verdict{EphemeralPort::kNone, false};
    }
    pair.key = key;
    ++pairs_used_;
  }
  if ((pair.state & kSpilled) == 0) {
    const uint32_t tuple = uint32_t{f.src_port} << 16 | f.dst_port;
    // Held here only by a pair away from its home slot: add() took the others.
    const uint16_t held = holding(pair, tuple);
    if (held != 0) {
      pair.newer |= held;
      return Verdict{EphemeralPort::kNone, true};
    }
    // Fewer tuples than the threshold: no key of the pair can have reached it.
    if (pair.count + 1u < threshold_) {
      pair.tuples[pair.count] = tuple;
      pair.newer |= static_cast<uint16_t>(1u << pair.count);
      ++pair.count;
      return Verdict{EphemeralPort::kNone, true};
    }
    spill(pair, f.pair);
  }
  pair.state |= kSeenNewer;
  return Verdict{track(f.pair, f.src_port, f.dst_port, 3), false};
}

void PortRollup::rotate() noexcept {
  if (threshold_ == 0) return;
  // The current generation is forgotten; the newer one becomes current and starts again empty.
  const uint32_t gone = current_;
  current_ ^= 1;
  spilled_.fill(0);
  rotate_table(keys_, keys_used_, [&](KeySlot& s) {
    s.count[gone] = 0;
    return s.count[current_] != 0;
  });
  rotate_table(pairs_, pairs_used_, [](PairSlot& s) {
    if (s.state & kSpilled) {
      // Its keys age in their own table; the pair stays spilled while it is seen.
      const bool seen = (s.state & kSeenNewer) != 0;
      s.state = kSpilled;
      return seen;
    }
    uint8_t kept = 0;
    for (uint32_t i = 0; i < s.count; ++i) {
      if (s.newer >> i & 1u) s.tuples[kept++] = s.tuples[i];
    }
    s.count = kept;
    s.newer = 0;
    return kept != 0;
  });
}

}  // namespace flowgate::exporter
