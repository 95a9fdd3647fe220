#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "export/sink.hpp"

namespace flowgate::exporter {

// Upper bounds (seconds) of the sink latency histogram's buckets; +Inf follows.
inline constexpr std::array<double, 14> kSinkLatencyBounds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

// The histogram bucket of a latency in seconds.
inline size_t sink_latency_bucket(double seconds) noexcept {
  size_t b = 0;
  while (b < kSinkLatencyBounds.size() && seconds > kSinkLatencyBounds[b]) ++b;
  return b;
}

// What one sink did with the batches handed to it, for /metrics
// (flowgate_sink_batches_total{sink,result}, flowgate_sink_batch_latency_seconds). stdout and
// file sinks write on the exporter thread: sent or dropped, latency the write. HTTP sinks
// deliver on their own thread: their figures come from their SinkCounters (`delivery`),
// latency from hand-over to the endpoint's 2xx.
struct SinkFigures {
  static constexpr const std::array<double, 14>& kLatencyBounds = kSinkLatencyBounds;

  std::string name;  // "stdout", "file:/path", ...
  uint64_t sent = 0;
  uint64_t retried = 0;
  uint64_t spooled = 0;
  uint64_t dropped = 0;
  std::array<uint64_t, kLatencyBounds.size() + 1> latency_buckets{};  // not cumulative
  uint64_t latency_count = 0;
  double latency_sum_seconds = 0;
  bool has_delivery = false;  // an HTTP sink: `delivery` holds its own figures
  SinkDelivery delivery;

  // One batch written (`ok`) or lost, taking `ns` nanoseconds.
  void record(bool ok, uint64_t ns) noexcept {
    ++(ok ? sent : dropped);
    const double s = static_cast<double>(ns) / 1e9;
    ++latency_buckets[sink_latency_bucket(s)];
    ++latency_count;
    latency_sum_seconds += s;
  }
};

// The exporter thread publishes its sinks' figures here; the metrics thread copies them. A
// short lock on the control path (the exporter thread's loop, not the workers').
class PublishedSinkFigures {
 public:
  void publish(const std::vector<SinkFigures>& f) {
    const std::lock_guard<std::mutex> lock(mutex_);
    figures_ = f;
  }
  std::vector<SinkFigures> load() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return figures_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<SinkFigures> figures_;
};

}  // namespace flowgate::exporter
