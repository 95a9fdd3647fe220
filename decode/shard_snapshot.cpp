#include "decode/shard_snapshot.hpp"

namespace flowgate::decode {

void ShardSnapshot::take(ExporterStats& stats, TemplateCache& templates,
                         const InterfaceCounterStore& interfaces_store, uint64_t now_ns) {
  exporters.clear();
  stats.for_each([&](const ExporterRow& r) {
    exporters.push_back(r);
    ExporterRow& copy = exporters.back();
    if (r.type == FlowType::kNetflow9 || r.type == FlowType::kIpfix) {
      // Looked up, not added: adding could take the place of another exporter.
      const uint32_t e = templates.find_exporter(ExporterKey{r.address, r.port, r.type});
      copy.templates = e == TemplateCache::kNoExporter ? 0 : templates.exporter(e).templates;
    }
  });
  other = stats.other();
  exporter_overflow = stats.overflow();
  exporter_reclaimed = stats.reclaimed();
  listeners = stats.listeners();
  templates_known = templates.template_count();
  pending_sets = templates.pending_live();
  interfaces.clear();
  interfaces_store.for_each([&](const InterfaceCounters& c) { interfaces.push_back(c); });
  interfaces_refused = interfaces_store.refused();
  taken_ns = now_ns;
}

}  // namespace flowgate::decode
