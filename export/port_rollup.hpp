#pragma once

#include <cstddef>
#include <cstdint>
#include <array>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "decode/hash.hpp"
#include "decode/ip_address.hpp"
#include "export/huge_page_array.hpp"
#include "export/prefetch.hpp"

namespace flowgate::exporter {

enum class EphemeralPort : uint8_t { kNone, kSource, kDestination };

// Port roll-up as Datadog's portrollup (which Datakit's NetFlow input uses) does it: for each
// (source address, destination address) pair, count the distinct destination ports seen with
// each source port and the distinct source ports seen with each destination port. Once a side
// reaches the threshold, the other side's port is ephemeral; the side with more peers wins, and
// both never roll up. Two generations of trackers: every flow is written to both, queries read
// the current one, and rotate() makes the newer one current, forgetting what was not seen since.
//
// Unlike the reference's maps of sets, the trackers are fixed-capacity tables sized at
// construction, so tracking a flow never allocates; what a full table cannot track is counted
// in untracked() and treated as not ephemeral. Two tables, because most address pairs carry
// fewer distinct (source port, destination port) tuples than the threshold, and then no port
// of theirs can be ephemeral:
// - a pair's slot (64 bytes) holds its distinct tuples inline while they are fewer than the
//   threshold, which is all a query of such a pair needs: one cache line a flow;
// - the flow that would make them reach it "spills" the pair: its tuples are replayed into
//   (pair, side, port) key slots, which keep each key's distinct peer ports of both generations
//   inline (a set stops growing at the threshold, as the reference's does), and from then on
//   the pair's flows go to those too: three lines a flow.
class PortRollup {
 public:
  // Peer ports a key slot holds per generation, and so the highest threshold.
  static constexpr uint32_t kMaxThreshold = 11;

  // `threshold` is clamped to kMaxThreshold (the configuration refuses more). `capacity`
  // (pair, side, port) keys are tracked at most, and capacity / 2 pairs (one pair of a single
  // tuple took two keys before pairs had slots of their own); each table has twice as many
  // slots.
  PortRollup(uint32_t threshold, uint32_t capacity);

  // A flow's pair hashed once, and its ports: a caller walking a block computes them a few
  // records ahead, prefetches with them, and adds with them.
  struct Fingerprints {
    uint64_t pair;
    uint16_t src_port;
    uint16_t dst_port;
  };
  static Fingerprints fingerprints(const decode::IpAddress& src, const decode::IpAddress& dst,
                                   uint16_t src_port, uint16_t dst_port) noexcept {
    uint64_t s[2], d[2];
    std::memcpy(s, src.bytes.data(), 16);
    std::memcpy(d, dst.bytes.data(), 16);
    // The two addresses fold in parallel; the constants make (a, b) and (b, a) differ.
    const uint64_t pair =
        decode::fold_multiply(s[0] ^ 0xa0761d6478bd642full, s[1] ^ 0xe7037ed1a0b428dbull) ^
        decode::fold_multiply(d[0] ^ 0x8ebc6af09c88c6e3ull, d[1] ^ 0x589965cc75374cc3ull);
    return Fingerprints{pair, src_port, dst_port};
  }

  // What judge() tells of a flow: which of its ports is ephemeral, and whether its tuple is now
  // held by a pair that has not spilled. A settled tuple's next flows get the same answer and
  // change nothing (the tuple is marked seen in both generations already) until the pair
  // spills (may_have_spilled() tells) or the trackers rotate.
  struct Verdict {
    EphemeralPort side;
    bool settled;
  };
  // Records the flow and tells which of its ports is ephemeral. Inline for the common case, a
  // flow whose pair has not spilled and sits in its home slot already holding the flow's tuple:
  // the tuple is marked seen in the newer generation, and no port of such a pair is ephemeral.
  // Every other flow takes add_rest(), out of line, so the common case needs no call.
  Verdict judge(const Fingerprints& f) noexcept {
    if (threshold_ == 0) return Verdict{EphemeralPort::kNone, false};
    PairSlot& home = pairs_[home_index(f)];
    if (home.key == pair_key(f) && (home.state & kSpilled) == 0) {
      const uint16_t held = holding(home, uint32_t{f.src_port} << 16 | f.dst_port);
      if (held != 0) {
        home.newer |= held;
        return Verdict{EphemeralPort::kNone, true};
      }
    }
    return add_rest(f);
  }
  EphemeralPort add(const Fingerprints& f) noexcept { return judge(f).side; }
  EphemeralPort add(const decode::IpAddress& src, const decode::IpAddress& dst, uint16_t src_port,
                    uint16_t dst_port) noexcept {
    return add(fingerprints(src, dst, src_port, dst_port));
  }
  // False when the flow's pair has certainly not spilled since the last rotation: one bit for
  // the pairs that share 16 bits of their fingerprint, set by a spill, cleared by rotate().
  // True may be wrong (another pair of those spilled); false never is. 8 KiB, so that it stays
  // in the nearest caches: it is read for most flows.
  bool may_have_spilled(const Fingerprints& f) const noexcept {
    const size_t i = spilled_bit(f.pair);
    return (spilled_[i / 64] >> (i % 64) & 1) != 0;
  }
  // Starts loading the pair's slot, so that a caller walking a block can issue it a few records
  // ahead: the tables are far larger than the caches.
  void prefetch(const Fingerprints& f) const noexcept {
    if (threshold_ != 0) exporter::prefetch(&pairs_[home_index(f)]);
  }
  // Starts loading the key slots of a spilled pair (a few records after prefetch(), when the
  // pair's slot has arrived); nothing for the others, which need none. Only the pair's home slot
  // is looked at (where nearly every pair is, the table at most half full): a probe along the
  // run for every flow would cost more than the rare missed prefetch.
  void prefetch_keys(const Fingerprints& f) const noexcept {
    if (threshold_ == 0) return;
    const PairSlot& home = pairs_[home_index(f)];
    if (home.key == pair_key(f) && (home.state & kSpilled) != 0) {
      const size_t mask = keys_.size() - 1;
      exporter::prefetch(&keys_[src_key(f.pair, f.src_port) & mask]);
      exporter::prefetch(&keys_[dst_key(f.pair, f.dst_port) & mask]);
    }
  }
  // Makes the newer generation current and starts an empty newer one (every rollup refresh
  // interval); pairs, tuples and keys seen in neither are removed, which frees their room.
  void rotate() noexcept;

  uint64_t untracked() const noexcept { return untracked_; }
  // Pairs and (pair, side, port) keys tracked now (in either generation).
  uint32_t tracked_pairs() const noexcept { return pairs_used_; }
  uint32_t tracked_keys() const noexcept { return keys_used_; }
  // What the tables reserve.
  uint64_t memory_bytes() const noexcept {
    return pairs_.reserved_bytes() + keys_.reserved_bytes();
  }
  // What a PortRollup(threshold, capacity) reserves, before making one.
  static uint64_t table_bytes(uint32_t threshold, uint32_t capacity) noexcept;
  uint32_t threshold() const noexcept { return threshold_; }

 private:
  // A pair and, until it spills, its distinct (source port << 16 | destination port) tuples
  // of the current generation in first-seen order; the newer generation's are a subset of them
  // (every flow goes to both), marked in `newer`.
  struct alignas(64) PairSlot {
    uint64_t key;  // 0 = empty
    uint32_t tuples[kMaxThreshold - 1];
    uint16_t newer;  // bit i: tuples[i] seen in the newer generation
    uint8_t count;   // tuples held
    uint8_t state;   // kSpilled, kSeenNewer
  };
  static_assert(sizeof(PairSlot) == 64);
  static constexpr uint8_t kSpilled = 1;
  static constexpr uint8_t kSeenNewer = 2;  // a spilled pair had a flow in the newer generation

  // A (pair, side, port) key and the distinct peer ports seen with it in each generation, up
  // to the threshold.
  struct alignas(64) KeySlot {
    uint64_t key;  // 0 = empty
    uint16_t count[2];
    uint16_t peers[2][kMaxThreshold];
  };
  static_assert(sizeof(KeySlot) == 64);

  // A key is never 0, which marks an empty slot; the bit that makes sure of it is one the slot
  // index (the low bits) does not use.
  static constexpr uint64_t kNonZero = uint64_t{1} << 63;
  static uint64_t pair_key(const Fingerprints& f) noexcept { return f.pair | kNonZero; }
  // The slot a probe for the flow's pair starts from, where nearly every pair is.
  size_t home_index(const Fingerprints& f) const noexcept {
    return pair_key(f) & (pairs_.size() - 1);
  }
  // A pair's bit in spilled_: bits of the fingerprint above those the pair slots use.
  static size_t spilled_bit(uint64_t pair) noexcept { return pair >> 48; }
  static uint64_t src_key(uint64_t pair, uint16_t port) noexcept {
    return decode::mix64(pair ^ (uint64_t{port} << 1)) | kNonZero;
  }
  static uint64_t dst_key(uint64_t pair, uint16_t port) noexcept {
    return decode::mix64(pair ^ ((uint64_t{port} << 1) | 1)) | kNonZero;
  }

  // Bit i set: tuples[i] of the (not spilled) pair in `slot` is `tuple`.
  static uint16_t holding(const PairSlot& slot, uint32_t tuple) noexcept {
    uint32_t held = 0;
#if defined(__SSE2__)
    // The ten tuples compared at once; the third load's last two lanes (newer, count, state)
    // and the lanes past `count` are masked off.
    static_assert(offsetof(PairSlot, tuples) + 48 <= sizeof(PairSlot),
                  "the third 16-byte load stays inside the slot");
    const __m128i want = _mm_set1_epi32(static_cast<int>(tuple));
    const auto* t = reinterpret_cast<const unsigned char*>(slot.tuples);
    const auto equal = [&](int at) {
      return static_cast<uint32_t>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(t + at)), want))));
    };
    held = (equal(0) | equal(16) << 4 | equal(32) << 8) & ((1u << slot.count) - 1);
#else
    for (uint32_t i = 0; i < slot.count; ++i) held |= uint32_t{slot.tuples[i] == tuple} << i;
#endif
    return static_cast<uint16_t>(held);
  }
  // add() for every flow its inline part does not take.
  [[gnu::noinline]] Verdict add_rest(const Fingerprints& f) noexcept;
  // Spills the pair in `slot`: its tuples go to the key slots, each to the generations it was
  // seen in.
  void spill(PairSlot& slot, uint64_t pair) noexcept;
  // Adds the flow (pair, src_port, dst_port) to the key slots of each generation g whose bit is
  // set in `generations` and tells which of its ports is ephemeral.
  EphemeralPort track(uint64_t pair, uint16_t src_port, uint16_t dst_port,
                      uint32_t generations) noexcept;
  // Adds `peer` to the set of each generation g of `slot` (which holds the key) that is
  // open[g].
  void insert(KeySlot& slot, const bool (&open)[2], uint16_t peer) const noexcept;
  // Takes the empty `slot` for `key`; false when the table holds capacity keys already.
  bool claim(KeySlot& slot, uint64_t key) noexcept;

  uint32_t threshold_;
  uint32_t capacity_;       // keys
  uint32_t pair_capacity_;  // pairs
  HugePageArray<PairSlot> pairs_;  // open addressing, linear probing
  HugePageArray<KeySlot> keys_;    // open addressing, linear probing
  std::array<uint64_t, 1024> spilled_{};  // may_have_spilled()
  uint32_t pairs_used_ = 0;
  uint32_t keys_used_ = 0;
  uint32_t current_ = 0;  // the generation queries read; the other is the newer one
  uint64_t untracked_ = 0;
};

}  // namespace flowgate::exporter
