// flowgate: decode NetFlow v5/v9, IPFIX and sFlow v5 into Datakit's NetFlow JSON record.

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "config/config_loader.hpp"
#include "dataplane/pcap_source.hpp"
#include "decode/datagram_decoder.hpp"
#include "decode/interface_counter_store.hpp"
#include "export/aggregator.hpp"
#include "export/json_encoder.hpp"
#include "export/line_sink.hpp"

namespace {

using namespace flowgate;

constexpr const char* kUsage =
    "usage: flowgate --pcap FILE [-c FILE] [--no-aggregate]   decode a capture and exit\n"
    "       flowgate -c FILE --check-config                   validate a configuration\n"
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

uint64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1'000'000;
}

// Writes every record of full blocks to the sinks; the encoder of each record's input block.
class RecordWriter {
 public:
  RecordWriter(const config::Config& c, std::vector<std::unique_ptr<exporter::LineSink>> sinks)
      : config_(c), sinks_(std::move(sinks)) {
    const std::string host = host_name();
    for (const config::Input& in : c.inputs) {
      exporter::EncoderConfig ec;
      ec.host = host;
      ec.device_namespace = in.device_namespace;
      for (const auto& [k, v] : in.tags) {
        if (k == "host") {
          ec.host = v;  // the host tag overrides the collector's name, as in Datakit
        } else {
          ec.tags.emplace_back(k, v);
        }
      }
      encoders_.emplace_back(ec);
    }
    buffer_.reserve(1 << 20);
  }

  void write(const decode::FlowBlock& b) {
    const uint64_t flush_ms = now_ms();
    for (uint32_t r = 0; r < b.size; ++r) {
      const uint16_t l = b.listener[r];
      const uint32_t input = l < config_.listeners.size() ? config_.listeners[l].input : 0;
      encoders_[input].encode(b, r, flush_ms, buffer_);
      ++written_;
    }
    for (auto& s : sinks_) s->write(buffer_);
    buffer_.clear();
  }
  void flush() {
    for (auto& s : sinks_) s->flush();
  }
  uint64_t written() const { return written_; }

 private:
  const config::Config& config_;
  std::vector<std::unique_ptr<exporter::LineSink>> sinks_;
  std::vector<exporter::JsonEncoder> encoders_;
  std::string buffer_;
  uint64_t written_ = 0;
};

// The --pcap pipeline: decoded blocks go through the aggregator (when on) to the writer.
// Times are the capture's, so a capture decodes to the same output on every run.
struct PcapRun {
  RecordWriter* writer = nullptr;
  exporter::Aggregator* aggregator = nullptr;  // nullptr: every record as decoded
  decode::FlowOutput* aggregated = nullptr;
  uint64_t now_ms = 0;
};

decode::FlowBlock* write_block(void* ctx, decode::FlowBlock* full) noexcept {
  auto* run = static_cast<PcapRun*>(ctx);
  if (full != nullptr) {
    run->writer->write(*full);
    full->clear();
  }
  return full;
}

decode::FlowBlock* decoded_block(void* ctx, decode::FlowBlock* full) noexcept {
  auto* run = static_cast<PcapRun*>(ctx);
  if (full == nullptr) return nullptr;
  if (run->aggregator != nullptr) {
    run->aggregator->add(*full, run->now_ms, *run->aggregated);
    full->clear();
    return full;
  }
  return write_block(ctx, full);
}

// The listener a datagram was addressed to, by destination port; 0 when none matches (a
// capture may hold exports to any port: the protocol is detected per datagram).
uint16_t listener_for(const config::Config& c, uint16_t dst_port) {
  for (size_t i = 0; i < c.listeners.size(); ++i) {
    if (c.listeners[i].port == dst_port) return static_cast<uint16_t>(i);
  }
  return 0;
}

void print_summary(const dataplane::PcapSource& src, const decode::DecodeCounters& dc,
                   uint64_t not_flow, uint64_t written) {
  const dataplane::PacketCounters& pc = src.counters();
  std::fprintf(stderr,
               "flowgate: frames=%llu udp_datagrams=%llu not_flow_udp=%llu datagrams=%llu "
               "records=%llu options_records=%llu written=%llu\n",
               static_cast<unsigned long long>(pc.frames),
               static_cast<unsigned long long>(pc.udp_datagrams),
               static_cast<unsigned long long>(not_flow),
               static_cast<unsigned long long>(dc.datagrams),
               static_cast<unsigned long long>(dc.records),
               static_cast<unsigned long long>(dc.options_records),
               static_cast<unsigned long long>(written));
  std::string events;
#define FLOWGATE_X(m, h)                                            \
  if (dc.m != 0 && std::strcmp(#m, "datagrams") != 0 &&             \
      std::strcmp(#m, "records") != 0 && std::strcmp(#m, "options_records") != 0) { \
    events += " " #m "=" + std::to_string(dc.m);                    \
  }
  FLOWGATE_DECODE_EVENTS(FLOWGATE_X)
#undef FLOWGATE_X
  if (!events.empty()) std::fprintf(stderr, "flowgate: decode%s\n", events.c_str());
  std::string errors;
  for (size_t i = 1; i < dc.errors.size(); ++i) {
    if (dc.errors[i] != 0) {
      errors += " " + std::string(decode::kDecodeStatusNames[i]) + "=" + std::to_string(dc.errors[i]);
    }
  }
  std::fprintf(stderr, "flowgate: errors=%llu%s\n",
               static_cast<unsigned long long>(dc.total_errors()), errors.c_str());
}

int run_pcap(const Options& o, const config::Config& c) {
  std::vector<std::unique_ptr<exporter::LineSink>> sinks;
  for (const config::Output& out : c.outputs) {
    if (out.type == config::OutputType::kStdout) {
      sinks.push_back(exporter::LineSink::standard_output());
    } else if (out.type == config::OutputType::kFile) {
      auto sink = exporter::LineSink::open_file(out.path);
      if (sink == nullptr) {
        std::fprintf(stderr, "flowgate: cannot open %s: %s\n", out.path.c_str(),
                     std::strerror(errno));
        return 1;
      }
      sinks.push_back(std::move(sink));
    } else {
      std::fprintf(stderr,
                   "flowgate: %s: only stdout and file outputs are available in this version\n",
                   c.path.c_str());
      return 2;
    }
  }
  dataplane::PcapSource source;
  if (source.open(o.pcap_path) != dataplane::PcapStatus::kOk) {
    std::fprintf(stderr, "flowgate: %s\n", source.error().c_str());
    return 1;
  }
  RecordWriter writer(c, std::move(sinks));
  PcapRun run;
  run.writer = &writer;
  auto decode_block = std::make_unique<decode::FlowBlock>();
  auto output_block = std::make_unique<decode::FlowBlock>();
  decode::FlowOutput aggregated(output_block.get(), &write_block, &run);
  std::unique_ptr<exporter::Aggregator> aggregator;
  if (c.aggregation.enabled && !o.no_aggregate) {
    exporter::AggregatorConfig ac;
    ac.flush_interval_ms = c.aggregation.flush_interval_ms;
    ac.port_rollup_threshold = c.aggregation.port_rollup_threshold;
    ac.rollup_refresh_ms = c.aggregation.rollup_refresh_ms;
    ac.max_keys = c.aggregation.max_keys;
    for (const config::Listener& l : c.listeners) {
      ac.listener_namespace.push_back(static_cast<uint16_t>(l.input));
    }
    aggregator = std::make_unique<exporter::Aggregator>(std::move(ac));
    run.aggregator = aggregator.get();
    run.aggregated = &aggregated;
  }
  decode::FlowOutput out(decode_block.get(), &decoded_block, &run);
  auto templates = std::make_unique<decode::TemplateCache>();
  decode::InterfaceCounterStore interface_counters;
  decode::DecodeCounters counters;
  uint64_t not_flow = 0;
  uint64_t next_flush_check_ms = 0;
  constexpr uint64_t kFlushCheckMs = 10'000;  // as the reference: a flush check every 10 s

  const dataplane::PcapStatus s = source.run([&](const dataplane::UdpDatagram& d) {
    if (decode::detect_flow_type(d.payload) == decode::FlowType::kUnknown) {
      ++not_flow;  // DNS, syslog, ... in the same capture: not an export datagram
      return;
    }
    run.now_ms = d.receive_ns / 1'000'000;
    decode::decode_datagram(d.payload, d.meta(listener_for(c, d.dst_port)), *templates, out,
                            counters, &interface_counters);
    if (aggregator != nullptr && run.now_ms >= next_flush_check_ms) {
      decoded_block(&run, out.block());  // what is decoded so far joins the aggregates first
      aggregator->flush_due(run.now_ms, aggregated);
      next_flush_check_ms = run.now_ms + kFlushCheckMs;
    }
  });
  // End of the capture: everything decoded and aggregated is written.
  decoded_block(&run, out.block());
  if (aggregator != nullptr) aggregator->flush_all(aggregated);
  write_block(&run, aggregated.block());
  writer.flush();
  print_summary(source, counters, not_flow, writer.written());
  if (s != dataplane::PcapStatus::kOk) {
    std::fprintf(stderr, "flowgate: %s\n", source.error().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
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
  if (!o.pcap_path.empty()) return run_pcap(o, loaded.config);
  std::fprintf(stderr,
               "flowgate: live collection is not available in this version yet; decode a "
               "capture with --pcap FILE\n%s",
               kUsage);
  return 2;
}
