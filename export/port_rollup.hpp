#pragma once

#include <cstdint>
#include <cstring>

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
// Unlike the reference's maps of sets, the trackers are one fixed-capacity table sized at
// construction, so tracking a flow never allocates. A set stops growing at the threshold (as the
// reference's does), so each (pair, side, port) key keeps its distinct peer ports of both
// generations inline in one 64-byte slot: a flow touches one cache line per side. What a full
// table cannot track is counted in untracked() and treated as not ephemeral.
class PortRollup {
 public:
  // Peer ports a slot holds per generation, and so the highest threshold.
  static constexpr uint32_t kMaxThreshold = 11;

  // `threshold` is clamped to kMaxThreshold (the configuration refuses more). `capacity` keys
  // are tracked at most (the table has twice as many slots).
  PortRollup(uint32_t threshold, uint32_t capacity);

  // A flow's two keys, hashed once: a caller walking a block computes them a few records
  // ahead, prefetches with them, and adds with them.
  struct Fingerprints {
    uint64_t src_key;  // (pair, source side, source port)
    uint64_t dst_key;  // (pair, destination side, destination port)
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
    // A key is never 0, which marks an empty slot; the bit that makes sure of it is one the
    // slot index (the low bits) does not use.
    constexpr uint64_t kNonZero = uint64_t{1} << 63;
    return Fingerprints{decode::mix64(pair ^ (uint64_t{src_port} << 1)) | kNonZero,
                        decode::mix64(pair ^ ((uint64_t{dst_port} << 1) | 1)) | kNonZero,
                        src_port, dst_port};
  }

  // Records the flow and tells which of its ports is ephemeral.
  EphemeralPort add(const Fingerprints& f) noexcept;
  EphemeralPort add(const decode::IpAddress& src, const decode::IpAddress& dst, uint16_t src_port,
                    uint16_t dst_port) noexcept {
    return add(fingerprints(src, dst, src_port, dst_port));
  }
  // Starts loading the slots add() will read for this flow, so that a caller walking a block
  // can issue them a few records ahead: the table is far larger than the caches.
  void prefetch(const Fingerprints& f) const noexcept {
    if (threshold_ == 0) return;
    const size_t mask = slots_.size() - 1;
    exporter::prefetch(&slots_[f.src_key & mask]);
    exporter::prefetch(&slots_[f.dst_key & mask]);
  }
  // Makes the newer generation current and starts an empty newer one (every rollup refresh
  // interval); keys seen in neither are removed, which frees their room.
  void rotate() noexcept;

  uint64_t untracked() const noexcept { return untracked_; }
  // Keys tracked now (in either generation).
  uint32_t tracked() const noexcept { return used_; }
  // What the table reserves.
  uint64_t memory_bytes() const noexcept { return slots_.reserved_bytes(); }
  // What a PortRollup(threshold, capacity) reserves, before making one.
  static uint64_t table_bytes(uint32_t threshold, uint32_t capacity) noexcept;
  uint32_t threshold() const noexcept { return threshold_; }

 private:
  // A (pair, side, port) key and the distinct peer ports seen with it in each generation, up
  // to the threshold.
  struct alignas(64) KeySlot {
    uint64_t key;  // 0 = empty
    uint16_t count[2];
    uint16_t peers[2][kMaxThreshold];
  };
  static_assert(sizeof(KeySlot) == 64);

  // The key's slot, or the empty slot where it would go.
  KeySlot& probe(uint64_t key) noexcept;
  // Adds `peer` to the set of each generation g of `slot` (which holds the key) that is
  // open[g].
  void insert(KeySlot& slot, const bool (&open)[2], uint16_t peer) const noexcept;
  // Takes the empty `slot` for `key`; false when the table holds capacity keys already.
  bool claim(KeySlot& slot, uint64_t key) noexcept;

  uint32_t threshold_;
  uint32_t capacity_;
  HugePageArray<KeySlot> slots_;  // open addressing, linear probing
  uint32_t used_ = 0;
  uint32_t current_ = 0;  // the generation queries read; the other is the newer one
  uint64_t untracked_ = 0;
};

}  // namespace flowgate::exporter
