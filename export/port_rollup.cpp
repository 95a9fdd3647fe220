#include "export/port_rollup.hpp"

#include <algorithm>
#include <bit>
#include <cstddef>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace flowgate::exporter {

namespace {
uint64_t slot_count(uint32_t capacity) noexcept {
  return std::bit_ceil(uint64_t{std::max<uint32_t>(capacity, 16)} * 2);
}
}  // namespace

PortRollup::PortRollup(uint32_t threshold, uint32_t capacity)
    : threshold_(std::min(threshold, kMaxThreshold)), capacity_(std::max<uint32_t>(capacity, 16)) {
  if (threshold_ == 0) return;  // off: no table
  slots_ = HugePageArray<KeySlot>(slot_count(capacity_));
}

uint64_t PortRollup::table_bytes(uint32_t threshold, uint32_t capacity) noexcept {
  return threshold == 0 ? 0 : HugePageArray<KeySlot>::bytes_for(slot_count(capacity));
}

PortRollup::KeySlot& PortRollup::probe(uint64_t key) noexcept {
  const size_t mask = slots_.size() - 1;
  size_t i = key & mask;
  while (slots_[i].key != 0 && slots_[i].key != key) i = (i + 1) & mask;
  return slots_[i];
}

bool PortRollup::claim(KeySlot& slot, uint64_t key) noexcept {
  if (used_ >= capacity_) {
    ++untracked_;
    return false;
  }
  slot.key = key;
  ++used_;
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

EphemeralPort PortRollup::add(const Fingerprints& f) noexcept {
  if (threshold_ == 0) return EphemeralPort::kNone;
  KeySlot* src = &probe(f.src_key);
  KeySlot* dst = &probe(f.dst_key);
  // The reference stops adding to a generation once either side has reached the threshold.
  bool open[2];
  for (uint32_t g = 0; g < 2; ++g) {
    open[g] = src->count[g] < threshold_ && dst->count[g] < threshold_;
  }
  if (open[0] || open[1]) {
    if (src->key == 0 && claim(*src, f.src_key)) {
      // Claiming the source's slot may have taken the empty slot the destination probe found.
      if (dst->key != f.dst_key) dst = &probe(f.dst_key);
    }
    if (dst->key == 0) claim(*dst, f.dst_key);
    if (src->key == f.src_key) insert(*src, open, f.dst_port);
    if (dst->key == f.dst_key) insert(*dst, open, f.src_port);
  }
  const uint32_t src_to_dst = src->key == f.src_key ? src->count[current_] : 0;
  const uint32_t dst_to_src = dst->key == f.dst_key ? dst->count[current_] : 0;
  if (src_to_dst < threshold_ && dst_to_src < threshold_) return EphemeralPort::kNone;
  return src_to_dst >= dst_to_src ? EphemeralPort::kDestination : EphemeralPort::kSource;
}

void PortRollup::rotate() noexcept {
  if (threshold_ == 0) return;
  // The current generation is forgotten; the newer one becomes current; the forgotten one's
  // sets start again empty as the newer generation.
  const uint32_t gone = current_;
  current_ ^= 1;
  const size_t n = slots_.size();
  const size_t mask = n - 1;
  // Drop every key the surviving generation has not seen, then put each remaining key back
  // where a probe from its home finds it. Walking from an empty slot (at most half the slots
  // are used) keeps every probe run whole: a key moves only to a slot at or before its own.
  size_t start = 0;
  while (slots_[start].key != 0) ++start;
  for (size_t step = 1; step <= n; ++step) {
    const size_t i = (start + step) & mask;
    KeySlot& s = slots_[i];
    if (s.key == 0) continue;
    s.count[gone] = 0;
    if (s.count[current_] == 0) {
      s = KeySlot{};
      --used_;
      continue;
    }
    const KeySlot moving = s;
    s.key = 0;
    KeySlot& to = probe(moving.key);
    to = moving;
    if (&to != &s) s = KeySlot{};
  }
}

}  // namespace flowgate::exporter
