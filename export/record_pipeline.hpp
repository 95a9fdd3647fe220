#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "decode/flow_block.hpp"
#include "decode/flow_output.hpp"
#include "export/aggregator.hpp"
#include "export/json_encoder.hpp"
#include "export/log_point_encoder.hpp"
#include "export/sink.hpp"
#include "export/sink_figures.hpp"

namespace flowgate::exporter {

class DashboardWindow;

// [aggregation] max_keys = "auto" (the default): the most keys, up to kAutoMaxKeys, whose tables
// (Aggregator::table_bytes, faulted in at start) take at most 1/kAutoMemoryShare of
// `available_bytes` (memory_available_here()); never fewer than kAutoMinKeys. A serious
// collector's aggregation window (5 minutes by default) sees far more keys than a small table
// holds, and every key it cannot hold is one more record written early.
inline constexpr uint32_t kAutoMaxKeys = 1'000'000;  // 394 MiB of tables at the defaults
inline constexpr uint32_t kAutoMinKeys = 10'000;
inline constexpr uint64_t kAutoMemoryShare = 8;
uint32_t auto_max_keys(const config::Config& config, uint64_t available_bytes);
// What the aggregation tables take with `config` and [aggregation] max_keys = `keys`.
uint64_t aggregation_table_bytes(const config::Config& config, uint32_t keys);

// What happens to decoded records after the dataplane, the same for every packet source and for
// --pcap: aggregation (optional), enrichment into Datakit's record, JSON batches, sinks.
// One per exporter thread; not thread-safe. Time is passed in (wall clock live, capture time
// for --pcap), so tests and captures are deterministic.
class RecordPipeline {
 public:
  // `collector_ip` is the `ip` tag of Datakit log points (only used when a sink takes them).
  RecordPipeline(const config::Config& config, bool aggregate, std::string host,
                 std::vector<std::unique_ptr<Sink>> sinks, std::string collector_ip = "");

  // The aggregator a pipeline with aggregation makes from `config`.
  static AggregatorConfig aggregator_config(const config::Config& config);
  // The same with `max_keys` keys in place of the configured count.
  static AggregatorConfig aggregator_config(const config::Config& config, uint32_t max_keys);

  // Takes every record of a decoded block (the block may be reused afterwards).
  void add(const decode::FlowBlock& block, uint64_t now_ms);
  // Periodic work: aggregation flush checks (every 10 s, as the reference), batches older than
  // their flush interval.
  void tick(uint64_t now_ms);
  // Flushes aggregation, the batch and the sinks, then finishes the sinks: HTTP sinks deliver
  // what they hold within their shutdown timeout and spool the rest (shutdown, end of a capture).
  void finish(uint64_t now_ms);
  // Reopens file sinks (SIGHUP).
  void reopen_sinks();

  uint64_t written() const noexcept { return written_; }        // records handed to sinks
  uint64_t write_failures() const noexcept { return write_failures_; }  // batches a sink lost
  uint64_t dropped() const noexcept { return aggregator_ ? aggregator_->dropped() : 0; }
  const Aggregator* aggregator() const noexcept { return aggregator_.get(); }
  // Per sink (in sink order): batches sent / retried / spooled / dropped and the time each
  // batch took to hand over (a file write; an HTTP sink's enqueue).
  const std::vector<SinkFigures>& sink_figures() noexcept;
  // Records written are also summed into `window` (the dashboard's); nullptr: none.
  void set_dashboard(DashboardWindow* window) noexcept { dashboard_ = window; }
  // The sinks, in [[outputs]] order, for their delivery figures (Sink::counters()).
  const std::vector<std::unique_ptr<Sink>>& sinks() const noexcept { return sinks_; }

 private:
  static decode::FlowBlock* on_aggregated(void* ctx, decode::FlowBlock* full) noexcept;
  void encode_block(const decode::FlowBlock& block);
  void flush_batch();

  const config::Config& config_;
  std::vector<std::unique_ptr<Sink>> sinks_;
  std::vector<JsonEncoder> encoders_;  // one per [[inputs.netflow]]
  std::vector<LogPointEncoder> point_encoders_;  // the same, when a sink takes log points
  std::unique_ptr<Aggregator> aggregator_;
  std::unique_ptr<decode::FlowBlock> aggregated_block_;
  decode::FlowOutput aggregated_;
  // JSON lines: the first batch_used_ bytes. The string only grows, so that encoding a record
  // never zero-fills room for it (std::string::resize would, ~1 KiB per record).
  std::string batch_;
  size_t batch_used_ = 0;
  std::string points_;  // the same records as log points, when a sink takes them
  bool want_points_ = false;
  // The only sink, when it may take records encoded in place (Sink::reserve), else nullptr;
  // and how many of the batch's records went there (the rest are in batch_).
  Sink* in_place_ = nullptr;
  uint32_t in_place_records_ = 0;
  uint32_t batch_records_ = 0;
  uint64_t batch_started_ms_ = 0;
  uint64_t now_ms_ = 0;
  uint64_t next_flush_check_ms_ = 0;
  uint32_t max_batch_records_;
  uint64_t batch_interval_ms_;
  uint64_t written_ = 0;
  uint64_t write_failures_ = 0;
  std::vector<SinkFigures> sink_figures_;
  DashboardWindow* dashboard_ = nullptr;
};

}  // namespace flowgate::exporter
