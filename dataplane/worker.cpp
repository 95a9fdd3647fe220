#include "dataplane/worker.hpp"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>

namespace flowgate::dataplane {
namespace {

uint64_t wall_ms() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1'000'000;
}

ShardConfig shard_config(const WorkerConfig& c) {
  ShardConfig s;
  s.index = c.index;
  s.listener_types = c.listener_types;
  s.blocks = c.blocks;
  s.block_max_age_ms = c.block_max_age_ms;
  s.template_limits = c.template_limits;
  return s;
}

}  // namespace

uint64_t Worker::next_coalesce_ns(uint64_t wait_ns, uint64_t gathered,
                                  uint64_t max_ns) noexcept {
  const uint64_t scaled = gathered == 0 ? wait_ns * 2 : wait_ns * kCoalesceDatagrams / gathered;
  const uint64_t stepped = std::clamp(scaled, wait_ns / 2, wait_ns * 2);
  return std::clamp(stepped, std::min(kMinCoalesceNs, max_ns), max_ns);
}

Worker::Worker(WorkerConfig config)
    : config_(std::move(config)),
      source_(config_.burst, config_.receive_buffer_bytes),
      shard_(shard_config(config_)) {}

Worker::~Worker() { join(); }

bool Worker::open(std::string& error) {
  if (!source_.open(config_.listeners, error)) return false;
  const uint64_t absorbed_ns = uint64_t{source_.buffer_datagrams()} * 1'000'000'000 / kCoalesceRate;
  coalesce_ns_ = std::min(config_.receive_coalesce_ns, absorbed_ns);
  return true;
}

void Worker::start() {
  thread_ = std::thread([this] { run(); });
  if (config_.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(config_.cpu, &set);
    pthread_setaffinity_np(thread_.native_handle(), sizeof set, &set);
  }
  const std::string name = "fg-worker-" + std::to_string(config_.index);
  pthread_setname_np(thread_.native_handle(), name.substr(0, 15).c_str());
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::housekeeping(uint64_t now_ms) noexcept {
  shard_.counters().kernel_drops = source_.kernel_drops();
  shard_.counters().receive_errors = source_.receive_errors();
  shard_.counters().receive_calls = source_.receive_calls();
  shard_.housekeeping(now_ms);
}

void Worker::run() noexcept {
  auto on_udp = [this](const UdpDatagram& d, uint16_t listener) { shard_.decode(d, listener); };
  // Housekeeping runs every 64 polls and at least every poll timeout, as l3fwd reads the clock
  // only every N iterations. The timeout is short while a block holds records (it is handed
  // off by age in housekeeping) and longer when there is nothing to hand off: an idle worker
  // wakes 10 times a second, not 50 (a wake-up costs a VM ~30-40 us of CPU). It is also how
  // late an idle worker sees a stop request and publishes its last counters.
  constexpr int kPollTimeoutMs = 20;
  constexpr int kIdlePollTimeoutMs = 100;
  uint64_t wait_ns = coalesce_ns_;
  uint64_t gathered = 0;  // datagrams read since the last coalescing wait ended
  // The last poll read a full burst from a socket, which may hold more: the next poll only
  // looks. Finding nothing then means the sockets are empty, as a burst that was not full
  // does: a sender that sends in batches of the burst size (32) would otherwise be read a
  // batch per wake-up in epoll_wait, and never waited for.
  bool more = false;
  for (uint64_t iter = 0; !stop_.load(std::memory_order_relaxed); ++iter) {
    if (!shard_.has_room()) {
      // The exporter thread is behind: leave the datagrams in the kernel's receive buffer,
      // which absorbs the burst (and counts its drops if it overflows), rather than decode
      // records only to drop them for want of a block.
      ++shard_.counters().rx_paused;
      housekeeping(wall_ms());
      const timespec pause{0, 100'000};
      nanosleep(&pause, nullptr);
      continue;
    }
    // One burst per socket per pass: has_room() guarantees blocks for about that much.
    const int timeout_ms =
        more ? 0 : (shard_.holds_records() ? kPollTimeoutMs : kIdlePollTimeoutMs);
    const uint32_t n = source_.poll(timeout_ms, on_udp, 1);
    if (n == 0 || (iter & 63) == 0) housekeeping(wall_ms());
    gathered += n;
    const bool emptied = n > 0 ? source_.drained() : more;
    more = n > 0 && !source_.drained();
    if (emptied && gathered > 0 && coalesce_ns_ > 0) {
      // The sockets are empty: let datagrams gather in the receive buffer, then read them in
      // full bursts, instead of waking for every few (each wake-up and recvmmsg call costs
      // about as much as copying a dozen datagrams, and a core that went idle comes back to
      // cold caches). The wait follows the rate, so the buffer holds about as much at any.
      wait_ns = next_coalesce_ns(wait_ns, gathered, coalesce_ns_);
      gathered = 0;
      ++shard_.counters().coalesce_waits;
      const timespec pause{0, static_cast<long>(wait_ns)};
      nanosleep(&pause, nullptr);
    }
  }
  // Stop: what the kernel already holds for us is received and decoded, nothing is left behind.
  // Bounded: what the kernel held at the stop, waiting (at most 10 s) for blocks to come back.
  for (int waits = 0; waits < 100'000;) {
    if (!shard_.has_room()) {
      shard_.housekeeping(wall_ms());
      const timespec pause{0, 100'000};
      nanosleep(&pause, nullptr);
      ++waits;
      continue;
    }
    if (source_.poll(0, on_udp, 1) == 0) break;
  }
  shard_.counters().kernel_drops = source_.kernel_drops();
  shard_.finish();
}

}  // namespace flowgate::dataplane
