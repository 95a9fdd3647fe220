#include "export/dashboard_api.hpp"

#include <string_view>

#include "export/text_format.hpp"

namespace flowgate::exporter {
namespace {

void key(std::string& out, std::string_view k) {
  out += '"';
  out.append(k);
  out += "\":";
}

void string_field(std::string& out, std::string_view k, std::string_view v) {
  key(out, k);
  out += '"';
  append_json_escaped(out, v);
  out += "\",";
}

void number_field(std::string& out, std::string_view k, uint64_t v) {
  key(out, k);
  append_decimal(out, v);
  out += ',';
}

void close_object(std::string& out) {
  if (out.back() == ',') out.pop_back();
  out += '}';
}

void totals(std::string& out, const DashboardWindow::Totals& t) {
  number_field(out, "bytes", t.bytes);
  number_field(out, "packets", t.packets);
  number_field(out, "records", t.records);
}

void entries(std::string& out, std::string_view name,
             const std::vector<DashboardWindow::Entry>& list) {
  key(out, name);
  out += '[';
  for (const DashboardWindow::Entry& e : list) {
    out += '{';
    string_field(out, "label", e.label);
    if (!e.device.empty()) string_field(out, "device", e.device);
    totals(out, e.totals);
    close_object(out);
    out += ',';
  }
  if (out.back() == ',') out.pop_back();
  out += "],";
}

std::string_view health(const decode::ExporterRow& r, uint64_t now_ms) {
  const uint64_t seen_ms = r.last_seen_ns / 1'000'000;
  if (now_ms > seen_ms + kExporterSilentMs) return "silent";
  const uint64_t net_lost = r.lost_records > r.late_records ? r.lost_records - r.late_records : 0;
  if (net_lost * 100 > r.records + net_lost) return "loss";  // more than 1% lost
  if (r.decode_errors * 100 > r.datagrams) return "errors";
  return "ok";
}

}  // namespace

std::string dashboard_summary_json(const DashboardWindow::Summary& w, const MetricsSnapshot& m,
                                   uint64_t now_ms) {
  std::string out;
  out.reserve(16384);
  out += '{';
  number_field(out, "now_ms", now_ms);
  number_field(out, "window_minutes", w.minutes);
  key(out, "window");
  out += '{';
  totals(out, w.total);
  close_object(out);
  out += ',';

  dataplane::WorkerCounters wk;
  for (const auto& x : m.workers) wk.add(x);
  key(out, "collector");
  out += '{';
  number_field(out, "datagrams", m.decode.datagrams);
  number_field(out, "records", m.decode.records);
  number_field(out, "decode_errors", m.decode.total_errors());
  number_field(out, "kernel_drops", wk.kernel_drops);
  number_field(out, "ring_drop_records", wk.ring_full_records);
  number_field(out, "written", m.pipeline.written);
  close_object(out);
  out += ',';

  key(out, "series");
  out += '[';
  for (const DashboardWindow::Point& p : w.series) {
    out += '{';
    number_field(out, "t", p.minute_ms);
    totals(out, p.totals);
    close_object(out);
    out += ',';
  }
  if (out.back() == ',') out.pop_back();
  out += "],";
  entries(out, "sources", w.sources);
  entries(out, "destinations", w.destinations);
  entries(out, "source_ports", w.source_ports);
  entries(out, "destination_ports", w.destination_ports);
  entries(out, "protocols", w.protocols);
  entries(out, "flow_types", w.flow_types);

  key(out, "exporters");
  out += '[';
  for (const ExporterSeries& e : exporter_series(m.shards, m.max_exporters)) {
    const decode::ExporterRow& r = e.sum;
    out += '{';
    string_field(out, "exporter", e.exporter);
    string_field(out, "type", e.type);
    string_field(out, "domain", e.domain);
    number_field(out, "last_seen_ms", r.last_seen_ns / 1'000'000);
    number_field(out, "datagrams", r.datagrams);
    number_field(out, "records", r.records);
    number_field(out, "decode_errors", r.decode_errors);
    number_field(out, "templates", r.templates);
    number_field(out, "lost_records", r.lost_records);
    number_field(out, "late_records", r.late_records);
    number_field(out, "resets", r.sequence.resets);
    string_field(out, "health", health(r, now_ms));
    close_object(out);
    out += ',';
  }
  if (out.back() == ',') out.pop_back();
  out += ']';
  out += '}';
  return out;
}

}  // namespace flowgate::exporter
