// The worker's per-exporter snapshot: the one place a worker takes a lock, about once a second
// in housekeeping, so that the metrics thread can copy what the data path counts lock-free.

#include "dataplane/worker.hpp"

namespace flowgate::dataplane {
namespace {

constexpr uint64_t kSnapshotEveryMs = 1000;

}  // namespace

void Worker::publish_snapshot(uint64_t now_ms, bool force) noexcept {
  if (!force && now_ms < next_snapshot_ms_) return;
  next_snapshot_ms_ = now_ms + kSnapshotEveryMs;
  try {
    const std::lock_guard<std::mutex> lock(snapshot_mutex_);
    snapshot_.take(exporter_stats_, *templates_, interface_counters_, now_ms * 1'000'000);
  } catch (...) {
    // Out of memory while growing the copy: the previous snapshot stays; collection goes on.
  }
}

decode::ShardSnapshot Worker::shard_snapshot() const {
  const std::lock_guard<std::mutex> lock(snapshot_mutex_);
  return snapshot_;
}

}  // namespace flowgate::dataplane
