#include "export/port_rollup.hpp"

#include "decode/hash.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace flowgate::exporter {
namespace {

uint64_t pair_hash(const decode::IpAddress& src, const decode::IpAddress& dst) noexcept {
  return decode::hash_address(src, decode::hash_address(dst, 0));
}

// A fingerprint is never 0, which marks an empty slot.
uint64_t nonzero(uint64_t h) noexcept { return h == 0 ? 1 : h; }

}  // namespace

void PortRollup::Store::reset() noexcept {
  std::fill(seen.begin(), seen.end(), 0);
  std::fill(keys.begin(), keys.end(), 0);
  std::fill(counts.begin(), counts.end(), 0);
  seen_used = keys_used = 0;
}

PortRollup::PortRollup(uint32_t threshold, uint32_t capacity)
    : threshold_(threshold), capacity_(std::max<uint32_t>(capacity, 16)) {
  const uint32_t slots = std::bit_ceil(capacity_ * 2);
  for (Store& s : stores_) {
    s.seen.assign(slots, 0);
    s.keys.assign(slots, 0);
    s.counts.assign(slots, 0);
  }
}

uint32_t PortRollup::count(const Store& s, uint64_t key) const noexcept {
  const size_t mask = s.keys.size() - 1;
  for (size_t i = key & mask;; i = (i + 1) & mask) {
    if (s.keys[i] == 0) return 0;
    if (s.keys[i] == key) return s.counts[i];
  }
}

uint32_t PortRollup::insert(Store& s, uint64_t key, uint64_t member) noexcept {
  const size_t mask = s.keys.size() - 1;
  size_t k = key & mask;
  while (s.keys[k] != 0 && s.keys[k] != key) k = (k + 1) & mask;
  if (s.keys[k] == 0) {
    if (s.keys_used >= capacity_) {
      ++untracked_;
      return 0;
    }
    s.keys[k] = key;
    ++s.keys_used;
  }
  if (s.counts[k] >= threshold_) return s.counts[k];
  size_t m = decode::mix64(member) & mask;
  while (s.seen[m] != 0 && s.seen[m] != member) m = (m + 1) & mask;
  if (s.seen[m] == 0) {
    if (s.seen_used >= capacity_) {
      ++untracked_;
      return s.counts[k];
    }
    s.seen[m] = member;
    ++s.seen_used;
    ++s.counts[k];
  }
  return s.counts[k];
}

EphemeralPort PortRollup::add(const decode::IpAddress& src, const decode::IpAddress& dst,
                              uint16_t src_port, uint16_t dst_port) noexcept {
  if (threshold_ == 0) return EphemeralPort::kNone;
  const uint64_t pair = pair_hash(src, dst);
  // Keys: (pair, side, port). Members: (key, peer port).
  const uint64_t src_key = nonzero(decode::mix64(pair ^ (uint64_t{src_port} << 1)));
  const uint64_t dst_key = nonzero(decode::mix64(pair ^ ((uint64_t{dst_port} << 1) | 1)));
  const uint64_t src_member = nonzero(decode::mix64(src_key ^ (uint64_t{dst_port} << 32)));
  const uint64_t dst_member = nonzero(decode::mix64(dst_key ^ (uint64_t{src_port} << 32)));
  for (Store& s : stores_) {
    // The reference stops adding once either side has reached the threshold.
    if (count(s, src_key) >= threshold_ || count(s, dst_key) >= threshold_) continue;
    insert(s, src_key, src_member);
    insert(s, dst_key, dst_member);
  }
  const Store& cur = stores_[current_];
  const uint32_t src_to_dst = count(cur, src_key);  // destination ports seen with this source port
  const uint32_t dst_to_src = count(cur, dst_key);  // source ports seen with this destination port
  if (src_to_dst < threshold_ && dst_to_src < threshold_) return EphemeralPort::kNone;
  return src_to_dst >= dst_to_src ? EphemeralPort::kDestination : EphemeralPort::kSource;
}

void PortRollup::prefetch(const decode::IpAddress& src, const decode::IpAddress& dst,
                          uint16_t src_port, uint16_t dst_port) const noexcept {
  if (threshold_ == 0) return;
  const uint64_t pair = pair_hash(src, dst);
  const uint64_t src_key = nonzero(decode::mix64(pair ^ (uint64_t{src_port} << 1)));
  const uint64_t dst_key = nonzero(decode::mix64(pair ^ ((uint64_t{dst_port} << 1) | 1)));
  const uint64_t src_member = nonzero(decode::mix64(src_key ^ (uint64_t{dst_port} << 32)));
  const uint64_t dst_member = nonzero(decode::mix64(dst_key ^ (uint64_t{src_port} << 32)));
  for (const Store& s : stores_) {
    const size_t mask = s.keys.size() - 1;
    __builtin_prefetch(&s.keys[src_key & mask]);
    __builtin_prefetch(&s.keys[dst_key & mask]);
    __builtin_prefetch(&s.counts[src_key & mask]);
    __builtin_prefetch(&s.counts[dst_key & mask]);
    __builtin_prefetch(&s.seen[decode::mix64(src_member) & mask]);
    __builtin_prefetch(&s.seen[decode::mix64(dst_member) & mask]);
  }
}

void PortRollup::rotate() noexcept {
  stores_[current_].reset();
  current_ ^= 1;
}

}  // namespace flowgate::exporter
