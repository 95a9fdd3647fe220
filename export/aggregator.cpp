#include "export/aggregator.hpp"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>

#if defined(__SSE4_1__)
#include <smmintrin.h>
#endif

#include "decode/hash.hpp"
#include "export/prefetch.hpp"

namespace flowgate::exporter {

using decode::FlowBlock;

namespace {

// Keys are compared as four 16-byte vectors straight from memory (no call to memcmp, and no
// copy of either key through the stack on the probe path).
template <typename K>
bool same_key(const K& a, const K& b) noexcept {
  static_assert(sizeof(K) == 64);
#if defined(__SSE4_1__)
  const auto* x = reinterpret_cast<const __m128i*>(&a);
  const auto* y = reinterpret_cast<const __m128i*>(&b);
  __m128i diff = _mm_xor_si128(_mm_loadu_si128(x), _mm_loadu_si128(y));
  for (int i = 1; i < 4; ++i) {
    diff = _mm_or_si128(diff, _mm_xor_si128(_mm_loadu_si128(x + i), _mm_loadu_si128(y + i)));
  }
  return _mm_testz_si128(diff, diff) != 0;
#else
  uint64_t x[8], y[8];
  std::memcpy(x, &a, sizeof(K));
  std::memcpy(y, &b, sizeof(K));
  uint64_t diff = 0;
  for (int i = 0; i < 8; ++i) diff |= x[i] ^ y[i];
  return diff == 0;
#endif
}

// The hash of a key's eight words. Four independent folds, so it costs about one multiply's
// latency.
uint32_t hash_words(const uint64_t (&w)[8]) noexcept {
  using decode::fold_multiply;
  const uint64_t h = fold_multiply(w[0] ^ 0xa0761d6478bd642full, w[1] ^ 0xe7037ed1a0b428dbull) ^
                     fold_multiply(w[2] ^ 0x8ebc6af09c88c6e3ull, w[3] ^ 0x589965cc75374cc3ull) ^
                     fold_multiply(w[4] ^ 0x1d8e4e27c47d124full, w[5] ^ 0x9e3779b97f4a7c15ull) ^
                     fold_multiply(w[6] ^ 0xbf58476d1ce4e5b9ull, w[7] ^ 0x94d049bb133111ebull);
  return static_cast<uint32_t>(h ^ (h >> 32));
}

uint64_t bucket_count(uint32_t max_keys) noexcept { return std::bit_ceil(uint64_t{max_keys} * 2); }

}  // namespace

Aggregator::Aggregator(AggregatorConfig config)
    : config_(std::move(config)),
      rollup_(config_.port_rollup_threshold, config_.rollup_capacity),
      fingerprints_(FlowBlock::kCapacity),
      keys_(FlowBlock::kCapacity),
      hashes_(FlowBlock::kCapacity) {
  config_.max_keys = std::max<uint32_t>(config_.max_keys, 1);
  entries_ = HugePageArray<Entry>(config_.max_keys);
  index_ = HugePageArray<Bucket>(bucket_count(config_.max_keys));
}

uint64_t Aggregator::table_bytes(const AggregatorConfig& config) noexcept {
  const uint32_t keys = std::max<uint32_t>(config.max_keys, 1);
  return HugePageArray<Entry>::bytes_for(keys) +
         HugePageArray<Bucket>::bytes_for(bucket_count(keys)) +
         PortRollup::table_bytes(config.port_rollup_threshold, config.rollup_capacity);
}

inline uint32_t Aggregator::make_key(const FlowBlock& b, uint32_t r, Key& key) noexcept {
  // The key is built as the eight words it is hashed and compared as, in registers: writing
  // its fields one by one and reading them back as words stalled on store forwarding.
  static_assert(sizeof(Key) == 64 && std::has_unique_object_representations_v<Key>);
  static_assert(offsetof(Key, src) == 16 && offsetof(Key, dst) == 32 &&
                offsetof(Key, in_if) == 48 && offsetof(Key, src_port) == 52 &&
                offsetof(Key, dst_port) == 54 && offsetof(Key, ns) == 56 &&
                offsetof(Key, protocol) == 58 && offsetof(Key, tos) == 59 &&
                offsetof(Key, rollup) == 60 && std::endian::native == std::endian::little);
  uint64_t w[8];
  std::memcpy(&w[0], b.exporter_addr[r].bytes.data(), 16);
  std::memcpy(&w[2], b.src_addr[r].bytes.data(), 16);
  std::memcpy(&w[4], b.dst_addr[r].bytes.data(), 16);
  uint64_t src_port = b.src_port[r];
  uint64_t dst_port = b.dst_port[r];
  uint64_t rollup = 0;
  if (rollup_.threshold() != 0) {
    switch (rollup_.add(fingerprints_[r])) {
      case EphemeralPort::kSource:
        src_port = 0;
        rollup = FlowBlock::kRollupSrcPort;
        break;
      case EphemeralPort::kDestination:
        dst_port = 0;
        rollup = FlowBlock::kRollupDstPort;
        break;
      case EphemeralPort::kNone: break;
    }
  }
  const uint16_t l = b.listener[r];
  const uint64_t ns = l < config_.listener_namespace.size() ? config_.listener_namespace[l] : 0;
  w[6] = b.in_if[r] | src_port << 32 | dst_port << 48;
  w[7] = ns | uint64_t{b.protocol[r]} << 16 | uint64_t{b.tos[r]} << 24 | rollup << 32;
  // The addresses go from the block to the key as they are, the last two words from registers;
  // one copy of all eight from the stack would read them back across two stores.
  auto* out = reinterpret_cast<unsigned char*>(&key);
  std::memcpy(out, b.exporter_addr[r].bytes.data(), 16);
  std::memcpy(out + 16, b.src_addr[r].bytes.data(), 16);
  std::memcpy(out + 32, b.dst_addr[r].bytes.data(), 16);
  std::memcpy(out + 48, &w[6], 8);
  std::memcpy(out + 56, &w[7], 8);
  return hash_words(w);
}

void Aggregator::prefetch_match(uint32_t h) const noexcept {
  const size_t mask = index_.size() - 1;
  size_t i = h & mask;
  for (int probes = 0; probes < 4 && index_[i].slot_plus_1 != 0; ++probes, i = (i + 1) & mask) {
    if (index_[i].hash == h) {
      const Entry* e = &entries_[index_[i].slot_plus_1 - 1];
      prefetch(e);                                          // the key
      prefetch(reinterpret_cast<const char*>(e) + 64);      // the sums
      return;
    }
  }
}

void Aggregator::add(const FlowBlock& b, uint64_t now_ms, decode::FlowOutput& out) noexcept {
  if (next_rotation_ms_ == 0) next_rotation_ms_ = now_ms + config_.rollup_refresh_ms;
  // The tables are far larger than the caches, so the block is walked as a software pipeline
  // whose stages run a few rows apart and overlap their misses instead of taking them in turn:
  //   1. (row r + 2 * kAhead) roll-up fingerprints; the pair's roll-up slot prefetched
  //   1b (row r + 3 * kAhead / 2) a spilled pair's roll-up key slots prefetched
  //   2. (row r + kAhead)     roll-up decision, aggregation key and hash; index bucket prefetched
  //   3. (row r + kAhead / 2) bucket probed; the record it points at prefetched
  //   4. (row r)              merged into that record, or a new record inserted
  // The roll-up still sees every row once and in order.
  constexpr uint32_t kAhead = 16;
  const uint32_t n = b.size;
  const size_t mask = index_.size() - 1;
  const bool rollup = rollup_.threshold() != 0;
  const auto stage1 = [&](uint32_t a) {
    if (!rollup) return;
    fingerprints_[a] =
        PortRollup::fingerprints(b.src_addr[a], b.dst_addr[a], b.src_port[a], b.dst_port[a]);
    rollup_.prefetch(fingerprints_[a]);
  };
  const auto stage2 = [&](uint32_t a) {
    hashes_[a] = make_key(b, a, keys_[a]);
    prefetch(&index_[hashes_[a] & mask]);
  };
  const auto stage1b = [&](uint32_t a) {
    if (rollup) rollup_.prefetch_keys(fingerprints_[a]);
  };
  for (uint32_t a = 0; a < std::min(n, 2 * kAhead); ++a) stage1(a);
  for (uint32_t a = 0; a < std::min(n, 3 * kAhead / 2); ++a) stage1b(a);
  for (uint32_t a = 0; a < std::min(n, kAhead); ++a) stage2(a);

  for (uint32_t r = 0; r < n; ++r) {
    if (r + 2 * kAhead < n) stage1(r + 2 * kAhead);
    if (r + 3 * kAhead / 2 < n) stage1b(r + 3 * kAhead / 2);
    if (r + kAhead < n) stage2(r + kAhead);
    if (r + kAhead / 2 < n) prefetch_match(hashes_[r + kAhead / 2]);

    const Key& k = keys_[r];
    const uint32_t h = hashes_[r];
    size_t i = h & mask;
    for (; index_[i].slot_plus_1 != 0; i = (i + 1) & mask) {
      if (index_[i].hash == h && same_key(entries_[index_[i].slot_plus_1 - 1].key, k)) break;
    }
    if (index_[i].slot_plus_1 != 0) {
      Entry& e = entries_[index_[i].slot_plus_1 - 1];
      e.bytes += b.bytes[r];
      e.packets += b.packets[r];
      e.start_ms = std::min(e.start_ms, b.start_ms[r]);
      e.end_ms = std::max(e.end_ms, b.end_ms[r]);
      e.tcp_flags |= b.tcp_flags[r];
      ++merged_;
      continue;
    }
    if (live_ == config_.max_keys) {
      emit_oldest(out);
      ++flushed_early_;
      // The removal may have shifted entries back: find the free bucket again.
      for (i = h & mask; index_[i].slot_plus_1 != 0; i = (i + 1) & mask) {
      }
    }
    const uint32_t slot = (head_ + live_) % config_.max_keys;
    Entry& e = entries_[slot];
    e.key = k;
    e.hash = h;
    e.first_seen_ms = now_ms;
    e.bytes = b.bytes[r];
    e.packets = b.packets[r];
    e.start_ms = b.start_ms[r];
    e.end_ms = b.end_ms[r];
    e.src_mac = b.src_mac[r];
    e.dst_mac = b.dst_mac[r];
    e.next_hop = b.next_hop[r];
    e.out_if = b.out_if[r];
    e.sampling_rate = b.sampling_rate[r];
    e.observation_domain = b.observation_domain[r];
    e.sequence = b.sequence[r];
    e.src_as = b.src_as[r];
    e.dst_as = b.dst_as[r];
    e.exporter_port = b.exporter_port[r];
    e.ether_type = b.ether_type[r];
    e.vlan = b.vlan[r];
    e.listener = b.listener[r];
    e.tcp_flags = b.tcp_flags[r];
    e.src_mask = b.src_mask[r];
    e.dst_mask = b.dst_mask[r];
    e.direction = b.direction[r];
    e.flow_type = b.flow_type[r];
    index_[i] = Bucket{slot + 1, h};
    ++live_;
  }
}

void Aggregator::erase_index(uint32_t bucket) noexcept {
  // Backward-shift deletion keeps linear probing correct without tombstones.
  const size_t mask = index_.size() - 1;
  size_t i = bucket;
  index_[i].slot_plus_1 = 0;
  for (size_t j = (i + 1) & mask; index_[j].slot_plus_1 != 0; j = (j + 1) & mask) {
    const size_t home = index_[j].hash & mask;
    const bool stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
    if (!stays) {
      index_[i] = index_[j];
      index_[j].slot_plus_1 = 0;
      i = j;
    }
  }
}

void Aggregator::emit_oldest(decode::FlowOutput& out) noexcept {
  // Records leave in order (a flush, or a full table making room), so the bucket of the record
  // kFlushAhead places behind this one is loaded now, for its turn.
  constexpr uint32_t kFlushAhead = 8;
  if (live_ > kFlushAhead) {
    const uint32_t later = entries_[(head_ + kFlushAhead) % config_.max_keys].hash;
    prefetch(&index_[later & (index_.size() - 1)]);
  }
  Entry& e = entries_[head_];
  const size_t mask = index_.size() - 1;
  for (size_t i = e.hash & mask; index_[i].slot_plus_1 != 0; i = (i + 1) & mask) {
    if (index_[i].slot_plus_1 == head_ + 1) {
      erase_index(static_cast<uint32_t>(i));
      break;
    }
  }
  const uint32_t r = out.next_row_uninit();
  if (r == decode::FlowOutput::kNoRow) {
    ++dropped_;
  } else {
    FlowBlock& b = *out.block();
    b.exporter_addr[r] = e.key.exporter;
    b.src_addr[r] = e.key.src;
    b.dst_addr[r] = e.key.dst;
    b.next_hop[r] = e.next_hop;
    b.bytes[r] = e.bytes;
    b.packets[r] = e.packets;
    b.start_ms[r] = e.start_ms;
    b.end_ms[r] = e.end_ms;
    b.src_mac[r] = e.src_mac;
    b.dst_mac[r] = e.dst_mac;
    b.in_if[r] = e.key.in_if;
    b.out_if[r] = e.out_if;
    b.sampling_rate[r] = e.sampling_rate;
    b.observation_domain[r] = e.observation_domain;
    b.sequence[r] = e.sequence;
    b.src_as[r] = e.src_as;
    b.dst_as[r] = e.dst_as;
    b.src_port[r] = e.key.src_port;  // 0 on a rolled-up side, which is written as "*"
    b.dst_port[r] = e.key.dst_port;
    b.exporter_port[r] = e.exporter_port;
    b.ether_type[r] = e.ether_type;
    b.vlan[r] = e.vlan;
    b.listener[r] = e.listener;
    b.protocol[r] = e.key.protocol;
    b.tos[r] = e.key.tos;
    b.tcp_flags[r] = e.tcp_flags;
    b.src_mask[r] = e.src_mask;
    b.dst_mask[r] = e.dst_mask;
    b.direction[r] = e.direction;
    b.flow_type[r] = e.flow_type;
    b.port_rollup[r] = e.key.rollup;
    ++flushed_;
  }
  head_ = (head_ + 1) % config_.max_keys;
  --live_;
}

void Aggregator::flush_due(uint64_t now_ms, decode::FlowOutput& out) noexcept {
  // Entries are in first-seen order, and all wait the same interval: the due ones are a prefix.
  while (live_ > 0 && entries_[head_].first_seen_ms + config_.flush_interval_ms <= now_ms) {
    emit_oldest(out);
  }
  if (next_rotation_ms_ != 0 && now_ms >= next_rotation_ms_) {
    rollup_.rotate();
    next_rotation_ms_ = now_ms + config_.rollup_refresh_ms;
  }
}

void Aggregator::flush_all(decode::FlowOutput& out) noexcept {
  while (live_ > 0) emit_oldest(out);
}

}  // namespace flowgate::exporter
