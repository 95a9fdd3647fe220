#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "export/record_pipeline.hpp"

namespace flowgate::exporter {

// Exporter-thread figures for the metrics endpoint. X(member, metric name, type, help)
#define FLOWGATE_PIPELINE_FIGURES(X)                                                         \
  X(written, "pipeline_records_written_total", "counter", "records handed to the sinks")     \
  X(write_failures, "pipeline_batch_write_failures_total", "counter",                        \
    "JSON batches a sink failed to write")                                                   \
  X(aggregation_live_keys, "aggregation_live_keys", "gauge",                                 \
    "aggregation keys held, waiting for their flush")                                        \
  X(aggregation_flushed_early, "aggregation_flushed_early_total", "counter",                 \
    "aggregation keys written before their flush interval because the table was full")       \
  X(aggregation_dropped, "aggregation_dropped_records_total", "counter",                     \
    "aggregated records lost because no output block was free when flushing")                \
  X(rollup_untracked, "aggregation_rollup_untracked_total", "counter",                       \
    "flows the full port roll-up tracker could not track (their ports kept as they are)")

struct PipelineFigures {
#define FLOWGATE_X(m, n, t, h) uint64_t m = 0;
  FLOWGATE_PIPELINE_FIGURES(FLOWGATE_X)
#undef FLOWGATE_X

  static PipelineFigures of(const RecordPipeline& p) noexcept {
    PipelineFigures f;
    f.written = p.written();
    f.write_failures = p.write_failures();
    if (const Aggregator* a = p.aggregator()) {
      f.aggregation_live_keys = a->live();
      f.aggregation_flushed_early = a->flushed_early();
      f.aggregation_dropped = a->dropped();
      f.rollup_untracked = a->rollup_untracked();
    }
    return f;
  }
};

// The exporter thread stores its figures here each loop pass; the metrics thread loads them.
// Relaxed atomics: each figure is read whole, the set is not a consistent cut (nor need it be).
class PublishedPipelineFigures {
 public:
  void publish(const PipelineFigures& f) noexcept {
    size_t i = 0;
#define FLOWGATE_X(m, n, t, h) slots_[i++].store(f.m, std::memory_order_relaxed);
    FLOWGATE_PIPELINE_FIGURES(FLOWGATE_X)
#undef FLOWGATE_X
  }
  PipelineFigures load() const noexcept {
    PipelineFigures f;
    size_t i = 0;
#define FLOWGATE_X(m, n, t, h) f.m = slots_[i++].load(std::memory_order_relaxed);
    FLOWGATE_PIPELINE_FIGURES(FLOWGATE_X)
#undef FLOWGATE_X
    return f;
  }

 private:
#define FLOWGATE_X(m, n, t, h) +1
  static constexpr size_t kSlots = 0 FLOWGATE_PIPELINE_FIGURES(FLOWGATE_X);
#undef FLOWGATE_X
  std::array<std::atomic<uint64_t>, kSlots> slots_{};
};

}  // namespace flowgate::exporter
