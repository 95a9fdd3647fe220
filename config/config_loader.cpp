#include "config/config_loader.hpp"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>
#include <toml++/toml.h>

#include "config/host_port.hpp"

namespace flowgate::config {
namespace {

using decode::FlowType;

std::string join(std::initializer_list<std::string_view> names) {
  std::string s;
  for (std::string_view n : names) {
    if (!s.empty()) s += ", ";
    s += n;
  }
  return s;
}

const char* type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date/time";
  }
}

// Walks the parsed document, collecting every problem instead of stopping at the first.
class Reader {
 public:
  Reader(std::string file, std::vector<ConfigError>& errors)
      : file_(std::move(file)), errors_(errors) {}

  void error(const toml::source_region& where, std::string key, std::string message) {
    errors_.push_back(ConfigError{file_, static_cast<uint32_t>(where.begin.line),
                                  static_cast<uint32_t>(where.begin.column), std::move(key),
                                  std::move(message)});
  }

  void check_keys(const toml::table& t, const std::string& path,
                  std::initializer_list<std::string_view> allowed) {
    for (auto&& [k, v] : t) {
      if (std::find(allowed.begin(), allowed.end(), k.str()) == allowed.end()) {
        error(k.source(), child(path, k.str()),
              "unknown key; expected one of: " + join(allowed));
      }
    }
  }

  static std::string child(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }

  const toml::table* table(const toml::table& t, const std::string& path, std::string_view key) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) {
      error(n->source(), child(path, key), std::string("expected a table, got ") + type_name(*n));
      return nullptr;
    }
    return n->as_table();
  }

  void read_string(const toml::table& t, const std::string& path, std::string_view key,
                   std::string& out, bool allow_empty = false) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    if (!n->is_string()) {
      error(n->source(), child(path, key), std::string("expected a string, got ") + type_name(*n));
      return;
    }
    std::string v = **n->as_string();
    if (v.empty() && !allow_empty) {
      error(n->source(), child(path, key), "must not be empty");
      return;
    }
    out = std::move(v);
  }

  void read_bool(const toml::table& t, const std::string& path, std::string_view key, bool& out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    if (!n->is_boolean()) {
      error(n->source(), child(path, key), std::string("expected true or false, got ") + type_name(*n));
      return;
    }
    out = **n->as_boolean();
  }

  template <typename T>
  void read_uint(const toml::table& t, const std::string& path, std::string_view key, int64_t min,
                 int64_t max, T& out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    read_uint_node(*n, child(path, key), min, max, out);
  }

  template <typename T>
  bool read_uint_node(const toml::node& n, const std::string& key, int64_t min, int64_t max,
                      T& out) {
    if (!n.is_integer()) {
      error(n.source(), key, "expected an integer " + std::to_string(min) + ".." +
                                 std::to_string(max) + ", got " + type_name(n));
      return false;
    }
    const int64_t v = **n.as_integer();
    if (v < min || v > max) {
      error(n.source(), key, std::to_string(v) + " is out of range " + std::to_string(min) +
                                 ".." + std::to_string(max));
      return false;
    }
    out = static_cast<T>(v);
    return true;
  }

  void read_duration(const toml::table& t, const std::string& path, std::string_view key,
                     uint64_t min_ms, uint64_t& out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    uint64_t ms = 0;
    bool ok = false;
    if (n->is_string()) {
      ok = parse_duration_ms(**n->as_string(), ms);
    } else if (n->is_integer() && **n->as_integer() >= 0) {
      ms = static_cast<uint64_t>(**n->as_integer()) * 1000;
      ok = true;
    }
    if (!ok) {
      error(n->source(), child(path, key),
            "expected a duration such as \"300s\", \"5m\", \"1h\" or \"500ms\"");
      return;
    }
    if (ms < min_ms) {
      error(n->source(), child(path, key),
            "must be at least " + std::to_string(min_ms) + "ms");
      return;
    }
    out = ms;
  }

  void read_string_array(const toml::table& t, const std::string& path, std::string_view key,
                         std::vector<std::string>& out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    const toml::array* a = n->as_array();
    if (a == nullptr) {
      error(n->source(), child(path, key), std::string("expected an array of strings, got ") + type_name(*n));
      return;
    }
    out.clear();
    for (size_t i = 0; i < a->size(); ++i) {
      const toml::node& e = (*a)[i];
      if (!e.is_string()) {
        error(e.source(), child(path, key) + "[" + std::to_string(i) + "]",
              std::string("expected a string, got ") + type_name(e));
        continue;
      }
      out.push_back(**e.as_string());
    }
  }

  void read_uint_array(const toml::table& t, const std::string& path, std::string_view key,
                       int64_t max, std::vector<uint32_t>& out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    const toml::array* a = n->as_array();
    if (a == nullptr) {
      error(n->source(), child(path, key), std::string("expected an array of integers, got ") + type_name(*n));
      return;
    }
    out.clear();
    for (size_t i = 0; i < a->size(); ++i) {
      uint32_t v = 0;
      if (read_uint_node((*a)[i], child(path, key) + "[" + std::to_string(i) + "]", 0, max, v)) {
        out.push_back(v);
      }
    }
  }

  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<ConfigError>& errors_;
};

bool valid_ip(const std::string& s) {
  decode::IpAddress ignored;
  return parse_ip(s, ignored);
}

// Two listeners collide when the kernel would hand one port's datagrams to both sockets:
// the same address, or a wildcard and any address of its family ("::" takes IPv4 too).
bool listeners_collide(const Listener& a, const Listener& b) {
  if (a.port != b.port) return false;
  if (a.bind_host == b.bind_host || a.bind_host == "::" || b.bind_host == "::") return true;
  auto v4 = [](const std::string& h) { return h.find(':') == std::string::npos; };
  return (a.bind_host == "0.0.0.0" && v4(b.bind_host)) || (b.bind_host == "0.0.0.0" && v4(a.bind_host));
}

// Record keys (DESIGN.md) and the log point's fields a user tag must not shadow. `host` is
// allowed: it overrides the collector's host name, as in Datakit.
constexpr std::string_view kReservedTags[] = {
    "flush_timestamp", "type", "sampling_rate", "direction", "start", "end", "bytes", "packets",
    "ether_type", "ip_protocol", "device", "exporter", "source", "destination", "ingress",
    "egress", "tcp_flags", "next_hop", "message", "status", "dest_ip", "dest_port",
    "device_ip", "source_ip", "source_port", "ip"};

void read_inputs(Reader& r, const toml::table& root, Config& c) {
  const toml::table* inputs = r.table(root, "", "inputs");
  if (inputs == nullptr) return;
  r.check_keys(*inputs, "inputs", {"netflow"});
  const toml::node* nf = inputs->get("netflow");
  if (nf == nullptr) return;
  const toml::array* blocks = nf->as_array();
  if (blocks == nullptr) {
    r.error(nf->source(), "inputs.netflow", "expected [[inputs.netflow]] blocks (an array of tables)");
    return;
  }
  for (size_t i = 0; i < blocks->size(); ++i) {
    const std::string path = "inputs.netflow[" + std::to_string(i) + "]";
    const toml::table* t = (*blocks)[i].as_table();
    if (t == nullptr) {
      r.error((*blocks)[i].source(), path, "expected a table");
      continue;
    }
    r.check_keys(*t, path, {"source", "namespace", "listeners", "tags"});
    Input in;
    r.read_string(*t, path, "source", in.source);
    r.read_string(*t, path, "namespace", in.device_namespace);
    if (const toml::table* tags = r.table(*t, path, "tags")) {
      // toml++ tables are ordered by key; tags are attached in the order the file gives them.
      std::vector<std::pair<const toml::key*, const toml::node*>> ordered;
      for (auto&& [k, v] : *tags) ordered.emplace_back(&k, &v);
      std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
        return std::tie(a.first->source().begin.line, a.first->source().begin.column) <
               std::tie(b.first->source().begin.line, b.first->source().begin.column);
      });
      for (auto [kp, vp] : ordered) {
        const toml::key& k = *kp;
        const toml::node& v = *vp;
        const std::string key = path + ".tags." + std::string(k.str());
        if (std::find(std::begin(kReservedTags), std::end(kReservedTags), k.str()) !=
            std::end(kReservedTags)) {
          r.error(k.source(), key,
                  "collides with a key of the emitted record; choose another tag name");
          continue;
        }
        if (!v.is_string()) {
          r.error(v.source(), key, std::string("expected a string, got ") + type_name(v));
          continue;
        }
        in.tags.emplace_back(std::string(k.str()), **v.as_string());
      }
    }
    const auto input_index = static_cast<uint32_t>(c.inputs.size());
    if (const toml::node* ln = t->get("listeners")) {
      const toml::array* ls = ln->as_array();
      if (ls == nullptr) {
        r.error(ln->source(), path + ".listeners", "expected [[inputs.netflow.listeners]] blocks");
      } else {
        for (size_t j = 0; j < ls->size(); ++j) {
          const std::string lpath = path + ".listeners[" + std::to_string(j) + "]";
          const toml::table* lt = (*ls)[j].as_table();
          if (lt == nullptr) {
            r.error((*ls)[j].source(), lpath, "expected a table");
            continue;
          }
          r.check_keys(*lt, lpath, {"flow_type", "port", "bind_host"});
          Listener l;
          l.input = input_index;
          l.line = static_cast<uint32_t>(lt->source().begin.line);
          l.column = static_cast<uint32_t>(lt->source().begin.column);
          std::string type;
          const toml::node* tn = lt->get("flow_type");
          if (tn == nullptr) {
            r.error(lt->source(), lpath + ".flow_type",
                    "missing; expected netflow5, netflow9, ipfix, sflow5 or auto");
            continue;
          }
          r.read_string(*lt, lpath, "flow_type", type);
          uint16_t default_port = 0;
          if (type == "netflow5") {
            l.flow_type = FlowType::kNetflow5;
            default_port = 2055;
          } else if (type == "netflow9") {
            l.flow_type = FlowType::kNetflow9;
            default_port = 2055;
          } else if (type == "ipfix") {
            l.flow_type = FlowType::kIpfix;
            default_port = 4739;
          } else if (type == "sflow5") {
            l.flow_type = FlowType::kSflow5;
            default_port = 6343;
          } else if (type == "auto") {
            l.auto_detect = true;
            default_port = 2055;
          } else {
            if (!type.empty()) {
              r.error(tn->source(), lpath + ".flow_type",
                      "\"" + type + "\" is not a flow type; expected netflow5, netflow9, ipfix, sflow5 or auto");
            }
            continue;
          }
          l.port = default_port;
          r.read_uint(*lt, lpath, "port", 1, 65535, l.port);
          r.read_string(*lt, lpath, "bind_host", l.bind_host);
          if (!l.bind_host.empty() && !valid_ip(l.bind_host)) {
            r.error(lt->get("bind_host")->source(), lpath + ".bind_host",
                    "\"" + l.bind_host + "\" is not an IPv4 or IPv6 address");
          }
          c.listeners.push_back(std::move(l));
        }
      }
    }
    c.inputs.push_back(std::move(in));
  }
}

// [collector] template_state: the file must be one flowgate can replace atomically, so its
// directory must exist and be writable (the temporary file and the rename happen there).
void read_template_state(Reader& r, const toml::table& t, CollectorConfig& c) {
  r.read_string(t, "collector", "template_state", c.template_state, true);
  r.read_duration(t, "collector", "template_state_interval", 1000, c.template_state_interval_ms);
  r.read_duration(t, "collector", "template_timeout", 0, c.template_timeout_ms);
  if (c.template_state.empty()) return;
  const toml::node* n = t.get("template_state");
  const std::string& path = c.template_state;
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  struct stat st {};
  if (path.back() == '/' || (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))) {
    r.error(n->source(), "collector.template_state",
            "\"" + path + "\" is a directory; name a file in it, e.g. \"" +
                (path.back() == '/' ? path : path + "/") + "templates.state\"");
  } else if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    r.error(n->source(), "collector.template_state",
            "directory \"" + dir + "\" does not exist; create it (writable by flowgate)");
  } else if (access(dir.c_str(), W_OK | X_OK) != 0) {
    r.error(n->source(), "collector.template_state",
            "directory \"" + dir + "\" is not writable; flowgate writes the file there atomically "
            "(a temporary file, then a rename)");
  }
}

void read_collector(Reader& r, const toml::table& root, Config& c) {
  const toml::table* t = r.table(root, "", "collector");
  if (t == nullptr) return;
  r.check_keys(*t, "collector",
               {"mode", "workers", "cpus", "bind_host", "blocks_per_worker", "receive_buffer_bytes",
                "template_state", "template_state_interval", "template_timeout", "max_exporters",
                "max_templates", "max_templates_per_exporter", "dpdk", "af_packet"});
  std::string mode;
  r.read_string(*t, "collector", "mode", mode);
  if (mode == "socket") {
    c.collector.mode = Mode::kSocket;
  } else if (mode == "af_packet") {
    c.collector.mode = Mode::kAfPacket;
  } else if (mode == "dpdk") {
    c.collector.mode = Mode::kDpdk;
  } else if (!mode.empty()) {
    r.error(t->get("mode")->source(), "collector.mode",
            "\"" + mode + "\" is not a mode; expected socket, af_packet or dpdk");
  }
  r.read_uint(*t, "collector", "workers", 1, 256, c.collector.workers);
  r.read_uint(*t, "collector", "blocks_per_worker", 4, 65536, c.collector.blocks_per_worker);
  r.read_uint(*t, "collector", "receive_buffer_bytes", 65536, 1 << 30,
              c.collector.receive_buffer_bytes);
  r.read_uint_array(*t, "collector", "cpus", 4095, c.collector.cpus);
  read_template_state(r, *t, c.collector);
  // Exporter indexes are packed into 16 bits of a template's key: at most 65535.
  r.read_uint(*t, "collector", "max_exporters", 1, 65535, c.collector.max_exporters);
  r.read_uint(*t, "collector", "max_templates", 1, 262'144, c.collector.max_templates);
  r.read_uint(*t, "collector", "max_templates_per_exporter", 1, 65535,
              c.collector.max_templates_per_exporter);
  r.read_string(*t, "collector", "bind_host", c.collector.bind_host);
  if (!valid_ip(c.collector.bind_host)) {
    r.error(t->get("bind_host")->source(), "collector.bind_host",
            "\"" + c.collector.bind_host + "\" is not an IPv4 or IPv6 address");
  }
  if (const toml::table* d = r.table(*t, "collector", "dpdk")) {
    const std::string p = "collector.dpdk";
    r.check_keys(*d, p, {"devices", "eal_args", "worker_lcores", "exporter_lcores",
                         "dispatch_lcore", "rss", "rx_queues", "rx_descriptors", "mbufs",
                         "mbuf_data_room", "burst", "idle_sleep_us", "dispatch_ring", "address",
                         "addresses"});
    DpdkConfig& dp = c.collector.dpdk;
    r.read_string_array(*d, p, "devices", dp.devices);
    r.read_string_array(*d, p, "eal_args", dp.eal_args);
    r.read_uint_array(*d, p, "worker_lcores", 1023, dp.worker_lcores);
    r.read_uint_array(*d, p, "exporter_lcores", 1023, dp.exporter_lcores);
    if (dp.worker_lcores.empty() && d->get("worker_lcores") != nullptr) {
      r.error(d->get("worker_lcores")->source(), p + ".worker_lcores", "needs at least one lcore");
    }
    if (dp.exporter_lcores.size() != 1 && d->get("exporter_lcores") != nullptr) {
      r.error(d->get("exporter_lcores")->source(), p + ".exporter_lcores",
              "expected exactly one lcore (the EAL main lcore runs the exporter)");
    }
    r.read_uint(*d, p, "dispatch_lcore", 0, 1023, dp.dispatch_lcore);
    std::string rss = "auto";
    r.read_string(*d, p, "rss", rss);
    if (rss == "hardware") {
      dp.rss = Rss::kHardware;
    } else if (rss == "software") {
      dp.rss = Rss::kSoftware;
    } else if (rss != "auto") {
      r.error(d->get("rss")->source(), p + ".rss",
              "\"" + rss + "\" is not an RSS mode; expected auto, hardware or software");
    }
    r.read_uint(*d, p, "rx_queues", 1, 64, dp.rx_queues);
    r.read_uint(*d, p, "rx_descriptors", 64, 32768, dp.rx_descriptors);
    r.read_uint(*d, p, "mbufs", 1023, 16'777'215, dp.mbufs);
    r.read_uint(*d, p, "mbuf_data_room", 256, 65000, dp.mbuf_data_room);
    r.read_uint(*d, p, "burst", 1, 512, dp.burst);
    r.read_uint(*d, p, "idle_sleep_us", 0, 100'000, dp.idle_sleep_us);
    r.read_uint(*d, p, "dispatch_ring", 64, 1 << 20, dp.dispatch_ring);
    if (d->get("dispatch_ring") != nullptr && (dp.dispatch_ring & (dp.dispatch_ring - 1)) != 0) {
      r.error(d->get("dispatch_ring")->source(), p + ".dispatch_ring",
              std::to_string(dp.dispatch_ring) + " is not a power of two");
    }
    std::string one;
    r.read_string(*d, p, "address", one);
    if (!one.empty()) dp.addresses.push_back(one);
    std::vector<std::string> many;
    r.read_string_array(*d, p, "addresses", many);
    for (const std::string& a : many) dp.addresses.push_back(a);
    for (const std::string& a : dp.addresses) {
      if (!valid_ip(a)) {
        const toml::node* n = d->get("addresses") != nullptr ? d->get("addresses") : d->get("address");
        r.error(n->source(), p + ".addresses", "\"" + a + "\" is not an IPv4 or IPv6 address");
      }
    }
  }
  if (const toml::table* a = r.table(*t, "collector", "af_packet")) {
    const std::string p = "collector.af_packet";
    r.check_keys(*a, p, {"interface", "block_size", "blocks", "block_timeout_ms"});
    AfPacketConfig& ap = c.collector.af_packet;
    r.read_string(*a, p, "interface", ap.interface);
    if (a->get("interface") != nullptr && (ap.interface.empty() || ap.interface.size() >= 16)) {
      r.error(a->get("interface")->source(), p + ".interface",
              "\"" + ap.interface + "\" is not an interface name (1 to 15 characters)");
    }
    // Ring blocks are allocated as power-of-two page runs; 64 KiB is the least that holds a
    // whole (reassembled) datagram.
    r.read_uint(*a, p, "block_size", 65536, 1 << 28, ap.block_size);
    if (a->get("block_size") != nullptr && (ap.block_size & (ap.block_size - 1)) != 0) {
      r.error(a->get("block_size")->source(), p + ".block_size",
              std::to_string(ap.block_size) + " is not a power of two");
    }
    r.read_uint(*a, p, "blocks", 2, 65536, ap.blocks);
    r.read_uint(*a, p, "block_timeout_ms", 1, 10000, ap.block_timeout_ms);
  }
}

void read_aggregation(Reader& r, const toml::table& root, Config& c) {
  const toml::table* t = r.table(root, "", "aggregation");
  if (t == nullptr) return;
  const std::string p = "aggregation";
  r.check_keys(*t, p, {"enabled", "flush_interval", "port_rollup_threshold",
                       "rollup_refresh_interval", "max_keys"});
  AggregationConfig& a = c.aggregation;
  r.read_bool(*t, p, "enabled", a.enabled);
  r.read_duration(*t, p, "flush_interval", 1000, a.flush_interval_ms);
  r.read_uint(*t, p, "port_rollup_threshold", 0, 65535, a.port_rollup_threshold);
  r.read_duration(*t, p, "rollup_refresh_interval", 1000, a.rollup_refresh_ms);
  r.read_uint(*t, p, "max_keys", 1, 100'000'000, a.max_keys);
}

void read_outputs(Reader& r, const toml::table& root, Config& c) {
  const toml::node* n = root.get("outputs");
  if (n == nullptr) return;
  const toml::array* outs = n->as_array();
  if (outs == nullptr) {
    r.error(n->source(), "outputs", "expected [[outputs]] blocks (an array of tables)");
    return;
  }
  for (size_t i = 0; i < outs->size(); ++i) {
    const std::string p = "outputs[" + std::to_string(i) + "]";
    const toml::table* t = (*outs)[i].as_table();
    if (t == nullptr) {
      r.error((*outs)[i].source(), p, "expected a table");
      continue;
    }
    r.check_keys(*t, p, {"type", "path", "url", "table", "max_file_bytes", "batch_records",
                         "flush_interval", "database", "gzip", "timeout", "retry_max",
                         "spool_dir", "spool_max_bytes", "queue_batches", "shutdown_timeout"});
    Output o;
    o.line = static_cast<uint32_t>(t->source().begin.line);
    std::string type;
    r.read_string(*t, p, "type", type);
    if (type == "stdout") {
      o.type = OutputType::kStdout;
    } else if (type == "file") {
      o.type = OutputType::kFile;
    } else if (type == "http") {
      o.type = OutputType::kHttp;
    } else if (type == "datakit") {
      o.type = OutputType::kDatakit;
    } else if (type == "clickhouse") {
      o.type = OutputType::kClickhouse;
    } else {
      r.error(t->get("type") != nullptr ? t->get("type")->source() : t->source(), p + ".type",
              type.empty() ? "missing; expected stdout, file, http, datakit or clickhouse"
                           : "\"" + type + "\" is not an output; expected stdout, file, http, datakit or clickhouse");
      continue;
    }
    r.read_string(*t, p, "path", o.path);
    r.read_string(*t, p, "url", o.url);
    r.read_string(*t, p, "table", o.table);
    r.read_uint(*t, p, "max_file_bytes", 0, INT64_MAX, o.max_file_bytes);
    r.read_uint(*t, p, "batch_records", 1, 1'000'000, o.batch_records);
    r.read_duration(*t, p, "flush_interval", 1, o.flush_interval_ms);
    if (o.type == OutputType::kFile && o.path.empty()) {
      r.error(t->source(), p + ".path", "a file output needs path = \"/var/log/flowgate/flows.jsonl\"");
    }
    const bool http = o.type == OutputType::kHttp || o.type == OutputType::kDatakit ||
                      o.type == OutputType::kClickhouse;
    if (http && o.url.rfind("http://", 0) != 0 && o.url.rfind("https://", 0) != 0) {
      r.error(t->get("url") != nullptr ? t->get("url")->source() : t->source(), p + ".url",
              "expected an http:// or https:// URL");
    }
    r.read_string(*t, p, "database", o.database);
    r.read_bool(*t, p, "gzip", o.gzip);
    r.read_duration(*t, p, "timeout", 10, o.timeout_ms);
    r.read_duration(*t, p, "retry_max", 10, o.retry_max_ms);
    r.read_string(*t, p, "spool_dir", o.spool_dir);
    r.read_uint(*t, p, "spool_max_bytes", 4096, INT64_MAX, o.spool_max_bytes);
    r.read_uint(*t, p, "queue_batches", 1, 100'000, o.queue_batches);
    r.read_duration(*t, p, "shutdown_timeout", 0, o.shutdown_timeout_ms);
    // Keys of another kind of output are mistakes (a spool on a file output would do nothing).
    const auto only_for = [&](std::string_view key, bool allowed, std::string_view kinds) {
      if (!allowed && t->get(key) != nullptr) {
        r.error(t->get(key)->source(), p + "." + std::string(key),
                "applies to " + std::string(kinds) + " outputs only");
      }
    };
    const bool clickhouse = o.type == OutputType::kClickhouse;
    only_for("path", o.type == OutputType::kFile, "file");
    only_for("max_file_bytes", o.type == OutputType::kFile, "file");
    only_for("url", http, "http, datakit and clickhouse");
    only_for("table", clickhouse, "clickhouse");
    only_for("database", clickhouse, "clickhouse");
    for (const char* k : {"gzip", "timeout", "retry_max", "spool_dir", "spool_max_bytes",
                          "queue_batches", "shutdown_timeout"}) {
      only_for(k, http, "http, datakit and clickhouse");
    }
    // The names go into an INSERT between backquotes.
    for (const auto& [key, name] : {std::pair{"table", &o.table}, {"database", &o.database}}) {
      const bool plain = !name->empty() && name->find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == std::string::npos;
      if (clickhouse && !plain) {
        r.error(t->get(key) != nullptr ? t->get(key)->source() : t->source(), p + "." + key,
                "\"" + *name + "\" is not a plain ClickHouse name (letters, digits, '_')");
      }
    }
    for (const Output& other : c.outputs) {
      if (!o.spool_dir.empty() && other.spool_dir == o.spool_dir) {
        r.error(t->get("spool_dir")->source(), p + ".spool_dir",
                "\"" + o.spool_dir +
                    "\" is the spool of another output already; give each its own");
      }
    }
    c.outputs.push_back(std::move(o));
  }
}

void read_metrics_and_log(Reader& r, const toml::table& root, Config& c) {
  if (const toml::table* m = r.table(root, "", "metrics")) {
    r.check_keys(*m, "metrics",
                 {"listen", "max_exporters", "max_interfaces", "dashboard_minutes"});
    r.read_uint(*m, "metrics", "max_exporters", 1, 100'000, c.metrics.max_exporters);
    r.read_uint(*m, "metrics", "max_interfaces", 0, 100'000, c.metrics.max_interfaces);
    r.read_uint(*m, "metrics", "dashboard_minutes", 1, 1440, c.metrics.dashboard_minutes);
    r.read_string(*m, "metrics", "listen", c.metrics.listen, /*allow_empty=*/true);
    if (const toml::node* n = m->get("listen"); n != nullptr && n->is_string()) {
      c.metrics.listen_explicit = true;
      HostPort address;
      if (!c.metrics.listen.empty() && !parse_host_port(c.metrics.listen, address)) {
        r.error(n->source(), "metrics.listen",
                "\"" + c.metrics.listen +
                    "\" is not host:port or [IPv6]:port with a port 1..65535; \"\" disables the "
                    "endpoint");
      }
    }
  }
  if (const toml::table* l = r.table(root, "", "log")) {
    r.check_keys(*l, "log", {"level"});
    r.read_string(*l, "log", "level", c.log_level);
    static constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
    if (std::find(std::begin(kLevels), std::end(kLevels), c.log_level) == std::end(kLevels)) {
      r.error(l->get("level")->source(), "log.level",
              "\"" + c.log_level + "\" is not a level; expected trace, debug, info, warn, error or off");
    }
  }
}

}  // namespace

bool parse_duration_ms(std::string_view text, uint64_t& ms) {
  uint64_t value = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr == begin) return false;
  const std::string_view unit(ptr, static_cast<size_t>(end - ptr));
  uint64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s" || unit.empty()) {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  } else {
    return false;
  }
  if (value > UINT64_MAX / scale) return false;
  ms = value * scale;
  return true;
}

LoadResult load_config_string(std::string_view text, const std::string& name) {
  LoadResult result;
  result.config.path = name;
  Reader r(name, result.errors);
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    r.error(e.source(), "", std::string(e.description()));
    return result;
  }
  Config& c = result.config;
  r.check_keys(root, "", {"inputs", "collector", "aggregation", "outputs", "metrics", "log"});
  read_collector(r, root, c);  // first: listeners inherit its bind_host
  read_inputs(r, root, c);
  read_aggregation(r, root, c);
  read_outputs(r, root, c);
  read_metrics_and_log(r, root, c);

  if (c.inputs.empty()) {
    r.error(toml::source_region{}, "inputs.netflow",
            "no [[inputs.netflow]] block; add one with at least one [[inputs.netflow.listeners]]");
  }
  for (Listener& l : c.listeners) {
    if (l.bind_host.empty()) l.bind_host = c.collector.bind_host;
  }
  for (size_t i = 0; i < c.listeners.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (listeners_collide(c.listeners[i], c.listeners[j])) {
        toml::source_region where;
        where.begin = {c.listeners[i].line, c.listeners[i].column};
        r.error(where, "inputs.netflow listeners",
                c.listeners[i].bind_host + ":" + std::to_string(c.listeners[i].port) +
                    " is bound twice (SO_REUSEPORT would split its datagrams between the two); "
                    "give each listener its own port");
      }
    }
  }
  if (c.outputs.empty()) c.outputs.push_back(Output{});  // stdout
  std::stable_sort(result.errors.begin(), result.errors.end(),
                   [](const ConfigError& a, const ConfigError& b) {
                     return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                   });
  return result;
}

LoadResult load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    LoadResult result;
    result.errors.push_back(ConfigError{path, 0, 0, "", "cannot open the file"});
    return result;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return load_config_string(ss.str(), path);
}

}  // namespace flowgate::config
