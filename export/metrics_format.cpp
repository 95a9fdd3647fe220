#include "export/metrics_format.hpp"

#include <string_view>

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

}  // namespace

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

  s.packets.for_each([&](std::string_view name, std::string_view help, uint64_t v) {
    const std::string n = "frames_" + std::string(name) + "_total";
    header(out, n, "counter", help);
    sample(out, n, "", v);
  });

#define FLOWGATE_X(m, n, t, h) \
  header(out, n, t, h);        \
  sample(out, n, "", s.pipeline.m);
  FLOWGATE_PIPELINE_FIGURES(FLOWGATE_X)
#undef FLOWGATE_X

  std::string last;
  for (const SourceSample& x : s.source) {
    if (x.name != last) header(out, x.name, x.counter ? "counter" : "gauge", x.help);
    last = x.name;
    sample(out, x.name, x.labels, x.value);
  }
  return out;
}

}  // namespace flowgate::exporter
