#include "export/port_rollup.hpp"

#include <algorithm>
#include <bit>

namespace flowgate::exporter {

PortRollup::PortRollup(uint32_t threshold, uint32_t capacity)
    : threshold_(std::min(threshold, kMaxThreshold)), capacity_(std::max<uint32_t>(capacity, 16)) {
  if (threshold_ == 0) return;  // off: no tables
  for (Store& s : stores_) s.keys = HugePageArray<KeySlot>(std::bit_ceil(uint64_t{capacity_} * 2));
}

PortRollup::KeySlot& PortRollup::probe(Store& s, uint64_t key) noexcept {
  const size_t mask = s.keys.size() - 1;
  size_t i = key & mask;
  while (s.keys[i].key != 0 && s.keys[i].key != key) i = (i + 1) & mask;
  return s.keys[i];
}

void PortRollup::insert(Store& s, KeySlot& slot, uint64_t key, uint16_t peer) noexcept {
  if (slot.key == 0) {
    if (s.used >= capacity_) {
      ++untracked_;
      return;
    }
    slot.key = key;
    ++s.used;
  }
  if (slot.count >= threshold_) return;
  for (uint32_t i = 0; i < slot.count; ++i) {
    if (slot.peers[i] == peer) return;
  }
  slot.peers[slot.count++] = peer;
}

EphemeralPort PortRollup::add(const Fingerprints& f) noexcept {
  if (threshold_ == 0) return EphemeralPort::kNone;
  uint32_t src_to_dst = 0;  // destination ports seen with this source port (current tracker)
  uint32_t dst_to_src = 0;  // source ports seen with this destination port
  for (uint32_t g = 0; g < 2; ++g) {
    Store& s = stores_[g];
    KeySlot& src = probe(s, f.src_key);
    KeySlot* dst = &probe(s, f.dst_key);
    // The reference stops adding once either side has reached the threshold.
    if (src.count < threshold_ && dst->count < threshold_) {
      insert(s, src, f.src_key, f.dst_port);
      // Claiming the source's slot may have taken the empty slot the destination probe found.
      if (dst->key != f.dst_key) dst = &probe(s, f.dst_key);
      insert(s, *dst, f.dst_key, f.src_port);
    }
    if (g == current_) {
      src_to_dst = src.key == f.src_key ? src.count : 0;
      dst_to_src = dst->key == f.dst_key ? dst->count : 0;
    }
  }
  if (src_to_dst < threshold_ && dst_to_src < threshold_) return EphemeralPort::kNone;
  return src_to_dst >= dst_to_src ? EphemeralPort::kDestination : EphemeralPort::kSource;
}

void PortRollup::rotate() noexcept {
  if (threshold_ == 0) return;
  stores_[current_].keys.zero();
  stores_[current_].used = 0;
  current_ ^= 1;
}

}  // namespace flowgate::exporter
