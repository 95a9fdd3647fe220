#pragma once

#include <cstdint>
#include <vector>

#include "decode/ip_address.hpp"

namespace flowgate::decode {

// sFlow v5 generic interface counters (counter record format 1; sflow_version_5.txt
// "Generic Interface Counters - see RFC 2233"). Field names follow the IF-MIB objects.
struct GenericInterfaceCounters {
  uint32_t if_index = 0;
  uint32_t if_type = 0;
  uint64_t if_speed = 0;      // bits/s
  uint32_t if_direction = 0;  // 0 unknown, 1 full-duplex, 2 half-duplex, 3 in, 4 out
  uint32_t if_status = 0;     // bit 0 ifAdminStatus up, bit 1 ifOperStatus up
  uint64_t in_octets = 0;
  uint32_t in_ucast_pkts = 0;
  uint32_t in_multicast_pkts = 0;
  uint32_t in_broadcast_pkts = 0;
  uint32_t in_discards = 0;
  uint32_t in_errors = 0;
  uint32_t in_unknown_protos = 0;
  uint64_t out_octets = 0;
  uint32_t out_ucast_pkts = 0;
  uint32_t out_multicast_pkts = 0;
  uint32_t out_broadcast_pkts = 0;
  uint32_t out_discards = 0;
  uint32_t out_errors = 0;
  uint32_t promiscuous_mode = 0;
  friend bool operator==(const GenericInterfaceCounters&,
                         const GenericInterfaceCounters&) = default;
};

// sFlow v5 Ethernet interface counters (counter record format 2; RFC 2358 dot3StatsEntry).
struct EthernetInterfaceCounters {
  uint32_t alignment_errors = 0;
  uint32_t fcs_errors = 0;
  uint32_t single_collision_frames = 0;
  uint32_t multiple_collision_frames = 0;
  uint32_t sqe_test_errors = 0;
  uint32_t deferred_transmissions = 0;
  uint32_t late_collisions = 0;
  uint32_t excessive_collisions = 0;
  uint32_t internal_mac_transmit_errors = 0;
  uint32_t carrier_sense_errors = 0;
  uint32_t frame_too_longs = 0;
  uint32_t internal_mac_receive_errors = 0;
  uint32_t symbol_errors = 0;
  friend bool operator==(const EthernetInterfaceCounters&,
                         const EthernetInterfaceCounters&) = default;
};

// The latest counters one agent reported for one interface.
struct InterfaceCounters {
  IpAddress agent;
  uint32_t if_index = 0;
  uint32_t sub_agent = 0;        // of the latest counter sample
  uint32_t sample_sequence = 0;  // counter sample sequence number of the latest update
  uint64_t updated_ns = 0;       // receive time of the latest update
  bool has_generic = false;
  bool has_ethernet = false;
  GenericInterfaceCounters generic;
  EthernetInterfaceCounters ethernet;
};

// The latest sFlow counter-sample values per (agent address, ifIndex), for the metrics
// endpoint. One per shard, like the TemplateCache: owned and written by one worker, no locks
// (a reader on another core takes a copy through the worker's housekeeping). The table is
// sized at construction; an update never allocates, and a new interface that finds the table
// full is refused and counted.
class InterfaceCounterStore {
 public:
  static constexpr uint32_t kMaxCapacity = 1u << 24;

  explicit InterfaceCounterStore(uint32_t capacity = 4096);

  // The entry for (agent, if_index), added (zeroed, has_* false) when new; nullptr when the
  // table is full (counted in refused()).
  InterfaceCounters* upsert(const IpAddress& agent, uint32_t if_index) noexcept;
  const InterfaceCounters* find(const IpAddress& agent, uint32_t if_index) const noexcept;

  // Removes entries not updated since `cutoff_ns` (interfaces that stopped reporting);
  // returns how many.
  uint32_t expire(uint64_t cutoff_ns) noexcept;
  void clear() noexcept;

  uint32_t size() const noexcept { return size_; }
  uint32_t capacity() const noexcept { return static_cast<uint32_t>(entries_.size()); }
  uint64_t refused() const noexcept { return refused_; }

  // Calls fn(const InterfaceCounters&) for every entry, in no particular order.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (uint32_t i = 0; i < size_; ++i) fn(static_cast<const InterfaceCounters&>(entries_[i]));
  }

 private:
  static constexpr uint32_t kAbsent = UINT32_MAX;
  // The table index holding (agent, if_index), or kAbsent.
  uint32_t find_bucket(const IpAddress& agent, uint32_t if_index) const noexcept;
  void erase_bucket(uint32_t b) noexcept;
  uint32_t home(const InterfaceCounters& e) const noexcept;

  std::vector<InterfaceCounters> entries_;  // dense: [0, size_) are live
  std::vector<uint32_t> table_;             // open addressing: entry index + 1, 0 empty
  uint32_t size_ = 0;
  uint64_t refused_ = 0;
};

}  // namespace flowgate::decode
