#include "decode/interface_counter_store.hpp"

#include "decode/hash.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace flowgate::decode {
namespace {

uint64_t hash_key(const IpAddress& agent, uint32_t if_index) noexcept {
  return hash_address(agent, if_index);
}

}  // namespace

InterfaceCounterStore::InterfaceCounterStore(uint32_t capacity) {
  capacity = std::clamp<uint32_t>(capacity, 1, kMaxCapacity);
  entries_.resize(capacity);
  // At most half full, so probes stay short and always end at an empty bucket.
  table_.assign(std::bit_ceil(std::max<uint32_t>(capacity, 8) * 2), 0);
}

uint32_t InterfaceCounterStore::home(const InterfaceCounters& e) const noexcept {
  return static_cast<uint32_t>(hash_key(e.agent, e.if_index)) &
         static_cast<uint32_t>(table_.size() - 1);
}

uint32_t InterfaceCounterStore::find_bucket(const IpAddress& agent,
                                            uint32_t if_index) const noexcept {
  const auto mask = static_cast<uint32_t>(table_.size() - 1);
  for (uint32_t i = static_cast<uint32_t>(hash_key(agent, if_index)) & mask;; i = (i + 1) & mask) {
    const uint32_t e = table_[i];
    if (e == 0) return kAbsent;
    const InterfaceCounters& c = entries_[e - 1];
    if (c.if_index == if_index && c.agent == agent) return i;
  }
}

const InterfaceCounters* InterfaceCounterStore::find(const IpAddress& agent,
                                                     uint32_t if_index) const noexcept {
  const uint32_t b = find_bucket(agent, if_index);
  return b != kAbsent ? &entries_[table_[b] - 1] : nullptr;
}

InterfaceCounters* InterfaceCounterStore::upsert(const IpAddress& agent,
                                                 uint32_t if_index) noexcept {
  const auto mask = static_cast<uint32_t>(table_.size() - 1);
  uint32_t i = static_cast<uint32_t>(hash_key(agent, if_index)) & mask;
  for (;; i = (i + 1) & mask) {
    const uint32_t e = table_[i];
    if (e == 0) break;
    InterfaceCounters& c = entries_[e - 1];
    if (c.if_index == if_index && c.agent == agent) return &c;
  }
  if (size_ == entries_.size()) {
    ++refused_;
    return nullptr;
  }
  InterfaceCounters& c = entries_[size_];
  c = InterfaceCounters{};
  c.agent = agent;
  c.if_index = if_index;
  table_[i] = ++size_;
  return &c;
}

void InterfaceCounterStore::erase_bucket(uint32_t b) noexcept {
  // Backward-shift deletion keeps linear probing correct without tombstones.
  const auto mask = static_cast<uint32_t>(table_.size() - 1);
  uint32_t i = b;
  table_[i] = 0;
  for (uint32_t j = (i + 1) & mask; table_[j] != 0; j = (j + 1) & mask) {
    const uint32_t h = home(entries_[table_[j] - 1]);
    // The entry at j moves back to i unless its home lies cyclically in (i, j].
    const bool stays = (i <= j) ? (h > i && h <= j) : (h > i || h <= j);
    if (!stays) {
      table_[i] = table_[j];
      table_[j] = 0;
      i = j;
    }
  }
}

uint32_t InterfaceCounterStore::expire(uint64_t cutoff_ns) noexcept {
  uint32_t removed = 0;
  for (uint32_t i = 0; i < size_;) {
    if (entries_[i].updated_ns >= cutoff_ns) {
      ++i;
      continue;
    }
    erase_bucket(find_bucket(entries_[i].agent, entries_[i].if_index));
    const uint32_t last = size_ - 1;
    if (i != last) {
      // Keep entries_ dense: the last entry fills the hole and its bucket follows it.
      const uint32_t lb = find_bucket(entries_[last].agent, entries_[last].if_index);
      entries_[i] = entries_[last];
      table_[lb] = i + 1;
    }
    --size_;
    ++removed;
  }
  return removed;
}

void InterfaceCounterStore::clear() noexcept {
  std::fill(table_.begin(), table_.end(), 0);
  size_ = 0;
}

}  // namespace flowgate::decode
