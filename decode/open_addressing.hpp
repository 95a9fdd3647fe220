#pragma once

#include <cstdint>
#include <vector>

namespace flowgate::decode {

// Empties `bucket` of an open-addressing (linear probing) table of entry indexes + 1 (0 empty)
// by backward-shift deletion, which keeps every probe run whole without tombstones; home(entry)
// is the hash its probe starts from (masked here to the table's power-of-two size).
template <typename Home>
void erase_bucket(std::vector<uint32_t>& table, uint32_t bucket, Home home) noexcept {
  const auto mask = static_cast<uint32_t>(table.size() - 1);
  uint32_t i = bucket;
  table[i] = 0;
  for (uint32_t j = (i + 1) & mask; table[j] != 0; j = (j + 1) & mask) {
    const uint32_t h = static_cast<uint32_t>(home(table[j])) & mask;
    // Move the entry at j back to i unless its home lies cyclically in (i, j].
    const bool stays = (i <= j) ? (h > i && h <= j) : (h > i || h <= j);
    if (!stays) {
      table[i] = table[j];
      table[j] = 0;
      i = j;
    }
  }
}

// Empties the bucket holding `entry` (an entry index + 1) by erase_bucket.
template <typename Home>
void erase_entry(std::vector<uint32_t>& table, uint32_t entry, Home home) noexcept {
  const auto mask = static_cast<uint32_t>(table.size() - 1);
  for (uint32_t j = static_cast<uint32_t>(home(entry)) & mask;; j = (j + 1) & mask) {
    if (table[j] == entry) {
      erase_bucket(table, j, home);
      return;
    }
  }
}

}  // namespace flowgate::decode
