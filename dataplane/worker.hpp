#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/socket_source.hpp"
#include "dataplane/decode_shard.hpp"
#include "decode/flow_type.hpp"
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
  // After a poll that emptied the sockets, wait at most this long before reading again (and at
  // most what the receive buffer holds at kCoalesceRate datagrams a second): as long as about
  // kCoalesceDatagrams take to arrive at the rate last seen (next_coalesce_ns); 0 does not wait.
  uint64_t receive_coalesce_ns = 8'000'000;
  decode::TemplateCacheLimits template_limits;
};

// A socket-mode worker thread: receives from its own SO_REUSEPORT sockets and decodes into its
// DecodeShard, which carries full FlowBlocks to the exporter thread.
class Worker {
 public:
  explicit Worker(WorkerConfig config);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // The datagram rate the receive buffer must absorb during a coalescing wait: far more than
  // one worker decodes.
  static constexpr uint64_t kCoalesceRate = 500'000;
  // What a wait aims to gather: eight full recvmmsg bursts of 32.
  static constexpr uint64_t kCoalesceDatagrams = 256;
  // The shortest wait: below it a sleep saves no wake-up (timer slack is 50 us).
  static constexpr uint64_t kMinCoalesceNs = 50'000;

  // The wait after a poll that emptied the sockets, from the last wait and the datagrams read
  // since it ended: `wait_ns` scaled to gather kCoalesceDatagrams at that rate, moving by at
  // most a factor of two a step, within [kMinCoalesceNs, max_ns]. A trickle waits max_ns; at
  // 100,000 datagrams/s a wait is ~2.5 ms, at 200,000 ~1.3 ms, so what gathers in the receive
  // buffer stays a few hundred datagrams whatever the rate.
  static uint64_t next_coalesce_ns(uint64_t wait_ns, uint64_t gathered, uint64_t max_ns) noexcept;

  bool open(std::string& error);
  // The longest wait after a poll that emptied the sockets, as open() set it from
  // receive_coalesce_ns and the receive buffers the kernel granted.
  uint64_t receive_coalesce_ns() const noexcept { return coalesce_ns_; }
  void start();
  // Asks the thread to stop: it drains its sockets, hands off its last block and exits.
  void request_stop() noexcept { stop_.store(true, std::memory_order_relaxed); }
  void join();
  bool finished() const noexcept { return shard_.finished(); }

  DecodeShard& shard() noexcept { return shard_; }
  const DecodeShard& shard() const noexcept { return shard_; }
  SpscRing<decode::FlowBlock*>& full_blocks() noexcept { return shard_.full_blocks(); }
  SpscRing<decode::FlowBlock*>& free_blocks() noexcept { return shard_.free_blocks(); }
  decode::DecodeCounters decode_counters() const noexcept { return shard_.decode_counters(); }
  WorkerCounters worker_counters() const noexcept { return shard_.worker_counters(); }
  uint16_t bound_port(size_t socket_index) const noexcept { return source_.bound_port(socket_index); }
  decode::ShardSnapshot shard_snapshot() const { return shard_.snapshot(); }

 private:
  void run() noexcept;
  void housekeeping(uint64_t now_ms) noexcept;

  WorkerConfig config_;
  SocketSource source_;
  DecodeShard shard_;
  uint64_t coalesce_ns_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace flowgate::dataplane
