#pragma once

#include <cstdint>
#include <vector>

#include "decode/exporter_stats.hpp"
#include "decode/interface_counter_store.hpp"
#include "decode/template_cache.hpp"

namespace flowgate::decode {

// A copy of one shard's per-exporter state for the control path (metrics, dashboard): taken
// by the shard's owner in housekeeping, read by others. Copying reuses the vectors' capacity.
struct ShardSnapshot {
  std::vector<ExporterRow> exporters;  // templates filled from the TemplateCache
  ExporterRow other;                   // streams past the table's capacity, summed
  uint64_t exporter_overflow = 0;
  uint64_t exporter_reclaimed = 0;  // stream rows a new stream took from an idle one
  std::vector<ListenerRow> listeners;  // by listener index
  uint32_t templates_known = 0;        // compiled templates held
  uint32_t pending_sets = 0;           // data sets held for a template
  std::vector<InterfaceCounters> interfaces;
  uint64_t interfaces_refused = 0;
  uint64_t taken_ns = 0;

  // Fills this from the shard's tables (the caller owns them: no other thread writes them).
  void take(ExporterStats& stats, TemplateCache& templates,
            const InterfaceCounterStore& interfaces_store, uint64_t now_ns);
};

}  // namespace flowgate::decode
