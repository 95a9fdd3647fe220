#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace flowgate::exporter {

// What a sink is given: the JSON record lines, or the same records as Datakit log points in
// line protocol. The pipeline encodes each form at most once per batch, whatever the number of
// sinks that take it.
enum class SinkEncoding : uint8_t { kJsonLines, kLogPoints };

// Delivery figures of one sink. X(member, help). Written by the sink (its own thread for the
// HTTP sinks, the exporter thread for stdout/file) with relaxed atomics, readable from any
// thread: each figure is read whole, the set is not a consistent cut.
#define FLOWGATE_SINK_COUNTERS(X)                                                             \
  X(batches_sent, "batches the endpoint acknowledged (2xx), replays from the spool included") \
  X(records_sent, "records in those batches")                                                 \
  X(batches_retried, "delivery attempts that failed and were retried")                        \
  X(batches_spooled, "batches written to the on-disk spool")                                  \
  X(batches_replayed, "spooled batches delivered later")                                      \
  X(batches_dropped, "batches lost: beyond the spool's size limit, or no spool configured")   \
  X(records_dropped, "records in those batches")                                              \
  X(spool_bytes, "gauge: bytes held in the spool now")                                        \
  X(spool_batches, "gauge: batches held in the spool now")                                    \
  X(queued_batches, "gauge: batches waiting in memory for the sink thread")                   \
  X(last_batch_latency_us, "gauge: time from hand-over to acknowledgement of the last batch") \
  X(batch_latency_us_sum, "sum of those latencies, for an average with batches_sent")

// Buckets of the delivery latency histogram: kSinkLatencyBounds (sink_figures.hpp) and +Inf.
inline constexpr size_t kSinkLatencyBuckets = 15;

struct SinkDelivery {
#define FLOWGATE_X(m, h) uint64_t m = 0;
  FLOWGATE_SINK_COUNTERS(FLOWGATE_X)
#undef FLOWGATE_X
  std::array<uint64_t, kSinkLatencyBuckets> latency_buckets{};  // not cumulative
};

class SinkCounters {
 public:
#define FLOWGATE_X(m, h) std::atomic<uint64_t> m{0};
  FLOWGATE_SINK_COUNTERS(FLOWGATE_X)
#undef FLOWGATE_X

  void add(std::atomic<uint64_t>& c, uint64_t n = 1) noexcept {
    c.fetch_add(n, std::memory_order_relaxed);
  }
  void set(std::atomic<uint64_t>& c, uint64_t v) noexcept { c.store(v, std::memory_order_relaxed); }
  std::array<std::atomic<uint64_t>, kSinkLatencyBuckets> latency_buckets{};

  SinkDelivery load() const noexcept {
    SinkDelivery f;
#define FLOWGATE_X(m, h) f.m = m.load(std::memory_order_relaxed);
    FLOWGATE_SINK_COUNTERS(FLOWGATE_X)
#undef FLOWGATE_X
    for (size_t i = 0; i < kSinkLatencyBuckets; ++i) {
      f.latency_buckets[i] = latency_buckets[i].load(std::memory_order_relaxed);
    }
    return f;
  }
};

// Where the exporter thread hands its batches: stdout, a file, or an HTTP endpoint (http,
// datakit, clickhouse). Calls come from the exporter thread only. A sink must not block it for
// long: the HTTP sinks deliver on a thread of their own.
class Sink {
 public:
  virtual ~Sink() = default;

  virtual SinkEncoding encoding() const noexcept { return SinkEncoding::kJsonLines; }
  // Takes one batch of `records` lines (each ending in '\n'). False when the batch is lost for
  // this sink (a failed file write; an HTTP sink spools rather than fail).
  virtual bool write(std::string_view batch, uint32_t records) = 0;
  // Encoding in place, for a sink that writes from memory of its own (the stdout and file sink
  // when the file does not rotate): the pipeline, when this is its only sink, asks for room for
  // one record of up to `bytes`, encodes the record there and commit()s its end, instead of
  // encoding into its batch for write() to copy. nullptr: not now, use write().
  virtual char* reserve(size_t /*bytes*/) noexcept { return nullptr; }
  virtual void commit(const char* /*end*/) noexcept {}
  // Ends a batch of `records` committed in place. False when it is lost, as write().
  virtual bool write_in_place(uint32_t /*records*/) { return false; }
  // End of a flush interval: make written batches durable / start their delivery.
  virtual bool flush() = 0;
  // SIGHUP: reopen files (logrotate). No-op for others.
  virtual bool reopen() { return true; }
  // Shutdown: deliver what is held within a bounded time, spool the rest. Called once, last.
  virtual void finish() {}
  // Delivery figures, or nullptr for sinks without them (stdout, file).
  virtual const SinkCounters* counters() const noexcept { return nullptr; }
  // For logs: the output's kind and address.
  virtual std::string_view name() const noexcept = 0;
};

}  // namespace flowgate::exporter
