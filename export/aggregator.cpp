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

// Key heads are compared as two overlapping 16-byte vectors (bytes 0-15 and 12-27) straight
// from memory: no copy of either head through the stack on the probe path.
template <typename H>
bool same_head(const H& a, const H& b) noexcept {
  static_assert(sizeof(H) == 28 && std::has_unique_object_representations_v<H>);
  const auto* x = reinterpret_cast<const unsigned char*>(&a);
  const auto* y = reinterpret_cast<const unsigned char*>(&b);
#if defined(__SSE4_1__)
  const auto load = [](const unsigned char* p) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  };
  const __m128i diff = _mm_or_si128(_mm_xor_si128(load(x), load(y)),
                                    _mm_xor_si128(load(x + 12), load(y + 12)));
  return _mm_testz_si128(diff, diff) != 0;
#else
  return std::memcmp(x, y, sizeof(H)) == 0;
#endif
}

// Bytes 8-11 of a v4-mapped address (00 00 ff ff) as a little-endian word; bytes 0-7 are zero.
constexpr uint32_t kMappedPrefixEnd = 0xffff0000u;

// Whether all three addresses are v4-mapped (::ffff:a.b.c.d): their first twelve bytes are
// ten zeros and two 0xff.
bool all_v4_mapped(const unsigned char* a, const unsigned char* b,
                   const unsigned char* c) noexcept {
#if defined(__SSE4_1__)
  const __m128i prefix = _mm_set_epi32(0, static_cast<int>(kMappedPrefixEnd), 0, 0);
  const __m128i first_twelve = _mm_set_epi32(0, -1, -1, -1);
  const auto differs = [&](const unsigned char* p) {
    return _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), prefix);
  };
  const __m128i diff = _mm_or_si128(_mm_or_si128(differs(a), differs(b)), differs(c));
  return _mm_testz_si128(diff, first_twelve) != 0;
#else
  const auto mapped = [](const unsigned char* p) {
    uint64_t zeros;
    uint32_t end;
    std::memcpy(&zeros, p, 8);
    std::memcpy(&end, p + 8, 4);
    return zeros == 0 && end == kMappedPrefixEnd;
  };
  return mapped(a) && mapped(b) && mapped(c);
#endif
}

// An address from the first twelve bytes and the last four (as they lie in memory).
decode::IpAddress address(const std::array<uint8_t, 12>& upper, uint32_t low) noexcept {
  decode::IpAddress a;
  std::memcpy(a.bytes.data(), upper.data(), 12);
  std::memcpy(a.bytes.data() + 12, &low, 4);
  return a;
}

uint64_t bucket_count(uint32_t max_keys) noexcept { return std::bit_ceil(uint64_t{max_keys} * 2); }

}  // namespace

Aggregator::Aggregator(AggregatorConfig config)
    : config_(std::move(config)),
      rollup_(config_.port_rollup_threshold, config_.rollup_capacity),
      fingerprints_(FlowBlock::kCapacity),
      keys_(FlowBlock::kCapacity),
      hashes_(FlowBlock::kCapacity),
      found_(FlowBlock::kCapacity),
      stamps_(FlowBlock::kCapacity) {
  config_.max_keys = std::max<uint32_t>(config_.max_keys, 1);
  entries_ = HugePageArray<Entry>(config_.max_keys);
  tails_ = HugePageArray<EntryTail>(config_.max_keys);
  index_ = HugePageArray<Bucket>(bucket_count(config_.max_keys));
  resize_index(std::min<size_t>(index_.size(), kMinIndexBuckets));
}

uint64_t Aggregator::table_bytes(const AggregatorConfig& config) noexcept {
  const uint32_t keys = std::max<uint32_t>(config.max_keys, 1);
  return HugePageArray<Entry>::bytes_for(keys) + HugePageArray<EntryTail>::bytes_for(keys) +
         HugePageArray<Bucket>::bytes_for(bucket_count(keys)) +
         PortRollup::table_bytes(config.port_rollup_threshold, config.rollup_capacity);
}

inline uint32_t Aggregator::make_key(const FlowBlock& b, uint32_t r, EphemeralPort side,
                                     uint64_t ns, KeyHead& head) noexcept {
  // The head is built as the words it is hashed and compared as, in registers: writing its
  // fields one by one and reading them back as words stalled on store forwarding.
  static_assert(offsetof(KeyHead, src_low) == 4 && offsetof(KeyHead, dst_low) == 8 &&
                offsetof(KeyHead, in_if) == 12 && offsetof(KeyHead, src_port) == 16 &&
                offsetof(KeyHead, dst_port) == 18 && offsetof(KeyHead, ns) == 20 &&
                offsetof(KeyHead, protocol) == 22 && offsetof(KeyHead, tos) == 23 &&
                offsetof(KeyHead, rollup) == 24 && offsetof(KeyHead, wide) == 25 &&
                sizeof(KeyHead) == 28 && std::endian::native == std::endian::little);
  const unsigned char* exporter = b.exporter_addr[r].bytes.data();
  const unsigned char* src = b.src_addr[r].bytes.data();
  const unsigned char* dst = b.dst_addr[r].bytes.data();
  uint64_t src_port = b.src_port[r];
  uint64_t dst_port = b.dst_port[r];
  uint64_t rollup = 0;
  switch (side) {
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
  uint32_t exporter_low, src_low, dst_low;
  std::memcpy(&exporter_low, exporter + 12, 4);
  std::memcpy(&src_low, src + 12, 4);
  std::memcpy(&dst_low, dst + 12, 4);
  const bool wide = !all_v4_mapped(exporter, src, dst);
  const uint64_t words[3] = {exporter_low | uint64_t{src_low} << 32,
                             dst_low | uint64_t{b.in_if[r]} << 32,
                             src_port | dst_port << 16 | ns << 32 | uint64_t{b.protocol[r]} << 48 |
                                 uint64_t{b.tos[r]} << 56};
  const uint32_t tail = static_cast<uint32_t>(rollup | uint64_t{wide} << 8);
  auto* out = reinterpret_cast<unsigned char*>(&head);
  std::memcpy(out, words, 24);
  std::memcpy(out + 24, &tail, 4);
  // The hash of the whole key: for an IPv4 key the head says it all; a wide key's hash takes
  // in the addresses' first twelve bytes too.
  using decode::fold_multiply;
  uint64_t h = fold_multiply(words[0] ^ 0xa0761d6478bd642full, words[1] ^ 0xe7037ed1a0b428dbull) ^
               fold_multiply(words[2] ^ 0x8ebc6af09c88c6e3ull, tail ^ 0x589965cc75374cc3ull);
  if (wide) {
    uint64_t u[5];
    std::memcpy(&u[0], exporter, 8);
    std::memcpy(&u[1], src, 8);
    std::memcpy(&u[2], dst, 8);
    uint32_t middle[3];
    std::memcpy(&middle[0], exporter + 8, 4);
    std::memcpy(&middle[1], src + 8, 4);
    std::memcpy(&middle[2], dst + 8, 4);
    u[3] = middle[0] | uint64_t{middle[1]} << 32;
    u[4] = middle[2];
    h ^= fold_multiply(u[0] ^ 0x1d8e4e27c47d124full, u[1] ^ 0x9e3779b97f4a7c15ull) ^
         fold_multiply(u[2] ^ 0xbf58476d1ce4e5b9ull, u[3] ^ 0x94d049bb133111ebull) ^
         fold_multiply(u[4] ^ 0x2545f4914f6cdd1dull, h);
  }
  return static_cast<uint32_t>(h ^ (h >> 32));
}

inline bool Aggregator::holds(const Entry& e, const EntryTail& t, const KeyHead& head,
                              const FlowBlock& b, uint32_t r) noexcept {
  if (!same_head(e.head, head)) return false;
  if (!head.wide) return true;  // both keys' addresses are v4-mapped: equal above the head
  return std::memcmp(t.upper[0].data(), b.exporter_addr[r].bytes.data(), 12) == 0 &&
         std::memcmp(t.upper[1].data(), b.src_addr[r].bytes.data(), 12) == 0 &&
         std::memcmp(t.upper[2].data(), b.dst_addr[r].bytes.data(), 12) == 0;
}

void Aggregator::add(const FlowBlock& b, uint64_t now_ms, decode::FlowOutput& out) noexcept {
  if (next_rotation_ms_ == 0) next_rotation_ms_ = now_ms + config_.rollup_refresh_ms;
  if (rollup_.threshold() != 0) {
    add_rows<true>(b, now_ms, out);
  } else {
    add_rows<false>(b, now_ms, out);
  }
}

template <bool kRollup>
void Aggregator::add_rows(const FlowBlock& b, uint64_t now_ms, decode::FlowOutput& out) noexcept {
  // The tables are far larger than the caches, so the block is walked as a software pipeline
  // whose stages run kStep rows apart and overlap their misses instead of taking them in turn:
  //   A (row r + 5 kStep) roll-up fingerprints; the key with both ports and its hash; its index
  //                       bucket prefetched
  //   B (r + 4 kStep)     bucket probed; the record it points at noted and prefetched
  //   C (r + 3 kStep)     settled or not (below); if not, the pair's roll-up slot prefetched
  //   D (r + 2 kStep)     a spilled pair's roll-up key slots prefetched
  //   E (r + kStep)       the rows not settled consult the roll-up, in order; a rolled-up key
  //                       made and its bucket prefetched
  //   F (r)               merged into the noted record if it still holds the key (rows between
  //                       may have flushed it), else the index probed again: merged into the
  //                       record found, or a new record inserted
  // A row is settled when the record noted holds its key, a flow of that key found its tuple
  // settled in the roll-up's current generation (the record's stamp, PortRollup::Verdict), the
  // pair has not spilled since, and no row before it that has yet to consult the roll-up may
  // be of its pair. Consulting would then give the same answer (no port is ephemeral) and
  // change nothing, so a settled row does not: records and trackers come out as if every row
  // had, and a flow that merges costs no roll-up line.
  constexpr uint32_t kStep = 8;
  // How far ahead of stage F each stage runs. Without roll-up, stages C to E have nothing to do
  // and are left out, and A and B run as close to F as they can.
  constexpr uint32_t kA = kRollup ? 5 * kStep : 2 * kStep, kB = kA - kStep, kC = 3 * kStep,
                     kD = 2 * kStep, kE = kStep;
  const uint32_t n = b.size;
  // Tables and counters in locals: the pipeline writes bytes (a key head, a record's TCP
  // flags), which as far as the compiler knows may alias any member, and it would otherwise
  // load every table's address from `this` again on every row.
  // Changes when an insert grows the index (the other stages' probes then see the new size).
  size_t mask = index_mask_;
  Bucket* const index = index_.data();
  Entry* const entries = entries_.data();
  const EntryTail* const tails = tails_.data();
  PortRollup::Fingerprints* const fingerprints = fingerprints_.data();
  KeyHead* const keys = keys_.data();
  uint32_t* const hashes = hashes_.data();
  uint32_t* const found = found_.data();
  uint16_t* const stamps = stamps_.data();
  uint8_t* const pending = pending_.data();
  const uint16_t* const namespaces = config_.listener_namespace.data();
  const size_t namespace_count = config_.listener_namespace.size();
  const bool settle = config_.settle;
  const uint16_t stamp = stamp_;
  uint64_t merged = 0;
  uint64_t settled = 0;
  const auto pending_of = [](const PortRollup::Fingerprints& f) -> size_t {
    return f.pair >> 52;  // the bits above the pair slot's index
  };
  static_assert(std::tuple_size_v<decltype(pending_)> == size_t{1} << 12);
  const auto namespace_of = [&](uint32_t a) -> uint64_t {
    const uint16_t l = b.listener[a];
    return l < namespace_count ? namespaces[l] : 0;
  };
  // Between stages C and E a row's stamp tells whether it consults the roll-up: 0 until then
  // for the rows that do, the current (never 0) stamp for the settled ones.
  const auto asks = [&](uint32_t a) { return stamps[a] == 0; };

  const auto stageA = [&](uint32_t a) __attribute__((always_inline)) {
    if constexpr (kRollup) {
      fingerprints[a] =
          PortRollup::fingerprints(b.src_addr[a], b.dst_addr[a], b.src_port[a], b.dst_port[a]);
    }
    hashes[a] = make_key(b, a, EphemeralPort::kNone, namespace_of(a), keys[a]);
    prefetch(&index[hashes[a] & mask]);
  };
  const auto stageB = [&](uint32_t a) __attribute__((always_inline)) {
    // The record whose hash matches, if one does within four probes (where nearly every key
    // is, the index at most half full); 0 sends stage F to a full probe.
    const uint32_t h = hashes[a];
    found[a] = 0;
    size_t i = h & mask;
    for (int probes = 0; probes < 4 && index[i].slot_plus_1 != 0; ++probes, i = (i + 1) & mask) {
      if (index[i].hash == h) {
        const uint32_t slot_plus_1 = index[i].slot_plus_1;
        prefetch(&entries[slot_plus_1 - 1]);                             // head and sums
        if (keys[a].wide != 0) prefetch(&tails[slot_plus_1 - 1]);  // upper bytes
        found[a] = slot_plus_1;
        return;
      }
    }
  };
  const auto stageC = [&](uint32_t a) __attribute__((always_inline)) {
    stamps[a] = 0;
    const PortRollup::Fingerprints& f = fingerprints[a];
    const uint32_t noted = found[a];
    if (settle && noted != 0 && entries[noted - 1].settled_stamp == stamp &&
        pending[pending_of(f)] == 0 && !rollup_.may_have_spilled(f) &&
        holds(entries[noted - 1], tails[noted - 1], keys[a], b, a)) {
      stamps[a] = stamp;
      ++settled;
      return;
    }
    ++pending[pending_of(f)];
    rollup_.prefetch(f);
  };
  const auto stageD = [&](uint32_t a) __attribute__((always_inline)) {
    if (asks(a)) rollup_.prefetch_keys(fingerprints[a]);
  };
  const auto stageE = [&](uint32_t a) __attribute__((always_inline)) {
    if (!asks(a)) return;
    const PortRollup::Fingerprints& f = fingerprints[a];
    --pending[pending_of(f)];
    const PortRollup::Verdict v = rollup_.judge(f);
    stamps[a] = v.settled ? stamp : 0;
    if (v.side == EphemeralPort::kNone) return;
    hashes[a] = make_key(b, a, v.side, namespace_of(a), keys[a]);
    found[a] = 0;
    prefetch(&index[hashes[a] & mask]);
  };
  const auto merge = [&](Entry& e, uint32_t r) __attribute__((always_inline)) {
    e.bytes += b.bytes[r];
    e.packets += b.packets[r];
    e.start_ms = std::min(e.start_ms, b.start_ms[r]);
    e.end_ms = std::max(e.end_ms, b.end_ms[r]);
    e.tcp_flags |= b.tcp_flags[r];
    if constexpr (kRollup) e.settled_stamp = stamps[r];
    ++merged;
  };
  const auto stageF = [&](uint32_t r) __attribute__((always_inline)) {
    const KeyHead& k = keys[r];
    // A record flushed since stage B no longer holds any key (emit_oldest() marks it), and one
    // taken again since holds its new key: either way the comparison tells.
    const uint32_t noted = found[r];
    if (noted != 0 && holds(entries[noted - 1], tails[noted - 1], k, b, r)) {
      merge(entries[noted - 1], r);
      return;
    }
    const uint32_t h = hashes[r];
    size_t i = h & mask;
    for (; index[i].slot_plus_1 != 0; i = (i + 1) & mask) {
      const uint32_t slot = index[i].slot_plus_1 - 1;
      if (index[i].hash == h && holds(entries[slot], tails[slot], k, b, r)) {
        merge(entries[slot], r);
        return;
      }
    }
    insert(b, r, k, h, kRollup ? stamps[r] : 0, now_ms, i, out);
    mask = index_mask_;
  };
  // Every stage of row r, the later rows' ones only while there are such rows: the bounds
  // are checked only near the block's end.
  const auto row = [&]<bool kNearEnd>(uint32_t r) __attribute__((always_inline)) {
    if (!kNearEnd || r + kA < n) stageA(r + kA);
    if (!kNearEnd || r + kB < n) stageB(r + kB);
    if constexpr (kRollup) {
      if (!kNearEnd || r + kC < n) stageC(r + kC);
      if (!kNearEnd || r + kD < n) stageD(r + kD);
      if (!kNearEnd || r + kE < n) stageE(r + kE);
    }
    stageF(r);
  };

  for (uint32_t a = 0; a < std::min(n, kA); ++a) stageA(a);
  for (uint32_t a = 0; a < std::min(n, kB); ++a) stageB(a);
  if constexpr (kRollup) {
    for (uint32_t a = 0; a < std::min(n, kC); ++a) stageC(a);
    for (uint32_t a = 0; a < std::min(n, kD); ++a) stageD(a);
    for (uint32_t a = 0; a < std::min(n, kE); ++a) stageE(a);
  }
  const uint32_t far_from_end = n > kA ? n - kA : 0;
  uint32_t r = 0;
  for (; r < far_from_end; ++r) row.template operator()<false>(r);
  for (; r < n; ++r) row.template operator()<true>(r);
  merged_ += merged;
  settled_ += settled;
}

void Aggregator::insert(const FlowBlock& b, uint32_t r, const KeyHead& k, uint32_t h,
                        uint16_t settled_stamp, uint64_t now_ms, size_t bucket,
                        decode::FlowOutput& out) noexcept {
  const size_t mask = index_mask_;
  if (live_ == config_.max_keys) {
    emit_oldest(out);
    ++flushed_early_;
    // The removal may have shifted entries back: find the free bucket again.
    for (bucket = h & mask; index_[bucket].slot_plus_1 != 0; bucket = (bucket + 1) & mask) {
    }
  }
  const uint32_t slot = ring_slot(head_ + live_);
  // New records take the ring's slots in order: the lines of the one kInsertsAhead inserts on
  // are fetched now, as the ring has not been touched since it last wrapped (if ever) and
  // the stores to a new record otherwise wait on its three lines.
  if (config_.max_keys > kInsertsAhead) {
    const uint32_t ahead = ring_slot(slot + kInsertsAhead);
    prefetch_for_write(&entries_[ahead]);
    prefetch_for_write(&tails_[ahead]);
    prefetch_for_write(reinterpret_cast<const char*>(&tails_[ahead]) + 64);
  }
  Entry& e = entries_[slot];
  e.head = k;
  e.bytes = b.bytes[r];
  e.packets = b.packets[r];
  e.start_ms = b.start_ms[r];
  e.end_ms = b.end_ms[r];
  e.tcp_flags = b.tcp_flags[r];
  e.settled_stamp = settled_stamp;
  EntryTail& t = tails_[slot];
  std::memcpy(t.upper[0].data(), b.exporter_addr[r].bytes.data(), 12);
  std::memcpy(t.upper[1].data(), b.src_addr[r].bytes.data(), 12);
  std::memcpy(t.upper[2].data(), b.dst_addr[r].bytes.data(), 12);
  t.hash = h;
  t.first_seen_ms = now_ms;
  t.src_mac = b.src_mac[r];
  t.dst_mac = b.dst_mac[r];
  t.next_hop = b.next_hop[r];
  t.out_if = b.out_if[r];
  t.sampling_rate = b.sampling_rate[r];
  t.observation_domain = b.observation_domain[r];
  t.sequence = b.sequence[r];
  t.src_as = b.src_as[r];
  t.dst_as = b.dst_as[r];
  t.exporter_port = b.exporter_port[r];
  t.ether_type = b.ether_type[r];
  t.vlan = b.vlan[r];
  t.listener = b.listener[r];
  t.src_mask = b.src_mask[r];
  t.dst_mask = b.dst_mask[r];
  t.direction = b.direction[r];
  t.flow_type = b.flow_type[r];
  index_[bucket] = Bucket{slot + 1, h};
  if (++live_ > index_grow_at_) grow_index();
}

void Aggregator::set_index_size(size_t buckets) noexcept {
  index_mask_ = buckets - 1;
  index_grow_at_ = buckets < index_.size() ? static_cast<uint32_t>(buckets / 2) : UINT32_MAX;
}

void Aggregator::grow_index() noexcept {
  // A key in old bucket p with home a (p at or after a, along the probe) has the new home a or
  // a + old. The old buckets are taken in probe order, starting after an empty one so that no
  // run is split: each is emptied and its key entered in the doubled index. Entered in that
  // order, a key that stays in the lower half lands in [a, p] and one that moves up in
  // [a + old, p + old] (modulo the new size): of the buckets between its home and there, each
  // taken one holds a key that came from a distinct old bucket between its home and p, so
  // one is free by p. Those buckets are behind the pass (the lower ones emptied or refilled
  // already, the upper ones new), so no probe meets a key not yet moved.
  const size_t old = index_mask_ + 1;
  std::fill_n(index_.data() + old, old, Bucket{});
  size_t empty = 0;
  while (index_[empty].slot_plus_1 != 0) ++empty;  // there is one: at most half full
  set_index_size(2 * old);
  for (size_t t = 1; t < old; ++t) {
    const size_t p = (empty + t) & (old - 1);
    const Bucket b = index_[p];
    if (b.slot_plus_1 == 0) continue;
    index_[p] = Bucket{};
    size_t i = b.hash & index_mask_;
    while (index_[i].slot_plus_1 != 0) i = (i + 1) & index_mask_;
    index_[i] = b;
  }
}

void Aggregator::resize_index(size_t buckets) noexcept {
  set_index_size(buckets);
  // Every live record again, in ring order (sequential reads of the hashes); a bucket past the
  // new size that a shrink leaves behind is out of every probe's reach, and cleared when the
  // index grows over it again.
  std::fill_n(index_.data(), buckets, Bucket{});
  constexpr uint32_t kAhead = 16;  // the bucket a record kAhead later will take starts loading
  for (uint32_t k = 0; k < live_; ++k) {
    if (k + kAhead < live_) {
      prefetch(&index_[tails_[ring_slot(head_ + k + kAhead)].hash & index_mask_]);
    }
    const uint32_t slot = ring_slot(head_ + k);
    const uint32_t h = tails_[slot].hash;
    size_t i = h & index_mask_;
    while (index_[i].slot_plus_1 != 0) i = (i + 1) & index_mask_;
    index_[i] = Bucket{slot + 1, h};
  }
}

void Aggregator::erase_index(uint32_t bucket) noexcept {
  // Backward-shift deletion keeps linear probing correct without tombstones.
  const size_t mask = index_mask_;
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
    const uint32_t later = tails_[ring_slot(head_ + kFlushAhead)].hash;
    prefetch(&index_[later & index_mask_]);
  }
  Entry& e = entries_[head_];
  const EntryTail& t = tails_[head_];
  const size_t mask = index_mask_;
  for (size_t i = t.hash & mask; index_[i].slot_plus_1 != 0; i = (i + 1) & mask) {
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
    b.exporter_addr[r] = address(t.upper[0], e.head.exporter_low);
    b.src_addr[r] = address(t.upper[1], e.head.src_low);
    b.dst_addr[r] = address(t.upper[2], e.head.dst_low);
    b.next_hop[r] = t.next_hop;
    b.bytes[r] = e.bytes;
    b.packets[r] = e.packets;
    b.start_ms[r] = e.start_ms;
    b.end_ms[r] = e.end_ms;
    b.src_mac[r] = t.src_mac;
    b.dst_mac[r] = t.dst_mac;
    b.in_if[r] = e.head.in_if;
    b.out_if[r] = t.out_if;
    b.sampling_rate[r] = t.sampling_rate;
    b.observation_domain[r] = t.observation_domain;
    b.sequence[r] = t.sequence;
    b.src_as[r] = t.src_as;
    b.dst_as[r] = t.dst_as;
    b.src_port[r] = e.head.src_port;  // 0 on a rolled-up side, which is written as "*"
    b.dst_port[r] = e.head.dst_port;
    b.exporter_port[r] = t.exporter_port;
    b.ether_type[r] = t.ether_type;
    b.vlan[r] = t.vlan;
    b.listener[r] = t.listener;
    b.protocol[r] = e.head.protocol;
    b.tos[r] = e.head.tos;
    b.tcp_flags[r] = e.tcp_flags;
    b.src_mask[r] = t.src_mask;
    b.dst_mask[r] = t.dst_mask;
    b.direction[r] = t.direction;
    b.flow_type[r] = t.flow_type;
    b.port_rollup[r] = e.head.rollup;
    ++flushed_;
  }
  e.head.wide = KeyHead::kFreed;
  head_ = ring_slot(head_ + 1);
  --live_;
}

void Aggregator::flush_due(uint64_t now_ms, decode::FlowOutput& out) noexcept {
  // Entries are in first-seen order, and all wait the same interval: the due ones are a prefix.
  while (live_ > 0 && tails_[head_].first_seen_ms + config_.flush_interval_ms <= now_ms) {
    emit_oldest(out);
  }
  // The index shrinks with the live keys (to between an eighth and a quarter full), so that a
  // quiet period after a busy one probes a small region again.
  if (index_mask_ + 1 > kMinIndexBuckets && live_ < (index_mask_ + 1) / 8) {
    size_t buckets = index_mask_ + 1;
    while (buckets > kMinIndexBuckets && live_ < buckets / 8) buckets /= 2;
    resize_index(buckets);
  }
  if (next_rotation_ms_ != 0 && now_ms >= next_rotation_ms_) {
    rollup_.rotate();
    next_rotation_ms_ = now_ms + config_.rollup_refresh_ms;
    // No record is settled in the new generation. When the stamp wraps (after 65,535
    // rotations), records older than that could carry the new one: they are cleared first.
    if (++stamp_ == 0) {
      stamp_ = 1;
      for (uint32_t i = 0; i < live_; ++i) entries_[ring_slot(head_ + i)].settled_stamp = 0;
    }
  }
}

void Aggregator::flush_all(decode::FlowOutput& out) noexcept {
  while (live_ > 0) emit_oldest(out);
}

}  // namespace flowgate::exporter
