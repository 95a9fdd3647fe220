#pragma once

#include <cstdint>
#include <vector>

#include "decode/ip_address.hpp"

namespace flowgate::exporter {

enum class EphemeralPort : uint8_t { kNone, kSource, kDestination };

// Port roll-up as Datadog's portrollup (which Datakit's NetFlow input uses) does it: for each
// (source address, destination address) pair, count the distinct destination ports seen with
// each source port and the distinct source ports seen with each destination port. Once a side
// reaches the threshold, the other side's port is ephemeral; the side with more peers wins, and
// both never roll up. Two generations of trackers: every flow is written to both, queries read
// the current one, and rotate() makes the newer one current, forgetting what was not seen since.
//
// Unlike the reference's maps of sets, the trackers are fixed-capacity tables of 64-bit
// fingerprints sized at construction, so tracking a flow never allocates. What a full table
// cannot track is counted in untracked() and treated as not ephemeral.
class PortRollup {
 public:
  PortRollup(uint32_t threshold, uint32_t capacity);

  // Records the flow and tells which of its ports is ephemeral.
  EphemeralPort add(const decode::IpAddress& src, const decode::IpAddress& dst, uint16_t src_port,
                    uint16_t dst_port) noexcept;
  // Starts loading the table slots add() will read for this flow, so that a caller walking a
  // block can issue them a few records ahead: the tables are far larger than the caches and
  // each add() otherwise waits on about ten misses in a row.
  void prefetch(const decode::IpAddress& src, const decode::IpAddress& dst, uint16_t src_port,
                uint16_t dst_port) const noexcept;
  // Makes the newer tracker current (every rollup refresh interval).
  void rotate() noexcept;

  uint64_t untracked() const noexcept { return untracked_; }
  uint32_t threshold() const noexcept { return threshold_; }

 private:
  // Distinct (pair, side, port, peer port) fingerprints, and per (pair, side, port) counts.
  struct Store {
    std::vector<uint64_t> seen;    // open addressing; 0 = empty
    std::vector<uint64_t> keys;    // open addressing; 0 = empty
    std::vector<uint32_t> counts;  // parallel to keys
    uint32_t seen_used = 0;
    uint32_t keys_used = 0;
    void reset() noexcept;
  };

  // Adds `peer` to the set of `key`; returns the set's size afterwards. Stops growing a set at
  // the threshold, as the reference does.
  uint32_t insert(Store& s, uint64_t key, uint64_t member) noexcept;
  uint32_t count(const Store& s, uint64_t key) const noexcept;

  uint32_t threshold_;
  uint32_t capacity_;
  Store stores_[2];
  uint32_t current_ = 0;
  uint64_t untracked_ = 0;
};

}  // namespace flowgate::exporter
