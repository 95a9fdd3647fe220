#pragma once

#include <string>
#include <vector>

#include "dataplane/worker_counters.hpp"
#include "decode/decode_counters.hpp"
#include "export/pipeline_figures.hpp"

namespace flowgate::exporter {

// What /metrics reports, read from the figures the threads publish.
struct MetricsSnapshot {
  decode::DecodeCounters decode;                   // summed over the workers
  std::vector<dataplane::WorkerCounters> workers;  // by worker index
  PipelineFigures pipeline;
};

// Prometheus text exposition format 0.0.4. Names and help come from the counters' X-macros,
// so a counter added there shows up here with no second declaration.
std::string format_metrics(const MetricsSnapshot& s);

}  // namespace flowgate::exporter
