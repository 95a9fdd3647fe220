#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "decode/flow_block.hpp"
#include "decode/flow_output.hpp"
#include "export/huge_page_array.hpp"
#include "export/port_rollup.hpp"

namespace flowgate::exporter {

struct AggregatorConfig {
  uint64_t flush_interval_ms = 300'000;
  uint32_t port_rollup_threshold = 10;   // 0 turns roll-up off
  uint64_t rollup_refresh_ms = 300'000;
  uint32_t max_keys = 200'000;
  uint32_t rollup_capacity = 1u << 18;   // tracked (pair, side, port) keys
  // Namespace of each listener index (records carry their listener): flows of one exporter
  // that reach two listeners of one [[inputs.netflow]] block aggregate together.
  std::vector<uint16_t> listener_namespace;
  // Flows of settled keys skip the roll-up (add() says when; the result is the same). Off, every
  // flow consults it: the tests and the fuzz target compare the two.
  bool settle = true;
};

// Aggregation with the reference's semantics (Datadog's flow accumulator, which Datakit's NetFlow
// input runs): flows with the same (namespace, exporter, source and destination address and
// port, protocol, ToS, input interface) are merged — bytes and packets add, start is the
// minimum, end the maximum, TCP flags are ORed — and every other field keeps the first flow's
// value. A key is written out flush_interval after it was first seen. Port roll-up replaces an
// ephemeral port with "*" before the key is formed, so those flows merge.
//
// One aggregator per exporter thread, fed by a fixed set of workers: no shared state. Storage is
// sized at construction (max_keys records in first-seen order, which is also flush order, and a
// hash index over them), so adding a flow never allocates. The index uses as much of its storage
// as the live keys need (at most half full; rebuilt in place twice as large when more keys come,
// smaller when most are flushed): a merge's random line in it is drawn from a region sized to
// the traffic, not to the bound, which after a pause is what a cold line costs. When max_keys
// records are live, the oldest is flushed early (counted) to make room.
class Aggregator {
 public:
  explicit Aggregator(AggregatorConfig config);

  // Adds every row of `block`, seen at `now_ms`. Records flushed early go to `out`.
  void add(const decode::FlowBlock& block, uint64_t now_ms, decode::FlowOutput& out) noexcept;
  // Writes every record due at `now_ms` to `out` and rotates the roll-up trackers when due.
  void flush_due(uint64_t now_ms, decode::FlowOutput& out) noexcept;
  // Writes every live record (shutdown, end of a capture).
  void flush_all(decode::FlowOutput& out) noexcept;

  uint32_t live() const noexcept { return live_; }
  uint64_t merged() const noexcept { return merged_; }
  // Flows that were settled and so did not consult the port roll-up (add() says when).
  uint64_t settled() const noexcept { return settled_; }
  uint64_t flushed() const noexcept { return flushed_; }
  uint64_t flushed_early() const noexcept { return flushed_early_; }
  uint64_t dropped() const noexcept { return dropped_; }  // no output block when flushing
  uint64_t rollup_untracked() const noexcept { return rollup_.untracked(); }
  uint32_t max_keys() const noexcept { return config_.max_keys; }
  // Buckets of the index in use now (a power of two, from kMinIndexBuckets up to what max_keys
  // reserves).
  uint64_t index_buckets() const noexcept { return index_mask_ + 1; }
  static constexpr size_t kMinIndexBuckets = 8;
  // What the tables of an Aggregator(config) reserve (records, index, roll-up trackers),
  // before making one: they are faulted in at construction.
  static uint64_t table_bytes(const AggregatorConfig& config) noexcept;
  // What the aggregation tables and the roll-up trackers reserve, from their sizes (fixed at
  // construction by max_keys and rollup_capacity).
  uint64_t memory_bytes() const noexcept {
    return sizeof(*this) + entries_.reserved_bytes() + tails_.reserved_bytes() +
           index_.reserved_bytes() +
           fingerprints_.capacity() * sizeof(PortRollup::Fingerprints) +
           keys_.capacity() * sizeof(KeyHead) +
           (hashes_.capacity() + found_.capacity()) * sizeof(uint32_t) +
           stamps_.capacity() * sizeof(uint16_t) + rollup_.memory_bytes();
  }

 private:
  // The part of a key that tells IPv4 flows apart: the last four bytes of each address (all of
  // an IPv4 address, which is stored v4-mapped), the other key fields, and `wide`, set when any
  // of the three addresses is not v4-mapped. Only for wide keys do the addresses' first twelve
  // bytes (Entry::upper) take part in the comparison; for the others they are the v4-mapped
  // prefix. So a merge of an IPv4 flow reads and writes one cache line of its record.
  struct KeyHead {
    // `wide` of a record no longer live (flushed): no key's head equals it.
    static constexpr uint8_t kFreed = 2;
    uint32_t exporter_low, src_low, dst_low, in_if;
    uint16_t src_port, dst_port, ns;
    uint8_t protocol, tos, rollup, wide;
    uint8_t pad[2];
  };
  // A record in two parts, in two arrays indexed alike: its first line, what a merge reads and
  // writes, and the rest of a wide key with what only a flush reads. The lines merges touch lie
  // together (64 bytes a key, not 192): after a pause between blocks, when the caches and the
  // TLB have forgotten the tables, the cost of a random line grows with the region it is drawn
  // from.
  struct alignas(64) Entry {
    KeyHead head;
    uint8_t tcp_flags;
    uint8_t unused;
    // stamp_ when this key's last flow that consulted the roll-up was settled (its tuple held by
    // a pair below the threshold, PortRollup::Verdict), else 0.
    uint16_t settled_stamp;
    uint64_t bytes, packets, start_ms, end_ms;
  };
  static_assert(sizeof(Entry) == 64 && offsetof(Entry, end_ms) == 56, "one cache line");
  struct alignas(64) EntryTail {
    std::array<uint8_t, 12> upper[3];  // the first twelve bytes of exporter, source, destination
    uint32_t hash;                     // of the key, so a flush finds its bucket without hashing
    uint64_t first_seen_ms;
    // The first flow's values.
    uint32_t out_if, sampling_rate, observation_domain, sequence;
    // Second line.
    uint64_t src_mac, dst_mac;
    decode::IpAddress next_hop;
    uint32_t src_as, dst_as;
    uint16_t exporter_port, ether_type, vlan, listener;
    uint8_t src_mask, dst_mask;
    decode::Direction direction;
    decode::FlowType flow_type;
  };
  static_assert(sizeof(EntryTail) == 128 && offsetof(EntryTail, src_mac) == 64,
                "two cache lines, a wide key's upper bytes in the first");

  // An index bucket: the record's slot + 1 (0 = empty) and its key's hash, which picks the home
  // bucket and filters probes before the key comparison. 8 bytes, so one probe is one line.
  struct Bucket {
    uint32_t slot_plus_1;
    uint32_t hash;
  };

  // Writes the key head of row r, whose `side` port is rolled up and whose listener is in
  // namespace `ns`, to `head` and returns the hash of the whole key (stages A and E of add()).
  [[gnu::always_inline]] static uint32_t make_key(const decode::FlowBlock& b, uint32_t r,
                                                  EphemeralPort side, uint64_t ns,
                                                  KeyHead& head) noexcept;
  // add() with the roll-up on or off.
  template <bool kRollup>
  void add_rows(const decode::FlowBlock& b, uint64_t now_ms, decode::FlowOutput& out) noexcept;
  // Whether the record holds row r's key, whose head is `head`.
  [[gnu::always_inline]] static bool holds(const Entry& e, const EntryTail& t,
                                           const KeyHead& head, const decode::FlowBlock& b,
                                           uint32_t r) noexcept;
  // Stores row r, whose key is `k` hashed to `h` and not in the table, in a new record (with
  // `settled_stamp`) that `bucket` (the empty one ending the key's probe) points at, flushing
  // the oldest record to `out` first when the table is full.
  void insert(const decode::FlowBlock& b, uint32_t r, const KeyHead& k, uint32_t h,
              uint16_t settled_stamp, uint64_t now_ms, size_t bucket,
              decode::FlowOutput& out) noexcept;
  // The ring slot of position p (< 2 * max_keys) counted from slot 0: no division.
  uint32_t ring_slot(uint32_t p) const noexcept {
    return p >= config_.max_keys ? p - config_.max_keys : p;
  }
  // How many inserts ahead insert() fetches the ring's lines.
  static constexpr uint32_t kInsertsAhead = 4;
  void emit_oldest(decode::FlowOutput& out) noexcept;
  void erase_index(uint32_t bucket) noexcept;
  // Uses the first `buckets` of the index, every live record entered again.
  void resize_index(size_t buckets) noexcept;
  // Doubles the index in place, in one pass over its buckets (grow_index in the .cpp says why
  // that is sound): the writes go to two sequential streams, where entering every record again
  // in ring order wrote to a random bucket each.
  void grow_index() noexcept;
  // The mask and the growth threshold for `buckets` in use.
  void set_index_size(size_t buckets) noexcept;

  AggregatorConfig config_;
  PortRollup rollup_;
  uint64_t next_rotation_ms_ = 0;

  HugePageArray<Entry> entries_;  // ring in first-seen order
  HugePageArray<EntryTail> tails_;  // the same ring's other parts
  uint32_t head_ = 0;             // oldest
  uint32_t live_ = 0;
  HugePageArray<Bucket> index_;   // open addressing, linear probing
  size_t index_mask_ = 0;         // buckets in use - 1
  uint32_t index_grow_at_ = 0;    // live keys above which the index doubles

  // add()'s per-row scratch for one block, sized at construction.
  std::vector<PortRollup::Fingerprints> fingerprints_;
  std::vector<KeyHead> keys_;
  std::vector<uint32_t> hashes_;
  std::vector<uint32_t> found_;  // the slot + 1 of the record stage B found (0: none)
  // The settled_stamp a row leaves on its record; until stage E, 0 for a row that consults the
  // roll-up there.
  std::vector<uint16_t> stamps_;
  // Rows that will consult the roll-up and have not yet, counted by a few bits of their pair's
  // fingerprint: a row is settled only when none of them may be of its pair.
  std::array<uint8_t, 4096> pending_{};
  // The roll-up generation's stamp, never 0: changes when the trackers rotate.
  uint16_t stamp_ = 1;

  uint64_t merged_ = 0;
  uint64_t settled_ = 0;
  uint64_t flushed_ = 0;
  uint64_t flushed_early_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace flowgate::exporter
