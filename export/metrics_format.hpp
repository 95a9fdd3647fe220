#pragma once

#include <string>
#include <vector>

#include "dataplane/dpdk_figures.hpp"
#include "dataplane/packet_counters.hpp"
#include "dataplane/reassembly_counters.hpp"
#include "dataplane/worker_counters.hpp"
#include "decode/decode_counters.hpp"
#include "decode/shard_snapshot.hpp"
#include "export/pipeline_figures.hpp"
#include "export/sink_figures.hpp"

namespace flowgate::exporter {

// A source-specific sample (DPDK port statistics, ...): rendered under flowgate_<name>, with
// one HELP/TYPE header per name in the order first seen.
struct SourceSample {
  std::string name;
  std::string help;
  std::string labels;  // "{port=\"net_pcap0\"}" or empty
  uint64_t value = 0;
  bool counter = true;
};

// What /metrics reports, read from the figures the threads publish.
struct MetricsSnapshot {
  decode::DecodeCounters decode;                   // summed over the workers
  std::vector<dataplane::WorkerCounters> workers;  // by worker index
  dataplane::PacketCounters packets;               // frame sources (dpdk, af_packet), summed
  dataplane::ReassemblyCounters reassembly;        // the same sources' fragment reassembly
  PipelineFigures pipeline;
  std::vector<decode::ShardSnapshot> shards;       // per worker: exporters, templates, sFlow
  std::vector<std::string> listeners;              // by listener index: "host:port"
  std::vector<SinkFigures> sinks;
  uint32_t max_exporters = 256;   // exporter series; the rest are summed as exporter="other"
  uint32_t max_interfaces = 256;  // sFlow interface series, by agent then ifIndex
  std::vector<SourceSample> source;
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

// The DPDK ports' statistics and the software-RSS dispatcher's counters as source samples.
void add_dpdk_samples(const dataplane::DpdkFigures& f, MetricsSnapshot& s);

}  // namespace flowgate::exporter
