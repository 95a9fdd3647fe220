#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "dataplane/doorbell.hpp"
#include "dataplane/packet_counters.hpp"
#include "dataplane/reassembly_counters.hpp"
#include "dataplane/spsc_ring.hpp"
#include "dataplane/udp_datagram.hpp"
#include "dataplane/worker_counters.hpp"
#include "decode/decode_counters.hpp"
#include "decode/exporter_stats.hpp"
#include "decode/flow_block.hpp"
#include "decode/flow_output.hpp"
#include "decode/flow_type.hpp"
#include "decode/interface_counter_store.hpp"
#include "decode/shard_snapshot.hpp"
#include "decode/template_cache.hpp"
#include "decode/template_state.hpp"

namespace flowgate::dataplane {

struct ShardConfig {
  uint32_t index = 0;
  std::vector<decode::FlowType> listener_types;  // by listener index; kUnknown = auto-detect
  uint32_t blocks = 128;              // FlowBlocks in this shard's pool
  uint64_t block_max_age_ms = 100;    // a partly filled block is handed off after this long
  decode::TemplateCacheLimits template_limits;
};

// What every worker owns whatever its packet source (sockets, DPDK queues, AF_PACKET rings):
// its own template cache (a shard owns its exporters, so there are no locks), a pool of
// FlowBlocks it fills, and the SPSC rings that carry full blocks to the exporter thread and
// bring them back. A full ring drops the block and counts it; a shard never blocks on the
// exporter. Counters are written only by the owning thread and published in housekeeping
// as relaxed atomics, so another core sums them without stopping the worker.
class DecodeShard {
 public:
  explicit DecodeShard(ShardConfig config);
  DecodeShard(const DecodeShard&) = delete;
  DecodeShard& operator=(const DecodeShard&) = delete;

  // Decodes one datagram matched to `listener` into the current block.
  void decode(const UdpDatagram& d, uint16_t listener) noexcept;

  // Periodic work (every N polls, never per packet): hands off a block older than its age
  // limit, expires pending data, publishes counters.
  void housekeeping(uint64_t now_ms) noexcept;

  // Stop: hands off the last block, waiting (bounded) for room rather than dropping it, and
  // publishes the final counters. Call once, from the owning thread.
  void finish() noexcept;
  bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }

  // Whether the pool has blocks to spare for another burst. A source that owns its intake (a
  // NIC queue, a ring) stops reading while this is false, so that a slow exporter makes the
  // input back up where it is counted (the NIC's imissed) rather than records being decoded
  // only to be dropped for want of a block.
  bool has_room() const noexcept { return free_.size() + spare_.size() >= kSpareBlocks; }
  // A burst of 32-64 datagrams of ~30 records each fits in the current block and these.
  static constexpr size_t kSpareBlocks = 4;

  // Owner-thread counters the source fills in (socket drops, frames parsed, ...).
  WorkerCounters& counters() noexcept { return counters_; }
  PacketCounters& packet_counters() noexcept { return packets_; }
  // A frame source's parser and reassembly counters, published with the shard's (housekeeping).
  void take_frame_counters(const PacketCounters& packets,
                           const ReassemblyCounters& reassembly) noexcept {
    packets_ = packets;
    reassembly_ = reassembly;
    counters_.reassembly_failures = reassembly.failures();
  }

  // Exporter side of the rings.
  // The exporter's doorbell (nullptr: none), rung when a hand-off leaves at least `wake_at`
  // blocks in the full ring; fewer wait for the exporter's own timeout. Any thread, any time
  // (the worker may be running): until it is set, the exporter finds the blocks when its wait
  // times out.
  void set_doorbell(Doorbell* doorbell, size_t wake_at) noexcept {
    wake_at_.store(wake_at, std::memory_order_relaxed);
    doorbell_.store(doorbell, std::memory_order_release);
  }
  // Whether the current block holds records not yet handed off (owner thread).
  bool holds_records() const noexcept {
    const decode::FlowBlock* b = out_.block();
    return b != nullptr && b->size > 0;
  }
  SpscRing<decode::FlowBlock*>& full_blocks() noexcept { return full_; }
  SpscRing<decode::FlowBlock*>& free_blocks() noexcept { return free_; }

  // Snapshots of what was last published.
  decode::DecodeCounters decode_counters() const noexcept;
  WorkerCounters worker_counters() const noexcept;
  PacketCounters published_packet_counters() const noexcept;
  ReassemblyCounters published_reassembly_counters() const noexcept;

  // Per-exporter figures (streams, templates, sFlow interfaces), copied by the owning thread
  // about once a second in housekeeping.
  decode::ShardSnapshot snapshot() const;

  uint32_t index() const noexcept { return config_.index; }

  // Template persistence ([collector] template_state). Both are called before the owning
  // thread starts (the thread's start orders them before its first read).
  // Templates not re-sent for `template_ttl_ms` expire (0: never); with `save_interval_ms`
  // the owning thread copies its templates and sampling options into the state buffer that
  // often in housekeeping, and once more in finish().
  void set_template_state(uint64_t template_ttl_ms, uint64_t save_interval_ms) noexcept;
  // Replaces the (empty) template cache with one of these caps; before the thread starts.
  void set_template_limits(const decode::TemplateCacheLimits& limits);
  // Loads a checked state body (decode::parse_template_state) into this shard's cache.
  void load_template_state(std::span<const uint8_t> body, uint64_t now_ns, uint64_t max_age_ns,
                           decode::StateLoadFigures& figures);
  // The records last copied by the owning thread (empty before the first copy), and how many
  // copies there have been. Any thread.
  std::vector<uint8_t> template_state(uint64_t* copies = nullptr) const;
  // Bytes the template cache's tables take (fixed at construction by its limits).
  uint64_t template_cache_bytes() const noexcept { return templates_->memory_bytes(); }

 private:
  static decode::FlowBlock* refill(void* ctx, decode::FlowBlock* full) noexcept;
  void hand_off(decode::FlowBlock* block) noexcept;
  void publish() noexcept;
  void publish_snapshot(uint64_t now_ms, bool force) noexcept;
  void publish_template_state() noexcept;

  ShardConfig config_;
  std::unique_ptr<decode::TemplateCache> templates_;
  decode::InterfaceCounterStore interface_counters_;
  std::vector<std::unique_ptr<decode::FlowBlock>> pool_;
  SpscRing<decode::FlowBlock*> full_;
  SpscRing<decode::FlowBlock*> free_;
  // Free blocks the owner thread has taken off free_, the most recently freed last: the next
  // block is the one the exporter thread let go of last, whose lines are still in a cache,
  // rather than the one idle longest in a FIFO through the whole pool (which the caches have
  // long dropped, so every store of a decoded row would miss).
  std::vector<decode::FlowBlock*> spare_;
  decode::FlowOutput out_;
  uint64_t block_started_ms_ = 0;
  decode::DecodeCounters decode_;
  WorkerCounters counters_;
  PacketCounters packets_;
  ReassemblyCounters reassembly_;

  std::vector<std::atomic<uint64_t>> published_decode_;
  std::vector<std::atomic<uint64_t>> published_worker_;
  std::vector<std::atomic<uint64_t>> published_packets_;
  std::vector<std::atomic<uint64_t>> published_reassembly_;
  std::atomic<bool> finished_{false};
  std::atomic<Doorbell*> doorbell_{nullptr};
  std::atomic<size_t> wake_at_{1};

  decode::ExporterStats exporter_stats_;
  mutable std::mutex snapshot_mutex_;  // taken in housekeeping and by the reader, never per packet
  decode::ShardSnapshot snapshot_;
  uint64_t next_snapshot_ms_ = 0;

  // The template state copy: written by the owning thread about every state_interval_ms_ into
  // a buffer that keeps its capacity (the scratch), then swapped in under the mutex, so the
  // reader never waits for serialisation and the worker never waits for a file write.
  uint64_t state_interval_ms_ = 0;
  uint64_t next_state_ms_ = 0;
  uint64_t next_expiry_ms_ = 0;
  std::vector<uint8_t> state_scratch_;
  mutable std::mutex state_mutex_;  // taken by the owner per copy and by the reader, never per packet
  std::vector<uint8_t> state_;
  uint64_t state_copies_ = 0;
};

}  // namespace flowgate::dataplane
