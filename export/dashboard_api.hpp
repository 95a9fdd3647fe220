#pragma once

#include <cstdint>
#include <string>

#include "export/dashboard_window.hpp"
#include "export/metrics_format.hpp"

namespace flowgate::exporter {

// An exporter with no datagram for this long is shown as "silent" (the alert rule's bound).
inline constexpr uint64_t kExporterSilentMs = 300'000;

// GET /api/summary: the dashboard's data as one JSON object: the window's totals, per-minute
// series and top entries, the collector's counters, and the exporters with their health.
std::string dashboard_summary_json(const DashboardWindow::Summary& window,
                                   const MetricsSnapshot& metrics, uint64_t now_ms);

}  // namespace flowgate::exporter
