#include "export/metrics_format.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string_view>
#include <tuple>

#include "export/text_format.hpp"

namespace flowgate::exporter {
namespace {

// HELP text escapes backslash and line feed (exposition format 0.0.4).
void append_escaped(std::string& out, std::string_view text) {
  for (char ch : text) {
    if (ch == '\\') {
      out += "\\\\";
    } else if (ch == '\n') {
      out += "\\n";
    } else {
      out += ch;
    }
  }
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP flowgate_").append(name).append(" ");
  append_escaped(out, help);
  out.append("\n# TYPE flowgate_").append(name).append(" ").append(type).append("\n");
}

void sample(std::string& out, std::string_view name, std::string_view labels, uint64_t value) {
  out.append("flowgate_").append(name).append(labels).append(" ").append(std::to_string(value));
  out += '\n';
}

// A label value: backslash, double quote and line feed escaped (exposition format 0.0.4).
std::string label_value(std::string_view v) {
  std::string out;
  for (char ch : v) {
    if (ch == '\\' || ch == '"') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else {
      out += ch;
    }
  }
  return out;
}

// `fixed`: three decimals (Unix timestamps, which %g would round to ten seconds).
void sample_double(std::string& out, std::string_view name, std::string_view labels, double v,
                   bool fixed = false) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fixed ? "%.3f" : "%.9g", v);
  out.append("flowgate_").append(name).append(labels).append(" ").append(buf);
  out += '\n';
}

std::string ip_text(const decode::IpAddress& a) {
  std::string s;
  append_ip(s, a, AddressFamily::kIpv4);
  return s;
}

void add_row(decode::ExporterRow& to, const decode::ExporterRow& r) {
  to.datagrams += r.datagrams;
  to.bytes += r.bytes;
  to.records += r.records;
  to.options_records += r.options_records;
  to.decode_errors += r.decode_errors;
  to.sets_pending += r.sets_pending;
  to.sets_missing += r.sets_missing;
  to.lost_records += r.lost_records;
  to.late_records += r.late_records;
  to.templates += r.templates;
  to.sequence.lost += r.sequence.lost;
  to.sequence.late += r.sequence.late;
  to.sequence.reordered += r.sequence.reordered;
  to.sequence.resets += r.sequence.resets;
  if (to.first_seen_ns == 0 || (r.first_seen_ns != 0 && r.first_seen_ns < to.first_seen_ns)) {
    to.first_seen_ns = r.first_seen_ns;
  }
  to.last_seen_ns = std::max(to.last_seen_ns, r.last_seen_ns);
}

// Per export stream series. X(name, type, help, value of an ExporterRow `r`)
#define FLOWGATE_EXPORTER_SERIES(X)                                                          \
  X("exporter_datagrams_total", "counter", "datagrams from the export stream", r.datagrams)  \
  X("exporter_bytes_total", "counter", "UDP payload bytes from the export stream", r.bytes)  \
  X("exporter_records_total", "counter", "flow records decoded from the export stream",      \
    r.records)                                                                               \
  X("exporter_options_records_total", "counter",                                             \
    "options data records (sampling, system init time) from the export stream",             \
    r.options_records)                                                                       \
  X("exporter_decode_errors_total", "counter",                                               \
    "datagrams of the export stream a decoder stopped on", r.decode_errors)                  \
  X("exporter_sets_pending_total", "counter",                                                \
    "data sets held because their template had not arrived yet", r.sets_pending)             \
  X("exporter_sets_missing_template_total", "counter",                                       \
    "data sets dropped: template unknown and no room to hold them", r.sets_missing)          \
  X("exporter_templates", "gauge",                                                           \
    "templates the exporter holds (v9, IPFIX; all its domains)", r.templates)                \
  X("exporter_lost_records_total", "counter",                                                \
    "records lost before reaching flowgate, from sequence gaps (v9, sFlow: estimated)",      \
    r.lost_records)                                                                          \
  X("exporter_late_records_total", "counter",                                                \
    "records that arrived late, after being counted lost (net loss = lost - late)",          \
    r.late_records)                                                                          \
  X("exporter_sequence_lost_total", "counter",                                               \
    "sequence units lost: v5 flows, v9 packets, IPFIX records, sFlow datagrams",             \
    r.sequence.lost)                                                                         \
  X("exporter_reordered_datagrams_total", "counter",                                         \
    "datagrams that arrived behind their stream's sequence (within the reorder window)",     \
    r.sequence.reordered)                                                                    \
  X("exporter_sequence_resets_total", "counter",                                             \
    "sequence restarts (exporter reboot): far jumps, not counted as loss", r.sequence.resets)

}  // namespace

std::vector<ExporterSeries> exporter_series(const std::vector<decode::ShardSnapshot>& shards,
                                            uint32_t max) {
  std::map<std::tuple<std::string, std::string, uint32_t>, decode::ExporterRow> merged;
  decode::ExporterRow other;
  for (const decode::ShardSnapshot& sh : shards) {
    for (const decode::ExporterRow& r : sh.exporters) {
      add_row(merged[{ip_text(r.address), std::string(decode::flow_type_name(r.type)), r.domain}],
              r);
    }
    add_row(other, sh.other);
  }
  std::vector<ExporterSeries> all;
  all.reserve(merged.size());
  for (const auto& [key, row] : merged) {
    all.push_back({std::get<0>(key), std::get<1>(key), std::to_string(std::get<2>(key)), row});
  }
  std::stable_sort(all.begin(), all.end(), [](const ExporterSeries& a, const ExporterSeries& b) {
    return a.sum.records > b.sum.records;
  });
  if (all.size() > max) {
    for (size_t i = max; i < all.size(); ++i) add_row(other, all[i].sum);
    all.resize(max);
  }
  if (other.datagrams > 0) all.push_back({"other", "other", "other", other});
  return all;
}

std::string format_metrics(const MetricsSnapshot& s) {
  std::string out;
  out.reserve(8192);

#define FLOWGATE_X(m, h)                                        \
  header(out, "decode_" #m "_total", "counter", h);             \
  sample(out, "decode_" #m "_total", "", s.decode.m);
  FLOWGATE_DECODE_EVENTS(FLOWGATE_X)
#undef FLOWGATE_X

  header(out, "decode_errors_total", "counter",
         "datagrams a decoder stopped on, by reason (records decoded before the fault are kept)");
  for (size_t i = 1; i < s.decode.errors.size(); ++i) {
    const std::string labels = "{reason=\"" + std::string(decode::kDecodeStatusNames[i]) + "\"}";
    sample(out, "decode_errors_total", labels, s.decode.errors[i]);
  }

#define FLOWGATE_X(m, h)                                                                   \
  header(out, "worker_" #m "_total", "counter", h);                                        \
  for (size_t w = 0; w < s.workers.size(); ++w) {                                          \
    sample(out, "worker_" #m "_total", "{worker=\"" + std::to_string(w) + "\"}", s.workers[w].m); \
  }
  FLOWGATE_WORKER_COUNTERS(FLOWGATE_X)
#undef FLOWGATE_X

  // One unlabelled counter per member: <prefix><name>_total.
  const auto counters = [&](std::string_view prefix, const auto& set) {
    set.for_each([&](std::string_view name, std::string_view help, uint64_t v) {
      const std::string n = std::string(prefix) + std::string(name) + "_total";
      header(out, n, "counter", help);
      sample(out, n, "", v);
    });
  };
  counters("frames_", s.packets);
  // Fragment reassembly by event: the drop reasons behind worker_reassembly_failures_total.
  counters("reassembly_", s.reassembly);

#define FLOWGATE_X(m, n, t, h) \
  header(out, n, t, h);        \
  sample(out, n, "", s.pipeline.m);
  FLOWGATE_PIPELINE_FIGURES(FLOWGATE_X)
#undef FLOWGATE_X

  // Per listener.
  std::vector<decode::ListenerRow> listeners(s.listeners.size());
  for (const decode::ShardSnapshot& sh : s.shards) {
    for (size_t l = 0; l < listeners.size() && l < sh.listeners.size(); ++l) {
      listeners[l].datagrams += sh.listeners[l].datagrams;
      listeners[l].bytes += sh.listeners[l].bytes;
      listeners[l].records += sh.listeners[l].records;
      listeners[l].decode_errors += sh.listeners[l].decode_errors;
    }
  }
#define FLOWGATE_X(m, help)                                                                 \
  header(out, "listener_" #m "_total", "counter", help);                                    \
  for (size_t l = 0; l < listeners.size(); ++l) {                                           \
    sample(out, "listener_" #m "_total",                                                    \
           "{listener=\"" + label_value(s.listeners[l]) + "\"}", listeners[l].m);           \
  }
  FLOWGATE_X(datagrams, "datagrams decoded from the listener")
  FLOWGATE_X(bytes, "UDP payload bytes decoded from the listener")
  FLOWGATE_X(records, "flow records decoded from the listener")
  FLOWGATE_X(decode_errors, "datagrams from the listener a decoder stopped on")
#undef FLOWGATE_X

  // Per export stream, cardinality bounded by max_exporters.
  const std::vector<ExporterSeries> streams = exporter_series(s.shards, s.max_exporters);
  std::vector<std::string> labels;
  for (const ExporterSeries& e : streams) {
    labels.push_back("{exporter=\"" + label_value(e.exporter) + "\",type=\"" + e.type +
                     "\",domain=\"" + e.domain + "\"}");
  }
#define FLOWGATE_X(name, type, help, value)                      \
  header(out, name, type, help);                                 \
  for (size_t i = 0; i < streams.size(); ++i) {                  \
    const decode::ExporterRow& r = streams[i].sum;               \
    sample(out, name, labels[i], value);                         \
  }
  FLOWGATE_EXPORTER_SERIES(FLOWGATE_X)
#undef FLOWGATE_X
  header(out, "exporter_last_seen_timestamp_seconds", "gauge",
         "when the export stream's latest datagram arrived (Unix time)");
  for (size_t i = 0; i < streams.size(); ++i) {
    sample_double(out, "exporter_last_seen_timestamp_seconds", labels[i],
                  static_cast<double>(streams[i].sum.last_seen_ns) / 1e9, true);
  }
  uint64_t tracked = 0, overflow = 0, reclaimed = 0, templates = 0, pending = 0, interfaces = 0,
           refused = 0;
  for (const decode::ShardSnapshot& sh : s.shards) {
    tracked += sh.exporters.size();
    overflow += sh.exporter_overflow;
    reclaimed += sh.exporter_reclaimed;
    templates += sh.templates_known;
    pending += sh.pending_sets;
    interfaces += sh.interfaces.size();
    refused += sh.interfaces_refused;
  }
  header(out, "exporter_streams", "gauge", "export streams tracked (all, before max_exporters)");
  sample(out, "exporter_streams", "", tracked);
  header(out, "exporter_table_overflow_total", "counter",
         "datagrams of streams past the per-worker table's capacity (counted under other)");
  sample(out, "exporter_table_overflow_total", "", overflow);
  header(out, "exporter_streams_reclaimed_total", "counter",
         "new streams that took the per-worker table's row of a stream idle for an hour");
  sample(out, "exporter_streams_reclaimed_total", "", reclaimed);
  header(out, "templates_known", "gauge", "compiled v9/IPFIX templates held, all workers");
  sample(out, "templates_known", "", templates);
  header(out, "templates_pending_sets", "gauge", "data sets held, waiting for their template");
  sample(out, "templates_pending_sets", "", pending);

  // sFlow interface counters (counter samples), the latest per (agent, ifIndex).
  std::map<std::pair<std::string, uint32_t>, const decode::InterfaceCounters*> ifs;
  for (const decode::ShardSnapshot& sh : s.shards) {
    for (const decode::InterfaceCounters& c : sh.interfaces) {
      const decode::InterfaceCounters*& slot = ifs[{ip_text(c.agent), c.if_index}];
      if (slot == nullptr || c.updated_ns > slot->updated_ns) slot = &c;
    }
  }
  header(out, "sflow_interfaces", "gauge",
         "sFlow interfaces with counters (all, before max_interfaces)");
  sample(out, "sflow_interfaces", "", interfaces);
  header(out, "sflow_interfaces_refused_total", "counter",
         "sFlow interfaces not tracked: the per-worker table was full");
  sample(out, "sflow_interfaces_refused_total", "", refused);
  std::vector<std::pair<std::string, const decode::InterfaceCounters*>> shown;
  for (const auto& [key, c] : ifs) {
    if (shown.size() >= s.max_interfaces) break;
    shown.emplace_back("{agent=\"" + key.first + "\",if_index=\"" + std::to_string(key.second) +
                           "\"}",
                       c);
  }
#define FLOWGATE_X(name, type, help, value)            \
  header(out, "sflow_interface_" name, type, help);    \
  for (const auto& [l, c] : shown) {                   \
    const decode::GenericInterfaceCounters& g = c->generic; \
    if (c->has_generic) sample(out, "sflow_interface_" name, l, value); \
  }
  FLOWGATE_X("in_octets_total", "counter", "ifInOctets", g.in_octets)
  FLOWGATE_X("out_octets_total", "counter", "ifOutOctets", g.out_octets)
  FLOWGATE_X("in_packets_total", "counter", "ifInUcastPkts + ifInMulticastPkts + ifInBroadcastPkts",
             uint64_t{g.in_ucast_pkts} + g.in_multicast_pkts + g.in_broadcast_pkts)
  FLOWGATE_X("out_packets_total", "counter",
             "ifOutUcastPkts + ifOutMulticastPkts + ifOutBroadcastPkts",
             uint64_t{g.out_ucast_pkts} + g.out_multicast_pkts + g.out_broadcast_pkts)
  FLOWGATE_X("in_errors_total", "counter", "ifInErrors", g.in_errors)
  FLOWGATE_X("out_errors_total", "counter", "ifOutErrors", g.out_errors)
  FLOWGATE_X("in_discards_total", "counter", "ifInDiscards", g.in_discards)
  FLOWGATE_X("out_discards_total", "counter", "ifOutDiscards", g.out_discards)
  FLOWGATE_X("speed_bits_per_second", "gauge", "ifSpeed", g.if_speed)
  FLOWGATE_X("oper_up", "gauge", "1 when ifOperStatus is up", (g.if_status >> 1) & 1u)
#undef FLOWGATE_X

  // Sinks.
  header(out, "sink_batches_total", "counter",
         "JSON batches per sink by result: sent, retried, spooled, dropped");
  for (const SinkFigures& f : s.sinks) {
    const std::string l = "{sink=\"" + label_value(f.name) + "\",result=\"";
    sample(out, "sink_batches_total", l + "sent\"}", f.sent);
    sample(out, "sink_batches_total", l + "retried\"}", f.retried);
    sample(out, "sink_batches_total", l + "spooled\"}", f.spooled);
    sample(out, "sink_batches_total", l + "dropped\"}", f.dropped);
  }
  header(out, "sink_batch_latency_seconds", "histogram", "time to write one batch to a sink");
  for (const SinkFigures& f : s.sinks) {
    const std::string sink = "sink=\"" + label_value(f.name) + "\"";
    uint64_t cumulative = 0;
    for (size_t b = 0; b < f.latency_buckets.size(); ++b) {
      cumulative += f.latency_buckets[b];
      char le[32];
      if (b < SinkFigures::kLatencyBounds.size()) {
        std::snprintf(le, sizeof le, "%g", SinkFigures::kLatencyBounds[b]);
      } else {
        std::snprintf(le, sizeof le, "+Inf");
      }
      sample(out, "sink_batch_latency_seconds_bucket", "{" + sink + ",le=\"" + le + "\"}",
             cumulative);
    }
    sample_double(out, "sink_batch_latency_seconds_sum", "{" + sink + "}", f.latency_sum_seconds);
    sample(out, "sink_batch_latency_seconds_count", "{" + sink + "}", f.latency_count);
  }

  // HTTP sinks' own figures: spool and queue depth, records, replays.
#define FLOWGATE_X(m, h)                                                                     \
  {                                                                                          \
    const std::string_view help = h;                                                         \
    const bool gauge = help.starts_with("gauge: ");                                          \
    const std::string name = std::string("sink_") + #m + (gauge ? "" : "_total");            \
    bool any = false;                                                                        \
    for (const SinkFigures& f : s.sinks) {                                                   \
      if (!f.has_delivery) continue;                                                         \
      if (!any) header(out, name, gauge ? "gauge" : "counter", gauge ? help.substr(7) : help); \
      any = true;                                                                            \
      sample(out, name, "{sink=\"" + label_value(f.name) + "\"}", f.delivery.m);              \
    }                                                                                        \
  }
  FLOWGATE_SINK_COUNTERS(FLOWGATE_X)
#undef FLOWGATE_X

  std::string last;
  for (const SourceSample& x : s.source) {
    if (x.name != last) header(out, x.name, x.counter ? "counter" : "gauge", x.help);
    last = x.name;
    sample(out, x.name, x.labels, x.value);
  }
  return out;
}

void add_dpdk_samples(const dataplane::DpdkFigures& f, MetricsSnapshot& s) {
  auto port_samples = [&](const char* name, const char* help, auto field) {
    for (const dataplane::DpdkPortFigures& p : f.ports) {
      s.source.push_back({name, help, "{port=\"" + p.name + "\"}", p.*field, true});
    }
  };
  using P = dataplane::DpdkPortFigures;
  port_samples("dpdk_port_rx_packets_total", "packets the port received (rte_eth_stats ipackets)", &P::ipackets);
  port_samples("dpdk_port_rx_bytes_total", "bytes the port received", &P::ibytes);
  port_samples("dpdk_port_imissed_total",
               "packets the NIC dropped for want of a free RX descriptor: the workers fell behind",
               &P::imissed);
  port_samples("dpdk_port_ierrors_total", "erroneous packets the port received", &P::ierrors);
  port_samples("dpdk_port_rx_nombuf_total", "packets dropped for want of an mbuf in the pool",
               &P::rx_nombuf);
  port_samples("dpdk_port_tx_packets_total", "packets sent (ARP/ICMP/ND replies, the kernel's frames from exception_tap)", &P::opackets);
  s.source.push_back({"dpdk_dispatched_total", "frames the software-RSS dispatcher handed to a worker",
                      "", f.dispatched, true});
  s.source.push_back({"dpdk_dispatch_ring_full_total",
                      "frames dropped by the software-RSS dispatcher: a worker's ring stayed full for 100 ms",
                      "", f.dispatch_ring_full, true});
  s.source.push_back({"dpdk_exception_to_kernel_total",
                      "frames for no listener and no reply, handed to the kernel through exception_tap",
                      "", f.to_kernel, true});
  s.source.push_back({"dpdk_exception_from_kernel_total",
                      "frames the kernel sent through exception_tap, transmitted on the data port",
                      "", f.from_kernel, true});
  s.source.push_back({"dpdk_exception_drops_total",
                      "exception-path frames dropped: the TAP or the data port's TX queue took no more",
                      "", f.exception_drops, true});
  s.source.push_back({"dpdk_exception_rate_limited_total",
                      "frames for the kernel dropped past exception_rate (a worker's frames/s)",
                      "", f.exception_rate_limited, true});
}

}  // namespace flowgate::exporter
