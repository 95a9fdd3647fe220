#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/socket_source.hpp"
#include "dataplane/spsc_ring.hpp"
#include "dataplane/worker_counters.hpp"
#include "decode/decode_counters.hpp"
#include "decode/exporter_stats.hpp"
#include "decode/flow_block.hpp"
#include "decode/flow_output.hpp"
#include "decode/flow_type.hpp"
#include "decode/interface_counter_store.hpp"
#include "decode/shard_snapshot.hpp"
#include "decode/template_cache.hpp"

namespace flowgate::dataplane {

struct WorkerConfig {
  uint32_t index = 0;
  int cpu = -1;                       // pin to this CPU; -1 leaves it to the scheduler
  std::vector<SocketListener> listeners;
  std::vector<decode::FlowType> listener_types;  // by listener index; kUnknown = auto-detect
  uint32_t blocks = 128;              // FlowBlocks in this worker's pool
  uint32_t burst = 32;                // datagrams per recvmmsg
  int receive_buffer_bytes = 32 << 20;
  uint64_t block_max_age_ms = 100;    // a partly filled block is handed off after this long
  decode::TemplateCacheLimits template_limits;
};

// One worker thread: receives from its sockets, decodes with its own template cache (the shard
// owns its exporters: no locks), fills FlowBlocks from its pool and hands full ones to the
// exporter thread through an SPSC ring; the exporter returns them through a second ring. A full
// ring drops the block and counts it; the worker never blocks on the exporter.
class Worker {
 public:
  explicit Worker(WorkerConfig config);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  bool open(std::string& error);
  void start();
  // Asks the thread to stop: it drains its sockets, hands off its last block and exits.
  void request_stop() noexcept { stop_.store(true, std::memory_order_relaxed); }
  void join();
  bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }

  // Exporter side of the rings.
  SpscRing<decode::FlowBlock*>& full_blocks() noexcept { return full_; }
  SpscRing<decode::FlowBlock*>& free_blocks() noexcept { return free_; }

  // Counter snapshots published by the worker every housekeeping pass (relaxed atomics: a
  // reader on another core sums them without stopping the worker).
  decode::DecodeCounters decode_counters() const noexcept;
  WorkerCounters worker_counters() const noexcept;
  uint16_t bound_port(size_t socket_index) const noexcept { return source_.bound_port(socket_index); }
  // Per-exporter figures, copied by the worker about once a second (worker_snapshot.cpp).
  decode::ShardSnapshot shard_snapshot() const;

 private:
  static decode::FlowBlock* refill(void* ctx, decode::FlowBlock* full) noexcept;
  void run() noexcept;
  void hand_off(decode::FlowBlock* block) noexcept;
  void housekeeping(uint64_t now_ms) noexcept;
  void publish() noexcept;
  void publish_snapshot(uint64_t now_ms, bool force) noexcept;

  WorkerConfig config_;
  SocketSource source_;
  std::unique_ptr<decode::TemplateCache> templates_;
  decode::InterfaceCounterStore interface_counters_;
  std::vector<std::unique_ptr<decode::FlowBlock>> pool_;
  SpscRing<decode::FlowBlock*> full_;
  SpscRing<decode::FlowBlock*> free_;
  decode::FlowOutput out_;
  uint64_t block_started_ms_ = 0;
  decode::DecodeCounters decode_;
  WorkerCounters counters_;
  decode::ExporterStats exporter_stats_;
  mutable std::mutex snapshot_mutex_;  // taken in housekeeping and by the reader, never per packet
  decode::ShardSnapshot snapshot_;
  uint64_t next_snapshot_ms_ = 0;

  static constexpr size_t kDecodeSlots =
      static_cast<size_t>(decode::DecodeStatus::kCount) + 64;
  std::vector<std::atomic<uint64_t>> published_decode_;
  std::vector<std::atomic<uint64_t>> published_worker_;

  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

}  // namespace flowgate::dataplane
