#include "dataplane/decode_shard.hpp"

#include <time.h>

#include "decode/datagram_decoder.hpp"

namespace flowgate::dataplane {
namespace {

constexpr size_t kErrorSlots = static_cast<size_t>(decode::DecodeStatus::kCount);

// Each counter struct flattened for publication, in X-macro order (decode: the error array
// first, then the events).
template <typename Fn>
void for_each_slot(decode::DecodeCounters& c, Fn&& fn) {
  for (size_t i = 0; i < kErrorSlots; ++i) fn(c.errors[i]);
#define FLOWGATE_X(m, h) fn(c.m);
  FLOWGATE_DECODE_EVENTS(FLOWGATE_X)
#undef FLOWGATE_X
}

template <typename Fn>
void for_each_slot(WorkerCounters& c, Fn&& fn) {
#define FLOWGATE_X(m, h) fn(c.m);
  FLOWGATE_WORKER_COUNTERS(FLOWGATE_X)
#undef FLOWGATE_X
}

template <typename Fn>
void for_each_slot(PacketCounters& c, Fn&& fn) {
#define FLOWGATE_X(m, h) fn(c.m);
  FLOWGATE_PACKET_COUNTERS(FLOWGATE_X)
#undef FLOWGATE_X
}

template <typename Fn>
void for_each_slot(ReassemblyCounters& c, Fn&& fn) {
#define FLOWGATE_X(m, h) fn(c.m);
  FLOWGATE_REASSEMBLY_COUNTERS(FLOWGATE_X)
#undef FLOWGATE_X
}

template <typename Counters>
size_t slot_count() {
  Counters c;
  size_t n = 0;
  for_each_slot(c, [&](uint64_t&) { ++n; });
  return n;
}

template <typename Counters>
void store(Counters& c, std::vector<std::atomic<uint64_t>>& slots) {
  size_t i = 0;
  for_each_slot(c, [&](uint64_t& v) { slots[i++].store(v, std::memory_order_relaxed); });
}

template <typename Counters>
Counters load(const std::vector<std::atomic<uint64_t>>& slots) {
  Counters c;
  size_t i = 0;
  for_each_slot(c, [&](uint64_t& v) { v = slots[i++].load(std::memory_order_relaxed); });
  return c;
}

}  // namespace

DecodeShard::DecodeShard(ShardConfig config)
    : config_(std::move(config)),
      templates_(std::make_unique<decode::TemplateCache>(config_.template_limits)),
      full_(config_.blocks),
      free_(config_.blocks),
      out_(nullptr, &DecodeShard::refill, this),
      published_decode_(slot_count<decode::DecodeCounters>()),
      published_worker_(slot_count<WorkerCounters>()),
      published_packets_(slot_count<PacketCounters>()),
      published_reassembly_(slot_count<ReassemblyCounters>()) {
  pool_.reserve(config_.blocks);
  spare_.reserve(config_.blocks);
  for (uint32_t i = 0; i < config_.blocks; ++i) {
    pool_.push_back(std::make_unique<decode::FlowBlock>());
    spare_.push_back(pool_.back().get());
  }
}

void DecodeShard::decode(const UdpDatagram& d, uint16_t listener) noexcept {
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
}

void DecodeShard::hand_off(decode::FlowBlock* block) noexcept {
  if (block == nullptr || block->size == 0) return;
  if (full_.try_push(block)) {
    ++counters_.blocks_sent;
    Doorbell* bell = doorbell_.load(std::memory_order_acquire);
    if (bell != nullptr && full_.size() >= wake_at_.load(std::memory_order_relaxed)) bell->ring();
    return;
  }
  // The exporter thread is behind: drop the block (counted) and keep it for reuse.
  ++counters_.ring_full;
  counters_.ring_full_records += block->size;
  block->clear();
  spare_.push_back(block);  // within the reserved pool size: no allocation
}

decode::FlowBlock* DecodeShard::refill(void* ctx, decode::FlowBlock* full) noexcept {
  auto* self = static_cast<DecodeShard*>(ctx);
  self->hand_off(full);
  for (decode::FlowBlock* b = nullptr; self->free_.try_pop(b);) self->spare_.push_back(b);
  if (self->spare_.empty()) return nullptr;  // pool exhausted: records counted as lost
  decode::FlowBlock* next = self->spare_.back();
  self->spare_.pop_back();
  next->clear();
  self->block_started_ms_ = 0;
  return next;
}

void DecodeShard::housekeeping(uint64_t now_ms) noexcept {
  decode::FlowBlock* b = out_.block();
  if (b != nullptr && b->size > 0) {
    if (block_started_ms_ == 0) {
      block_started_ms_ = now_ms;
    } else if (now_ms - block_started_ms_ >= config_.block_max_age_ms) {
      // A quiet link still delivers: hand off what there is.
      decode::FlowBlock* next = refill(this, b);
      out_ = decode::FlowOutput(next, &DecodeShard::refill, this);
    }
  }
  decode_.pending_dropped += templates_->expire_pending(now_ms * 1'000'000);
  if (now_ms >= next_expiry_ms_) {
    // A scan of the template slots: about once a second, like the snapshot.
    next_expiry_ms_ = now_ms + 1000;
    decode_.templates_expired += templates_->expire_templates(now_ms * 1'000'000);
  }
  if (state_interval_ms_ != 0 && now_ms >= next_state_ms_) {
    next_state_ms_ = now_ms + state_interval_ms_;
    publish_template_state();
  }
  publish();
  publish_snapshot(now_ms, false);
}

void DecodeShard::set_template_state(uint64_t template_ttl_ms, uint64_t save_interval_ms) noexcept {
  templates_->set_template_ttl(template_ttl_ms * 1'000'000);
  state_interval_ms_ = save_interval_ms;
}

void DecodeShard::set_template_limits(const decode::TemplateCacheLimits& limits) {
  decode::TemplateCacheLimits l = limits;
  l.template_ttl_ns = templates_->limits().template_ttl_ns;
  templates_ = std::make_unique<decode::TemplateCache>(l);
}

void DecodeShard::load_template_state(std::span<const uint8_t> body, uint64_t now_ns,
                                      uint64_t max_age_ns, decode::StateLoadFigures& figures) {
  decode::load_template_state(body, now_ns, max_age_ns, *templates_, figures);
}

// Serialises the cache into the scratch buffer (no lock held), then swaps it in: the lock
// covers a swap of two vectors.
void DecodeShard::publish_template_state() noexcept {
  try {
    state_scratch_.clear();
    decode::append_template_state(*templates_, state_scratch_);
    const std::lock_guard<std::mutex> lock(state_mutex_);
    state_.swap(state_scratch_);
    ++state_copies_;
  } catch (...) {
    // Out of memory while growing the buffer: the previous copy stays; collection goes on.
  }
}

std::vector<uint8_t> DecodeShard::template_state(uint64_t* copies) const {
  const std::lock_guard<std::mutex> lock(state_mutex_);
  if (copies != nullptr) *copies = state_copies_;
  return state_;
}

// The one place a worker takes a lock, about once a second, so that the metrics thread can
// copy what the data path counts lock-free.
void DecodeShard::publish_snapshot(uint64_t now_ms, bool force) noexcept {
  constexpr uint64_t kSnapshotEveryMs = 1000;
  if (!force && now_ms < next_snapshot_ms_) return;
  next_snapshot_ms_ = now_ms + kSnapshotEveryMs;
  try {
    const std::lock_guard<std::mutex> lock(snapshot_mutex_);
    snapshot_.take(exporter_stats_, *templates_, interface_counters_, now_ms * 1'000'000);
  } catch (...) {
    // Out of memory while growing the copy: the previous snapshot stays; collection goes on.
  }
}

decode::ShardSnapshot DecodeShard::snapshot() const {
  const std::lock_guard<std::mutex> lock(snapshot_mutex_);
  return snapshot_;
}

void DecodeShard::finish() noexcept {
  decode::FlowBlock* last = out_.block();
  out_ = decode::FlowOutput(nullptr, &DecodeShard::refill, this);
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
  if (state_interval_ms_ != 0) publish_template_state();
  publish();
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  publish_snapshot(static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1'000'000,
                   true);
  finished_.store(true, std::memory_order_release);
}

void DecodeShard::publish() noexcept {
  store(decode_, published_decode_);
  store(counters_, published_worker_);
  store(packets_, published_packets_);
  store(reassembly_, published_reassembly_);
}

decode::DecodeCounters DecodeShard::decode_counters() const noexcept {
  return load<decode::DecodeCounters>(published_decode_);
}

WorkerCounters DecodeShard::worker_counters() const noexcept {
  return load<WorkerCounters>(published_worker_);
}

PacketCounters DecodeShard::published_packet_counters() const noexcept {
  return load<PacketCounters>(published_packets_);
}

ReassemblyCounters DecodeShard::published_reassembly_counters() const noexcept {
  return load<ReassemblyCounters>(published_reassembly_);
}

}  // namespace flowgate::dataplane
