#pragma once

#include <string>
#include <vector>

#include "dataplane/packet_counters.hpp"
#include "dataplane/worker_counters.hpp"
#include "decode/decode_counters.hpp"
#include "export/pipeline_figures.hpp"

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
  PipelineFigures pipeline;
  std::vector<SourceSample> source;
};

// Prometheus text exposition format 0.0.4. Names and help come from the counters' X-macros,
// so a counter added there shows up here with no second declaration.
std::string format_metrics(const MetricsSnapshot& s);

}  // namespace flowgate::exporter
