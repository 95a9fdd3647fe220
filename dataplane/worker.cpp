#include "dataplane/worker.hpp"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "decode/datagram_decoder.hpp"

namespace flowgate::dataplane {
namespace {

uint64_t wall_ms() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1'000'000;
}

constexpr size_t kErrorSlots = static_cast<size_t>(decode::DecodeStatus::kCount);

// DecodeCounters flattened for publication: the error array, then the events in X-macro order.
template <typename Fn>
void for_each_decode_slot(decode::DecodeCounters& c, Fn&& fn) {
  for (size_t i = 0; i < kErrorSlots; ++i) fn(c.errors[i]);
#define FLOWGATE_X(m, h) fn(c.m);
  FLOWGATE_DECODE_EVENTS(FLOWGATE_X)
#undef FLOWGATE_X
}

template <typename Fn>
void for_each_worker_slot(WorkerCounters& c, Fn&& fn) {
#define FLOWGATE_X(m, h) fn(c.m);
  FLOWGATE_WORKER_COUNTERS(FLOWGATE_X)
#undef FLOWGATE_X
}

size_t decode_slot_count() {
  decode::DecodeCounters c;
  size_t n = 0;
  for_each_decode_slot(c, [&](uint64_t&) { ++n; });
  return n;
}

size_t worker_slot_count() {
  WorkerCounters c;
  size_t n = 0;
  for_each_worker_slot(c, [&](uint64_t&) { ++n; });
  return n;
}

}  // namespace

Worker::Worker(WorkerConfig config)
    : config_(std::move(config)),
      source_(config_.burst, config_.receive_buffer_bytes),
      templates_(std::make_unique<decode::TemplateCache>(config_.template_limits)),
      full_(config_.blocks),
      free_(config_.blocks),
      out_(nullptr, &Worker::refill, this),
      published_decode_(decode_slot_count()),
      published_worker_(worker_slot_count()) {
  pool_.reserve(config_.blocks);
  for (uint32_t i = 0; i < config_.blocks; ++i) {
    pool_.push_back(std::make_unique<decode::FlowBlock>());
    free_.try_push(pool_.back().get());
  }
}

Worker::~Worker() { join(); }

bool Worker::open(std::string& error) { return source_.open(config_.listeners, error); }

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

void Worker::hand_off(decode::FlowBlock* block) noexcept {
  if (block == nullptr || block->size == 0) return;
  if (full_.try_push(block)) {
    ++counters_.blocks_sent;
    return;
  }
  // The exporter thread is behind: drop the block (counted) and keep it for reuse.
  ++counters_.ring_full;
  counters_.ring_full_records += block->size;
  block->clear();
  free_.try_push(block);
}

decode::FlowBlock* Worker::refill(void* ctx, decode::FlowBlock* full) noexcept {
  auto* self = static_cast<Worker*>(ctx);
  self->hand_off(full);
  decode::FlowBlock* next = nullptr;
  if (!self->free_.try_pop(next)) return nullptr;  // pool exhausted: records counted as lost
  next->clear();
  self->block_started_ms_ = 0;
  return next;
}

void Worker::housekeeping(uint64_t now_ms) noexcept {
  decode::FlowBlock* b = out_.block();
  if (b != nullptr && b->size > 0) {
    if (block_started_ms_ == 0) {
      block_started_ms_ = now_ms;
    } else if (now_ms - block_started_ms_ >= config_.block_max_age_ms) {
      // A quiet link still delivers: hand off what there is.
      decode::FlowBlock* next = refill(this, b);
      out_ = decode::FlowOutput(next, &Worker::refill, this);
    }
  }
  decode_.pending_dropped += templates_->expire_pending(now_ms * 1'000'000);
  counters_.kernel_drops = source_.kernel_drops();
  counters_.receive_errors = source_.receive_errors();
  publish();
  publish_snapshot(now_ms, false);
}

void Worker::publish() noexcept {
  size_t i = 0;
  for_each_decode_slot(decode_, [&](uint64_t& v) {
    published_decode_[i++].store(v, std::memory_order_relaxed);
  });
  i = 0;
  for_each_worker_slot(counters_, [&](uint64_t& v) {
    published_worker_[i++].store(v, std::memory_order_relaxed);
  });
}

decode::DecodeCounters Worker::decode_counters() const noexcept {
  decode::DecodeCounters c;
  size_t i = 0;
  for_each_decode_slot(c, [&](uint64_t& v) { v = published_decode_[i++].load(std::memory_order_relaxed); });
  return c;
}

WorkerCounters Worker::worker_counters() const noexcept {
  WorkerCounters c;
  size_t i = 0;
  for_each_worker_slot(c, [&](uint64_t& v) { v = published_worker_[i++].load(std::memory_order_relaxed); });
  return c;
}

void Worker::run() noexcept {
  auto on_udp = [this](const UdpDatagram& d, uint16_t listener) {
    ++counters_.datagrams_received;
    const decode::FlowType type = listener < config_.listener_types.size()
                                      ? config_.listener_types[listener]
                                      : decode::FlowType::kUnknown;
    const decode::DatagramMeta meta = d.meta(listener);
    if (type == decode::FlowType::kUnknown) {
      decode::decode_datagram(d.payload, meta, *templates_, out_, decode_, &interface_counters_,
                              &exporter_stats_);
    } else {
      decode::decode_datagram_as(type, d.payload, meta, *templates_, out_, decode_,
                                 &interface_counters_, &exporter_stats_);
    }
  };
  // Housekeeping runs every 64 polls and at least every poll timeout, as l3fwd reads the clock
  // only every N iterations.
  constexpr int kPollTimeoutMs = 20;
  for (uint64_t iter = 0; !stop_.load(std::memory_order_relaxed); ++iter) {
    const uint32_t n = source_.poll(kPollTimeoutMs, on_udp);
    if (n == 0 || (iter & 63) == 0) housekeeping(wall_ms());
  }
  // Stop: what the kernel already holds for us is received and decoded, nothing is left behind.
  while (source_.poll(0, on_udp) > 0) {
  }
  // The last block waits (bounded) for room in the ring rather than being dropped.
  decode::FlowBlock* last = out_.block();
  out_ = decode::FlowOutput(nullptr, &Worker::refill, this);
  if (last != nullptr && last->size > 0) {
    bool sent = false;
    for (int i = 0; i < 5000 && !(sent = full_.try_push(last)); ++i) {
      const timespec pause{0, 1'000'000};
      nanosleep(&pause, nullptr);
    }
    if (sent) {
      ++counters_.blocks_sent;
    } else {
      ++counters_.ring_full;
      counters_.ring_full_records += last->size;
    }
  }
  counters_.kernel_drops = source_.kernel_drops();
  publish();
  publish_snapshot(wall_ms(), true);
  finished_.store(true, std::memory_order_release);
}

}  // namespace flowgate::dataplane
