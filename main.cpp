// flowgate: collect NetFlow v5/v9, IPFIX and sFlow v5 and write Datakit's NetFlow JSON record.

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config_loader.hpp"
#include "config/host_port.hpp"
#include "dataplane/af_packet_source.hpp"
#include "dataplane/dpdk_runtime.hpp"
#include "dataplane/pcap_source.hpp"
#include "dataplane/worker.hpp"
#include "decode/datagram_decoder.hpp"
#include "decode/interface_counter_store.hpp"
#include "decode/template_state.hpp"
#include "export/dashboard_api.hpp"
#include "export/dashboard_page.hpp"
#include "export/dashboard_window.hpp"
#include "export/http_sink.hpp"
#include "export/line_sink.hpp"
#include "export/memory_budget.hpp"
#include "export/metrics_format.hpp"
#include "export/metrics_server.hpp"
#include "export/pipeline_figures.hpp"
#include "export/record_pipeline.hpp"

namespace {

using namespace flowgate;

constexpr const char* kUsage =
    "usage: flowgate [-c FILE]                                collect ([collector] mode)\n"
    "       flowgate --pcap FILE [-c FILE] [--no-aggregate]   decode a capture and exit\n"
    "       flowgate [-c FILE] --check-config                 validate a configuration\n"
    "       flowgate --help | --version\n";

struct Options {
  std::string config_path;
  std::string pcap_path;
  bool check_config = false;
  bool no_aggregate = false;
};

bool parse_args(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    if ((a == "-c" || a == "--config") && value(o.config_path)) continue;
    if (a == "--pcap" && value(o.pcap_path)) continue;
    if (a == "--check-config") {
      o.check_config = true;
    } else if (a == "--no-aggregate") {
      o.no_aggregate = true;
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--version") {
      std::puts("flowgate 0.1.0");
      std::exit(0);
    } else {
      std::fprintf(stderr, "flowgate: unknown or incomplete argument '%s'\n%s", a.c_str(), kUsage);
      return false;
    }
  }
  return true;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

uint64_t wall_ms() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1'000'000;
}

// The collector's own address for the `ip` tag of Datakit log points: the first IPv4 address of
// an interface that is up and not loopback, else the first such IPv6 address, else "".
std::string collector_ip() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return "";
  std::string v4;
  std::string v6;
  for (const ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || (a->ifa_flags & IFF_UP) == 0 ||
        (a->ifa_flags & IFF_LOOPBACK) != 0) {
      continue;
    }
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ifa_addr->sa_family == AF_INET && v4.empty()) {
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr, text,
                sizeof text);
      v4 = text;
    } else if (a->ifa_addr->sa_family == AF_INET6 && v6.empty()) {
      inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr, text,
                sizeof text);
      v6 = text;
    }
  }
  freeifaddrs(list);
  return v4.empty() ? v6 : v4;
}

exporter::HttpSinkConfig http_sink_config(const config::Output& out) {
  exporter::HttpSinkConfig hc;
  hc.kind = out.type == config::OutputType::kDatakit      ? exporter::HttpSinkKind::kDatakit
            : out.type == config::OutputType::kClickhouse ? exporter::HttpSinkKind::kClickhouse
                                                          : exporter::HttpSinkKind::kJsonLines;
  hc.url = out.url;
  hc.database = out.database;
  hc.table = out.table;
  hc.http.timeout_ms = out.timeout_ms;
  hc.http.gzip = out.gzip;
  hc.retry_max_ms = out.retry_max_ms;
  hc.spool_dir = out.spool_dir;
  hc.spool_max_bytes = out.spool_max_bytes;
  hc.queue_batches = out.queue_batches;
  hc.shutdown_timeout_ms = out.shutdown_timeout_ms;
  return hc;
}

// Opens the configured sinks; false (after logging why) when one cannot be opened.
bool open_sinks(const config::Config& c, std::vector<std::unique_ptr<exporter::Sink>>& sinks) {
  for (const config::Output& out : c.outputs) {
    std::string error;
    if (out.type == config::OutputType::kStdout) {
      sinks.push_back(exporter::LineSink::standard_output());
    } else if (out.type == config::OutputType::kFile) {
      using Io = exporter::LineSink::Io;
      auto sink = exporter::LineSink::open_file(out.path, out.max_file_bytes, error,
                                                out.direct_io ? Io::kDirect : Io::kPageCache);
      if (sink == nullptr) {
        spdlog::error("cannot open output file {}", error);
        return false;
      }
      if (out.direct_io && sink->io() != Io::kDirect) {
        spdlog::warn("{}:{}: output {}: direct_io: the file system does not take O_DIRECT or "
                     "keeps files in memory (tmpfs); writing through the page cache",
                     c.path, out.line, out.path);
      }
      sinks.push_back(std::move(sink));
    } else {
      auto sink = exporter::HttpSink::open(http_sink_config(out), error);
      if (sink == nullptr) {
        spdlog::error("{}:{}: output {}: {}", c.path, out.line, out.url, error);
        return false;
      }
      if (out.spool_dir.empty()) {
        spdlog::warn("{}: no spool_dir: batches it cannot deliver while the queue is full are "
                     "dropped",
                     sink->name());
      }
      sinks.push_back(std::move(sink));
    }
  }
  return true;
}

// A worker's template cache caps from [collector] (the template timeout is set apart, as
// housekeeping applies it).
decode::TemplateCacheLimits template_cache_limits(const config::CollectorConfig& c) {
  decode::TemplateCacheLimits limits;
  limits.max_exporters = c.max_exporters;
  limits.max_templates = c.max_templates;
  limits.max_templates_per_exporter = c.max_templates_per_exporter;
  limits.pending_bytes = c.pending_bytes;
  limits.pending_bytes_per_exporter = c.pending_bytes_per_exporter;
  limits.max_pending_sets = c.max_pending_sets;
  limits.pending_ttl_ns = c.pending_timeout_ms * 1'000'000;
  return limits;
}

std::string decode_summary(const decode::DecodeCounters& dc) {
  std::string s;
#define FLOWGATE_X(m, h) \
  if (dc.m != 0) s += " " #m "=" + std::to_string(dc.m);
  FLOWGATE_DECODE_EVENTS(FLOWGATE_X)
#undef FLOWGATE_X
  s += " errors=" + std::to_string(dc.total_errors());
  for (size_t i = 1; i < dc.errors.size(); ++i) {
    if (dc.errors[i] != 0) {
      s += " " + std::string(decode::kDecodeStatusNames[i]) + "=" + std::to_string(dc.errors[i]);
    }
  }
  return s;
}

// Export streams and what their sequence numbers say was lost before the capture point.
std::string exporter_summary(const decode::ExporterStats& stats) {
  uint64_t lost = 0, late = 0, reordered = 0, resets = 0;
  stats.for_each([&](const decode::ExporterRow& r) {
    lost += r.lost_records;
    late += r.late_records;
    reordered += r.sequence.reordered;
    resets += r.sequence.resets;
  });
  return " streams=" + std::to_string(stats.size()) + " lost_records=" + std::to_string(lost) +
         " late_records=" + std::to_string(late) + " reordered=" + std::to_string(reordered) +
         " resets=" + std::to_string(resets);
}

// The listener a captured datagram was addressed to, by destination port; 0 when none
// matches (a capture may hold exports to any port: the protocol is detected per datagram).
uint16_t listener_for(const config::Config& c, uint16_t dst_port) {
  for (size_t i = 0; i < c.listeners.size(); ++i) {
    if (c.listeners[i].port == dst_port) return static_cast<uint16_t>(i);
  }
  return 0;
}

struct PcapRun {
  exporter::RecordPipeline* pipeline;
  uint64_t now_ms = 0;
};

decode::FlowBlock* pcap_block_full(void* ctx, decode::FlowBlock* full) noexcept {
  auto* run = static_cast<PcapRun*>(ctx);
  if (full != nullptr) {
    run->pipeline->add(*full, run->now_ms);
    full->clear();
  }
  return full;
}

// --pcap: the same decode and pipeline as the live collector, with the capture's clock.
int run_pcap(const Options& o, const config::Config& c) {
  std::vector<std::unique_ptr<exporter::Sink>> sinks;
  if (!open_sinks(c, sinks)) return 1;
  dataplane::PcapSource source;
  if (source.open(o.pcap_path) != dataplane::PcapStatus::kOk) {
    spdlog::error("{}", source.error());
    return 1;
  }
  exporter::RecordPipeline pipeline(c, c.aggregation.enabled && !o.no_aggregate, host_name(),
                                    std::move(sinks), collector_ip());
  PcapRun run{&pipeline};
  auto block = std::make_unique<decode::FlowBlock>();
  decode::FlowOutput out(block.get(), &pcap_block_full, &run);
  // The caps a live worker's cache has, so that a replay shows what the collector would do.
  auto templates = std::make_unique<decode::TemplateCache>(template_cache_limits(c.collector));
  decode::InterfaceCounterStore interface_counters;
  decode::ExporterStats exporter_stats;
  decode::DecodeCounters counters;
  uint64_t not_flow = 0;
  const bool progress = isatty(STDERR_FILENO) != 0;
  uint64_t frames_seen = 0;

  const dataplane::PcapStatus s = source.run([&](const dataplane::UdpDatagram& d) {
    if (decode::detect_flow_type(d.payload) == decode::FlowType::kUnknown) {
      ++not_flow;  // DNS, syslog, ... in the same capture: not an export datagram
      return;
    }
    run.now_ms = d.receive_ns / 1'000'000;
    decode::decode_datagram(d.payload, d.meta(listener_for(c, d.dst_port)), *templates, out,
                            counters, &interface_counters, &exporter_stats);
    pipeline.tick(run.now_ms);
    if (progress && (++frames_seen & 0xffff) == 0) {
      std::fprintf(stderr, "\rflowgate: %llu datagrams, %llu records",
                   static_cast<unsigned long long>(counters.datagrams),
                   static_cast<unsigned long long>(counters.records));
    }
  });
  if (progress && frames_seen >= 0x10000) std::fputc('\n', stderr);
  pcap_block_full(&run, block.get());
  pipeline.finish(run.now_ms);

  const dataplane::PacketCounters& pc = source.counters();
  std::fprintf(stderr,
               "flowgate: frames=%llu udp_datagrams=%llu not_flow_udp=%llu datagrams=%llu "
               "records=%llu options_records=%llu written=%llu\n",
               static_cast<unsigned long long>(pc.frames),
               static_cast<unsigned long long>(pc.udp_datagrams),
               static_cast<unsigned long long>(not_flow),
               static_cast<unsigned long long>(counters.datagrams),
               static_cast<unsigned long long>(counters.records),
               static_cast<unsigned long long>(counters.options_records),
               static_cast<unsigned long long>(pipeline.written()));
  std::fprintf(stderr, "flowgate: decode%s\n", decode_summary(counters).c_str());
  std::fprintf(stderr, "flowgate: exporters%s\n", exporter_summary(exporter_stats).c_str());
  if (s != dataplane::PcapStatus::kOk) {
    spdlog::error("{}", source.error());
    return 1;
  }
  return 0;
}

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reopen{false};
// The exporter thread's longest sleep when no worker rings: how late a flush timer, a figure or
// a signal's flag may be seen.
constexpr uint64_t kExporterWaitNs = 100'000'000;

extern "C" void on_signal(int sig) {
  if (sig == SIGHUP) {
    g_reopen.store(true, std::memory_order_relaxed);
  } else {
    g_stop.store(true, std::memory_order_relaxed);
  }
}

// A running packet source as the exporter thread sees it: the shards it drains, how to stop
// the source, and what the source adds to /metrics and to the exit summary.
struct RunningSource {
  std::vector<dataplane::DecodeShard*> shards;
  std::function<void()> request_stop;
  std::function<bool()> finished;
  std::function<void()> join;
  std::function<void()> tick = [] {};  // about once a second, on the exporter thread
  std::function<void(exporter::MetricsSnapshot&)> add_metrics = [](exporter::MetricsSnapshot&) {};
  std::function<uint64_t()> dropped = [] { return uint64_t{0}; };  // lost before decoding
};

// [collector] template_state: the file is loaded into every shard before the workers start
// (whichever worker an exporter lands on then has its templates: SO_REUSEPORT, the af_packet
// fanout and the DPDK hash decide that, not us), saved every template_state_interval from a
// thread of its own, and once more after the workers have finished. The workers only copy
// their caches into a buffer in housekeeping (DecodeShard::template_state); the file I/O and
// its fsyncs never run on a worker or the exporter thread.
class TemplatePersistence {
 public:
  explicit TemplatePersistence(const config::Config& c) : c_(c.collector), path_(c.path) {}
  TemplatePersistence(const TemplatePersistence&) = delete;
  TemplatePersistence& operator=(const TemplatePersistence&) = delete;
  ~TemplatePersistence() { stop_thread(); }

  bool enabled() const { return !c_.template_state.empty(); }

  // Before the workers start: sets every shard's template cache caps, template timeout and save
  // interval, and loads the file. False (logged) when its directory does not take a file of ours.
  bool prepare(const std::vector<dataplane::DecodeShard*>& shards) {
    shards_ = shards;
    const decode::TemplateCacheLimits limits = template_cache_limits(c_);
    for (dataplane::DecodeShard* s : shards_) {
      s->set_template_limits(limits);
      s->set_template_state(c_.template_timeout_ms, enabled() ? c_.template_state_interval_ms : 0);
    }
    if (!enabled()) return true;
    std::string error;
    if (!decode::probe_template_state_path(c_.template_state, error)) {
      spdlog::error("{}: collector.template_state: {} (the directory must be writable by "
                    "flowgate; or remove the key to run without template persistence)",
                    path_, error);
      return false;
    }
    std::vector<uint8_t> file;
    decode::StateStatus st = decode::read_template_state_file(c_.template_state, file);
    std::span<const uint8_t> body;
    if (st == decode::StateStatus::kOk) st = decode::parse_template_state(file, body);
    if (st == decode::StateStatus::kMissing) {
      spdlog::info("template state: no {} yet; templates are learned from the exporters",
                   c_.template_state);
      return true;
    }
    if (st != decode::StateStatus::kOk) {
      load_failures_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("template state: {} {}; ignored, starting with empty template caches",
                   c_.template_state, decode::state_status_text(st));
      return true;
    }
    const uint64_t now_ns = wall_ms() * 1'000'000;
    decode::StateLoadFigures first;
    for (size_t i = 0; i < shards_.size(); ++i) {
      decode::StateLoadFigures f;
      shards_[i]->load_template_state(body, now_ns, c_.template_timeout_ms * 1'000'000, f);
      if (i == 0) first = f;
    }
    loaded_templates_.store(first.templates, std::memory_order_relaxed);
    loaded_stale_.store(first.stale, std::memory_order_relaxed);
    spdlog::info("template state: loaded {} template(s) and {} sampling option(s) from {} into "
                 "each of {} worker(s); {} older than the template timeout skipped, {} refused",
                 first.templates, first.options, c_.template_state, shards_.size(), first.stale,
                 first.refused);
    return true;
  }

  // Starts the periodic saves (after the workers have started).
  void start() {
    if (!enabled()) return;
    thread_ = std::thread([this] {
      uint64_t next_ms = wall_ms() + c_.template_state_interval_ms;
      while (!stop_.load(std::memory_order_relaxed)) {
        const timespec pause{0, 50'000'000};
        nanosleep(&pause, nullptr);
        if (wall_ms() < next_ms) continue;
        next_ms = wall_ms() + c_.template_state_interval_ms;
        save(false);
      }
    });
  }

  // After the workers have finished (each copied its cache a last time in finish()).
  void finish() {
    stop_thread();
    if (enabled()) save(true);
  }

  void add_metrics(exporter::MetricsSnapshot& s) const {
    if (!enabled()) return;
    const auto add = [&](const char* name, const char* help, const std::atomic<uint64_t>& v,
                         bool counter) {
      s.source.push_back({name, help, "", v.load(std::memory_order_relaxed), counter});
    };
    add("template_state_saves_total", "template state files written", saves_, true);
    add("template_state_save_failures_total", "template state writes that failed (old file kept)",
        save_failures_, true);
    add("template_state_load_failures_total",
        "template state files ignored at start: corrupt, truncated or another version",
        load_failures_, true);
    add("template_state_loaded_templates", "templates loaded from the state file at start (per worker)",
        loaded_templates_, false);
    add("template_state_stale_skipped", "state file entries older than the template timeout at start",
        loaded_stale_, false);
    add("template_state_bytes", "size of the last template state file written", bytes_, false);
  }

 private:
  void stop_thread() {
    stop_.store(true, std::memory_order_relaxed);
    if (thread_.joinable()) thread_.join();
  }

  void save(bool final) {
    std::vector<std::vector<uint8_t>> bodies;
    for (const dataplane::DecodeShard* s : shards_) {
      uint64_t copies = 0;
      bodies.push_back(s->template_state(&copies));
      // A shard that has not copied its cache yet would save as empty: keep the old file.
      if (copies == 0) return;
    }
    const std::vector<uint8_t> file = decode::template_state_file(bodies, wall_ms() * 1'000'000);
    std::string error;
    if (!decode::write_template_state_file(c_.template_state, file, error)) {
      save_failures_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("template state: {}; the previous file is kept", error);
      return;
    }
    saves_.fetch_add(1, std::memory_order_relaxed);
    bytes_.store(file.size(), std::memory_order_relaxed);
    if (final) spdlog::info("template state: saved {} bytes to {}", file.size(), c_.template_state);
  }

  const config::CollectorConfig& c_;
  std::string path_;
  std::vector<dataplane::DecodeShard*> shards_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> saves_{0};
  std::atomic<uint64_t> save_failures_{0};
  std::atomic<uint64_t> load_failures_{0};
  std::atomic<uint64_t> loaded_templates_{0};
  std::atomic<uint64_t> loaded_stale_{0};
  std::atomic<uint64_t> bytes_{0};
};

// Tells the operator that the aggregation table is smaller than the traffic: every key written
// early is a record a larger table would have merged. At most every 10 minutes, from the
// exporter thread's once-a-second tick (never on the per-record path).
class KeyBoundWarning {
 public:
  // `bytes_a_key`: what one more key costs in tables (the figure the warning quotes).
  KeyBoundWarning(uint32_t max_keys, uint64_t bytes_a_key)
      : max_keys_(max_keys), bytes_a_key_(bytes_a_key) {}
  void check(uint64_t flushed_early, uint64_t now_ms) {
    if (flushed_early <= reported_ || now_ms < next_ms_) return;
    spdlog::warn(
        "aggregation table full: {} keys written early since {} (max_keys = {} live keys); raise "
        "[aggregation] max_keys towards the distinct keys of one flush_interval so they merge "
        "(about {} bytes a key); flowgate_aggregation_flushed_early_total counts them",
        flushed_early - reported_, reported_ == 0 ? "start" : "the last warning", max_keys_,
        bytes_a_key_);
    reported_ = flushed_early;
    next_ms_ = now_ms + 600'000;
  }

 private:
  uint32_t max_keys_;
  uint64_t bytes_a_key_;
  uint64_t reported_ = 0;
  uint64_t next_ms_ = 0;
};

// What /metrics and /api/summary show: the shards' published counters and snapshots, the
// exporter thread's figures, and what the source adds.
struct MetricsInputs {
  const config::Config& config;
  const RunningSource& source;
  const exporter::PublishedPipelineFigures& figures;
  const exporter::PublishedSinkFigures& sink_figures;
  const TemplatePersistence& persistence;
};

exporter::MetricsSnapshot metrics_snapshot(const MetricsInputs& in) {
  exporter::MetricsSnapshot s;
  for (const dataplane::DecodeShard* shard : in.source.shards) {
    s.decode.add(shard->decode_counters());
    s.workers.push_back(shard->worker_counters());
    s.packets.add(shard->published_packet_counters());
    s.reassembly.add(shard->published_reassembly_counters());
    s.shards.push_back(shard->snapshot());
  }
  s.pipeline = in.figures.load();
  s.sinks = in.sink_figures.load();
  for (const config::Listener& l : in.config.listeners) {
    s.listeners.push_back(l.bind_host + ":" + std::to_string(l.port));
  }
  s.max_exporters = in.config.metrics.max_exporters;
  s.max_interfaces = in.config.metrics.max_interfaces;
  in.source.add_metrics(s);
  in.persistence.add_metrics(s);
  return s;
}

// Serves /metrics, /healthz, the dashboard at / and its /api/summary from what the workers and
// the exporter thread publish. An address set in the file must bind; the default one only warns
// when taken (another collector on this host), so that collection itself does not depend on a
// free metrics port.
bool start_metrics(const MetricsInputs& in, const exporter::DashboardWindow& window,
                   exporter::MetricsServer& server) {
  const config::Config& c = in.config;
  if (c.metrics.listen.empty()) {
    spdlog::info("metrics endpoint disabled ([metrics] listen = \"\")");
    return true;
  }
  config::HostPort address;
  if (!config::parse_host_port(c.metrics.listen, address)) {
    spdlog::error("{}: metrics.listen: \"{}\" is not host:port or [IPv6]:port", c.path,
                  c.metrics.listen);
    return false;
  }
  auto render = [&in] { return exporter::format_metrics(metrics_snapshot(in)); };
  server.add_route("/", "text/html; charset=utf-8",
                   [] { return std::string(exporter::dashboard_page()); });
  server.add_route("/api/summary", "application/json", [&in, &window] {
    const uint64_t now = wall_ms();
    return exporter::dashboard_summary_json(window.summary(now, 10), metrics_snapshot(in), now);
  });
  std::string error;
  if (!server.start(address, render, error)) {
    if (c.metrics.listen_explicit) {
      spdlog::error("cannot serve metrics ([metrics] listen): {}", error);
      return false;
    }
    spdlog::warn("metrics endpoint not started: default address {}; set [metrics] listen to "
                 "another address, or \"\" to disable it",
                 error);
    return true;
  }
  spdlog::info("metrics on http://{}/metrics, dashboard on http://{}/", c.metrics.listen,
               c.metrics.listen);
  return true;
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// The live modes' pipeline, made before the mode is announced and the source starts: its
// aggregation tables are faulted in here, which takes a moment for a large max_keys, and the
// first datagrams must find the exporter ready, not wait in the socket buffer meanwhile.
std::unique_ptr<exporter::RecordPipeline> make_pipeline(
    const config::Config& c, std::vector<std::unique_ptr<exporter::Sink>> sinks) {
  return std::make_unique<exporter::RecordPipeline>(c, c.aggregation.enabled, host_name(),
                                                    std::move(sinks), collector_ip());
}

// The exporter thread, the same for every packet source: takes the blocks the shards hand off,
// returns them, runs the periodic work; on SIGTERM stops the source, drains the rings, flushes
// aggregation and sinks, and logs the exit summary.
int run_exporter(const config::Config& c, exporter::RecordPipeline& pipeline,
                 RunningSource& source, TemplatePersistence& persistence) {
  exporter::PublishedPipelineFigures figures;
  exporter::PublishedSinkFigures sink_figures;
  exporter::DashboardWindow window(c.metrics.dashboard_minutes);
  exporter::MetricsServer metrics;
  const MetricsInputs inputs{c, source, figures, sink_figures, persistence};
  if (!start_metrics(inputs, window, metrics)) {
    source.request_stop();
    source.join();
    return 1;
  }
  persistence.start();
  // The window costs the exporter thread a few table probes per record: only when served.
  if (metrics.port() != 0) pipeline.set_dashboard(&window);
  uint64_t next_tick_ms = 0;
  // Per key at the "auto" cap, where whole huge pages no longer weigh (a table of a few keys
  // still takes a few of them).
  KeyBoundWarning key_bound(
      c.aggregation.max_keys,
      exporter::aggregation_table_bytes(c, exporter::kAutoMaxKeys) / exporter::kAutoMaxKeys);
  auto drain = [&]() {
    size_t taken = 0;
    const uint64_t now = wall_ms();
    for (dataplane::DecodeShard* shard : source.shards) {
      // At most a ring's worth per pass: a worker that refills as fast as this empties must not
      // keep the exporter from its periodic work (flush timers, figures, SIGHUP).
      decode::FlowBlock* b = nullptr;
      for (size_t n = shard->full_blocks().capacity(); n > 0 && shard->full_blocks().try_pop(b); --n) {
        pipeline.add(*b, now);
        b->clear();
        shard->free_blocks().try_push(b);
        ++taken;
      }
    }
    pipeline.tick(now);
    const exporter::PipelineFigures f = exporter::PipelineFigures::of(pipeline);
    figures.publish(f);
    sink_figures.publish(pipeline.sink_figures());
    if (now >= next_tick_ms) {
      source.tick();
      key_bound.check(f.aggregation_flushed_early, now);
      next_tick_ms = now + 1000;
    }
    return taken;
  };
  // A pass that found fewer than `busy` blocks sleeps until a worker rings the doorbell, or
  // kExporterWaitNs at most: the periodic work (flush timers, figures, a signal's flag) needs
  // no more. A worker rings when its full ring reaches `wake_at` blocks (not when it goes to
  // sleep: blocks wait in the ring for the exporter's timer or the next ring, which at 25k
  // datagrams/s woke the exporter 35 times a second where a ring per worker sleep woke it 125
  // times), so at a low rate the exporter takes 16 blocks a wake-up, where a fixed pause woke
  // it hundreds of times a second for nothing (a wake-up costs a VM ~30-40 us of CPU). A pass
  // that found `busy` or more goes on at once. With a small pool (under 64 blocks) a single
  // block is enough for both: a few blocks may be all the worker has.
  const size_t busy = std::clamp<size_t>(c.collector.blocks_per_worker / 32, 1, 4);
  const size_t wake_at = busy == 1 ? 1 : std::min<size_t>(c.collector.blocks_per_worker / 8, 16);
  dataplane::Doorbell doorbell;
  for (dataplane::DecodeShard* shard : source.shards) shard->set_doorbell(&doorbell, wake_at);
  const auto work_waiting = [&] {
    if (g_stop.load(std::memory_order_relaxed) || g_reopen.load(std::memory_order_relaxed)) {
      return true;
    }
    for (dataplane::DecodeShard* shard : source.shards) {
      if (shard->full_blocks().size() >= busy) return true;
    }
    return false;
  };
  while (!g_stop.load(std::memory_order_relaxed)) {
    if (g_reopen.exchange(false)) {
      pipeline.reopen_sinks();
      spdlog::info("output files reopened");
    }
    if (drain() < busy) doorbell.wait(kExporterWaitNs, work_waiting);
  }
  // SIGTERM/SIGINT: the workers stop receiving and hand off their last blocks; everything in
  // the rings is written; aggregation and sinks are flushed.
  source.request_stop();
  while (!source.finished()) drain();
  drain();
  source.join();
  for (dataplane::DecodeShard* shard : source.shards) shard->set_doorbell(nullptr, wake_at);
  persistence.finish();
  source.tick();
  pipeline.finish(wall_ms());
  metrics.stop();

  const exporter::MetricsSnapshot s = metrics_snapshot(inputs);
  dataplane::WorkerCounters wk;
  for (const dataplane::WorkerCounters& w : s.workers) wk.add(w);
  const decode::DecodeCounters& dc = s.decode;
  uint64_t sink_dropped = 0;
  for (const auto& sink : pipeline.sinks()) {
    if (const exporter::SinkCounters* sc = sink->counters()) sink_dropped += sc->load().records_dropped;
  }
  const uint64_t dropped = wk.kernel_drops + dc.total_errors() + wk.ring_full_records +
                           dc.block_unavailable + dc.pending_dropped + pipeline.dropped() +
                           wk.oversize + wk.reassembly_failures + source.dropped() + sink_dropped;
  spdlog::info("exit summary: datagrams={} records={} written={} dropped={}", dc.datagrams,
               dc.records, pipeline.written(), dropped);
  spdlog::info("decode{}", decode_summary(dc));
  return 0;
}

std::vector<decode::FlowType> listener_types(const config::Config& c) {
  std::vector<decode::FlowType> types;
  for (const config::Listener& l : c.listeners) {
    types.push_back(l.auto_detect ? decode::FlowType::kUnknown : l.flow_type);
  }
  return types;
}

void log_listeners(const config::Config& c) {
  for (const config::Listener& li : c.listeners) {
    spdlog::info("listening on {}:{} for {}", li.bind_host, li.port,
                 li.auto_detect ? "any protocol" : std::string(decode::flow_type_name(li.flow_type)));
  }
}

// Socket mode: worker threads with SO_REUSEPORT sockets; this thread is the exporter thread.
int run_socket(const config::Config& c, std::vector<std::unique_ptr<exporter::Sink>> sinks) {
  for (size_t l = 0; l < c.listeners.size(); ++l) {
    std::string error;
    const dataplane::SocketListener probe{c.listeners[l].bind_host, c.listeners[l].port,
                                          static_cast<uint16_t>(l)};
    if (c.listeners[l].port != 0 && !dataplane::SocketSource::port_is_free(probe, error)) {
      spdlog::error("cannot listen: {}", error);
      return 1;
    }
  }
  // The pipeline first, then the sockets: a listener is bound only once its datagrams find the
  // exporter ready. Faulting in the aggregation tables takes up to a second or more on a VM whose
  // memory was never touched, and a bound port is what health checks, scripts and benchmark
  // harnesses take for "started".
  const std::unique_ptr<exporter::RecordPipeline> pipeline = make_pipeline(c, std::move(sinks));
  std::vector<std::unique_ptr<dataplane::Worker>> workers;
  for (uint32_t i = 0; i < c.collector.workers; ++i) {
    dataplane::WorkerConfig wc;
    wc.index = i;
    wc.cpu = i < c.collector.cpus.size() ? static_cast<int>(c.collector.cpus[i]) : -1;
    wc.blocks = c.collector.blocks_per_worker;
    wc.receive_buffer_bytes = static_cast<int>(c.collector.receive_buffer_bytes);
    wc.receive_coalesce_ns = c.collector.receive_coalesce_ms * 1'000'000;
    for (size_t l = 0; l < c.listeners.size(); ++l) {
      wc.listeners.push_back({c.listeners[l].bind_host, c.listeners[l].port, static_cast<uint16_t>(l)});
    }
    wc.listener_types = listener_types(c);
    workers.push_back(std::make_unique<dataplane::Worker>(std::move(wc)));
    std::string error;
    if (!workers.back()->open(error)) {
      spdlog::error("cannot listen: {}", error);
      return 1;
    }
  }
  if (const uint64_t coalesce_ns = workers.front()->receive_coalesce_ns();
      coalesce_ns < c.collector.receive_coalesce_ms * 1'000'000) {
    spdlog::warn(
        "[collector] receive_coalesce = {}ms lowered to {} us: the receive buffer the kernel "
        "granted holds only that long of {} datagrams a second; raise net.core.rmem_max (or run "
        "privileged) for receive_buffer_bytes = {} to take effect",
        c.collector.receive_coalesce_ms, coalesce_ns / 1000, dataplane::Worker::kCoalesceRate,
        c.collector.receive_buffer_bytes);
  }
  // Loaded before "socket mode" is logged (what scripts and tests wait for) and before the
  // workers start.
  TemplatePersistence persistence(c);
  std::vector<dataplane::DecodeShard*> shards;
  for (auto& w : workers) shards.push_back(&w->shard());
  if (!persistence.prepare(shards)) return 1;
  install_signal_handlers();
  log_listeners(c);
  spdlog::info("socket mode, {} worker(s), aggregation {}", workers.size(),
               c.aggregation.enabled ? "on" : "off");

  RunningSource source;
  source.shards = shards;
  source.request_stop = [&] {
    for (auto& w : workers) w->request_stop();
  };
  source.finished = [&] {
    for (auto& w : workers) {
      if (!w->finished()) return false;
    }
    return true;
  };
  source.join = [&] {
    for (auto& w : workers) w->join();
  };
  for (auto& w : workers) w->start();
  return run_exporter(c, *pipeline, source, persistence);
}

dataplane::DpdkOptions dpdk_options(const config::Config& c) {
  const config::DpdkConfig& d = c.collector.dpdk;
  dataplane::DpdkOptions o;
  o.devices = d.devices;
  o.eal_args = d.eal_args;
  o.exporter_lcore = d.exporter_lcores.empty() ? 0 : d.exporter_lcores.front();
  o.worker_lcores = d.worker_lcores;
  o.dispatch_lcore = d.dispatch_lcore;
  o.rss = d.rss == config::Rss::kHardware   ? dataplane::RssMode::kHardware
          : d.rss == config::Rss::kSoftware ? dataplane::RssMode::kSoftware
                                            : dataplane::RssMode::kAuto;
  o.rx_queues = d.rx_queues;
  o.rx_descriptors = d.rx_descriptors;
  o.mbufs = d.mbufs;
  o.mbuf_data_room = d.mbuf_data_room;
  o.burst = d.burst;
  o.idle_sleep_us = d.idle_sleep_us;
  o.dispatch_ring = d.dispatch_ring;
  for (const std::string& a : d.addresses) {
    decode::IpAddress ip;
    if (config::parse_ip(a, ip)) o.addresses.push_back(ip);
  }
  o.exception_tap = d.exception_tap;
  o.exception_rate = d.exception_rate;
  for (const config::Listener& l : c.listeners) o.listener_ports.push_back(l.port);
  o.listener_types = listener_types(c);
  o.blocks_per_worker = c.collector.blocks_per_worker;
  return o;
}

// DPDK mode: pinned worker lcores poll the NIC queues; this thread (the EAL main lcore) is the
// exporter.
int run_dpdk(const config::Config& c, std::vector<std::unique_ptr<exporter::Sink>> sinks) {
  if (c.collector.dpdk.devices.empty()) {
    spdlog::error("{}: collector.mode = \"dpdk\" needs [collector.dpdk] devices (PCI addresses "
                  "or vdevs)",
                  c.path);
    return 2;
  }
  std::string error;
  std::unique_ptr<dataplane::DpdkRuntime> dpdk = dataplane::DpdkRuntime::create(dpdk_options(c), error);
  if (dpdk == nullptr) {
    spdlog::error("dpdk: {}", error);
    return 1;
  }
  TemplatePersistence persistence(c);
  if (!persistence.prepare(dpdk->shards())) {
    dpdk->shutdown();
    return 1;
  }
  const std::unique_ptr<exporter::RecordPipeline> pipeline = make_pipeline(c, std::move(sinks));
  install_signal_handlers();
  log_listeners(c);
  spdlog::info("{}; aggregation {}", dpdk->description(), c.aggregation.enabled ? "on" : "off");

  RunningSource source;
  source.shards = dpdk->shards();
  source.request_stop = [&] { dpdk->request_stop(); };
  source.finished = [&] { return dpdk->finished(); };
  source.join = [&] { dpdk->shutdown(); };
  source.tick = [&] { dpdk->refresh_port_figures(); };
  source.add_metrics = [&](exporter::MetricsSnapshot& s) { exporter::add_dpdk_samples(dpdk->figures(), s); };
  source.dropped = [&] { return dpdk->figures().dropped(); };
  if (!dpdk->launch(error)) {
    spdlog::error("dpdk: {}", error);
    dpdk->shutdown();
    return 1;
  }
  return run_exporter(c, *pipeline, source, persistence);
}

// af_packet mode: a worker thread per TPACKET_V3 ring on the interface (a fanout group on the
// IP source address with two or more); this thread is the exporter. The rings are opened
// before the sinks, so that a missing capability is the first and only complaint.
int run_af_packet(const config::Config& c) {
  dataplane::AfPacketOptions o;
  o.interface = c.collector.af_packet.interface;
  o.workers = c.collector.workers;
  o.cpus = c.collector.cpus;
  o.block_size = c.collector.af_packet.block_size;
  o.blocks = c.collector.af_packet.blocks;
  o.block_timeout_ms = c.collector.af_packet.block_timeout_ms;
  for (const config::Listener& l : c.listeners) o.listener_ports.push_back(l.port);
  o.listener_types = listener_types(c);
  o.blocks_per_worker = c.collector.blocks_per_worker;
  std::string error;
  std::unique_ptr<dataplane::AfPacketSource> rings = dataplane::AfPacketSource::create(o, error);
  if (rings == nullptr) {
    spdlog::error("af_packet: {}", error);
    return 1;
  }
  std::vector<std::unique_ptr<exporter::Sink>> sinks;
  if (!open_sinks(c, sinks)) return 1;
  TemplatePersistence persistence(c);
  if (!persistence.prepare(rings->shards())) return 1;
  const std::unique_ptr<exporter::RecordPipeline> pipeline = make_pipeline(c, std::move(sinks));
  install_signal_handlers();
  log_listeners(c);
  spdlog::info("{}; aggregation {}", rings->description(), c.aggregation.enabled ? "on" : "off");

  RunningSource source;
  source.shards = rings->shards();
  source.request_stop = [&] { rings->request_stop(); };
  source.finished = [&] { return rings->finished(); };
  source.join = [&] { rings->join(); };
  rings->start();
  return run_exporter(c, *pipeline, source, persistence);
}

// Sizes [aggregation] max_keys = "auto" to the memory available, and logs what it took. The
// aggregation tables are faulted in when the pipeline is made: refuse, with the setting to
// change, a max_keys whose tables this machine (or this container's memory limit) cannot hold,
// rather than be killed by the OOM killer while faulting them in.
bool size_aggregation_tables(config::Config& c) {
  const std::optional<exporter::MemoryAvailable> have = exporter::memory_available_here();
  const bool automatic = c.aggregation.max_keys == 0;
  if (automatic) {
    c.aggregation.max_keys =
        have ? exporter::auto_max_keys(c, have->bytes) : config::AggregationConfig::kUnsizedMaxKeys;
  }
  const uint64_t need = exporter::aggregation_table_bytes(c, c.aggregation.max_keys);
  if (automatic) {
    spdlog::info(
        "aggregation table: {} keys, {} MiB ([aggregation] max_keys = \"auto\": up to {} keys in "
        "1/{} of the {})",
        c.aggregation.max_keys, need >> 20, exporter::kAutoMaxKeys, exporter::kAutoMemoryShare,
        have ? fmt::format("{} MiB {} leaves", have->bytes >> 20, have->source)
             : std::string("memory available, which could not be read"));
  }
  if (!have || need <= have->bytes / 10 * 9) return true;
  spdlog::error(
      "{}: [aggregation] max_keys = {} needs {} MiB of tables, faulted in at start, and {} "
      "leaves {} MiB: lower max_keys (about {} bytes a key)",
      c.path, c.aggregation.max_keys, need >> 20, have->source, have->bytes >> 20,
      need / c.aggregation.max_keys);
  return false;
}

int run_live(const config::Config& c) {
  if (c.listeners.empty()) {
    spdlog::error("{}: no listeners: add [[inputs.netflow.listeners]]", c.path);
    return 2;
  }
  if (c.collector.mode == config::Mode::kAfPacket) return run_af_packet(c);
  std::vector<std::unique_ptr<exporter::Sink>> sinks;
  if (!open_sinks(c, sinks)) return 1;
  if (c.collector.mode == config::Mode::kDpdk) return run_dpdk(c, std::move(sinks));
  return run_socket(c, std::move(sinks));
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("flowgate"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  Options o;
  if (!parse_args(argc, argv, o)) return 2;
  const config::LoadResult loaded =
      o.config_path.empty()
          ? config::load_config_string(config::embedded_default_config(), "<embedded>")
          : config::load_config_file(o.config_path);
  if (!loaded.ok()) {
    for (const config::ConfigError& e : loaded.errors) {
      std::fprintf(stderr, "%s\n", e.to_string().c_str());
    }
    return 2;
  }
  if (o.check_config) {
    std::puts("ok");
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(loaded.config.log_level));
  config::Config c = loaded.config;
  const bool aggregates = c.aggregation.enabled && (!o.no_aggregate || o.pcap_path.empty());
  if (aggregates && !size_aggregation_tables(c)) return 2;
  if (!o.pcap_path.empty()) return run_pcap(o, c);
  return run_live(c);
}
