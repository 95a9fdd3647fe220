#pragma once

#include <string>
#include <vector>

#include "dataplane/worker_counters.hpp"
#include "decode/decode_counters.hpp"
#include "decode/shard_snapshot.hpp"
#include "export/pipeline_figures.hpp"
#include "export/sink_figures.hpp"

namespace flowgate::exporter {

// What /metrics reports, read from the figures the threads publish.
struct MetricsSnapshot {
  decode::DecodeCounters decode;                   // summed over the workers
  std::vector<dataplane::WorkerCounters> workers;  // by worker index
  PipelineFigures pipeline;
  std::vector<decode::ShardSnapshot> shards;       // per worker: exporters, templates, sFlow
  std::vector<std::string> listeners;              // by listener index: "host:port"
  std::vector<SinkFigures> sinks;
  uint32_t max_exporters = 256;   // exporter series; the rest are summed as exporter="other"
  uint32_t max_interfaces = 256;  // sFlow interface series, by agent then ifIndex
};

// One export stream's series after merging shards and source ports: what /metrics and the
// dashboard's exporter table show.
struct ExporterSeries {
  std::string exporter;  // address, or "other"
  std::string type;      // netflow5, netflow9, ipfix, sflow5; "other"
  std::string domain;    // observation domain / source ID / engine / sub-agent; "other"
  decode::ExporterRow sum;  // counters summed; last_seen the latest; templates summed
};

// Streams of every shard merged by (exporter, type, domain), the `max` busiest by records
// first and the rest (and each shard's overflow row) summed into one "other" entry.
std::vector<ExporterSeries> exporter_series(const std::vector<decode::ShardSnapshot>& shards,
                                            uint32_t max);

// Prometheus text exposition format 0.0.4. Names and help come from the counters' X-macros,
// so a counter added there shows up here with no second declaration.
std::string format_metrics(const MetricsSnapshot& s);

}  // namespace flowgate::exporter
