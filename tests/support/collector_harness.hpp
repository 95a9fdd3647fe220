#pragma once

// What the end-to-end tests share: the flowgate binary as a child process, bounded waits,
// free loopback ports, corpus datagrams, captures written from them, the records of an output
// file as a comparable multiset, the exit summary line, and /metrics over plain HTTP.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "dataplane/pcap_source.hpp"
#include "tests/dataplane/frame_builder.hpp"
#include "tests/support/corpus.hpp"
#include "tests/support/datagram_split.hpp"
#include "tests/support/veth_namespace.hpp"

namespace flowgate::testing {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using Payload = std::vector<uint8_t>;

// Generous bounds for conditions that normally hold within milliseconds; sanitizer builds and a
// busy machine are slower. A wait ends as soon as its condition holds.
constexpr milliseconds kWaitLimit{30'000};
inline void pause_ms(long ms) {
  const timespec t{ms / 1000, (ms % 1000) * 1'000'000};
  nanosleep(&t, nullptr);
}

template <typename F>
inline bool wait_for(F&& condition, milliseconds limit = kWaitLimit) {
  const auto deadline = Clock::now() + limit;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    pause_ms(2);
  }
  return true;
}

inline sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

// A port that was free a moment ago: bind port 0, read what the kernel chose, close.
inline uint16_t free_port(int type) {
  const int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  if (fd >= 0) close(fd);
  return port;
}
inline uint16_t free_udp_port() { return free_port(SOCK_DGRAM); }

struct HttpReply {
  int status = 0;
  std::string body;
};

// GET over a plain socket; status 0 when the endpoint cannot be reached.
inline HttpReply http_get(uint16_t port, const std::string& path) {
  HttpReply r;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_in a = loopback(port);
  const timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    if (fd >= 0) close(fd);
    return r;
  }
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return r;
  }
  std::string reply;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) reply.append(buf, static_cast<size_t>(n));
  close(fd);
  const size_t head_end = reply.find("\r\n\r\n");
  if (reply.rfind("HTTP/1.1 ", 0) != 0 || head_end == std::string::npos) return r;
  r.status = std::atoi(reply.c_str() + 9);
  r.body = reply.substr(head_end + 4);
  return r;
}

// Samples of an exposition ("name{labels}" -> value); comments skipped.
inline std::map<std::string, uint64_t> samples(const std::string& exposition) {
  std::map<std::string, uint64_t> out;
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t sp = line.rfind(' ');
    if (sp == std::string::npos) continue;
    out[line.substr(0, sp)] = std::strtoull(line.c_str() + sp + 1, nullptr, 10);
  }
  return out;
}

// The sum of a metric over all its label sets.
inline uint64_t sum_prefixed(const std::map<std::string, uint64_t>& s, const std::string& name) {
  uint64_t t = 0;
  for (const auto& [k, v] : s) {
    if (k == name || k.rfind(name + "{", 0) == 0) t += v;
  }
  return t;
}

// The flowgate binary as a child process (fork/exec), stdout and stderr to files.
class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // Runs FLOWGATE_BINARY with `args`; with a `prefix` (e.g. {"ip", "netns", "exec", "ns1"})
  // the prefix command runs it, found on PATH.
  bool start(const std::vector<std::string>& args, const fs::path& out, const fs::path& err,
             const std::vector<std::string>& prefix = {}) {
    std::vector<std::string> all = prefix;
    all.push_back(FLOWGATE_BINARY);
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string out_path = out.string();
    const std::string err_path = err.string();
    pid_ = fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec.
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      const int o = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int e = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (o < 0 || e < 0 || dup2(o, STDOUT_FILENO) < 0 || dup2(e, STDERR_FILENO) < 0) _exit(126);
      execvp(argv[0], argv.data());
      static constexpr char kExecFailed[] =
          "collector test: execvp of FLOWGATE_BINARY (or its prefix) failed\n";
      (void)!write(STDERR_FILENO, kExecFailed, sizeof kExecFailed - 1);
      _exit(127);
    }
    return pid_ > 0;
  }

  void signal(int sig) const {
    if (pid_ > 0) kill(pid_, sig);
  }

  pid_t pid() const { return pid_; }

  bool exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
    pid_ = -1;
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }

  // The exit code (128 + signal when killed), or nothing when it did not exit within `limit`.
  std::optional<int> wait_exit(milliseconds limit = kWaitLimit) {
    if (!wait_for([&] { return exited(); }, limit)) return std::nullopt;
    return code_;
  }

 private:
  pid_t pid_ = -1;
  int code_ = -1;
};

struct Datagram {
  Payload payload;
  uint16_t port;                                   // collector port it is sent to
  std::array<uint8_t, 4> exporter = {127, 0, 0, 1};  // source address in a written capture
};

// Every frame of a capture file (as a TAP or net_pcap's tx_pcap wrote it), in order.
inline std::vector<dataplane::testing::Frame> read_frames(const fs::path& path) {
  std::vector<dataplane::testing::Frame> out;
  char error[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_open_offline(path.c_str(), error);
  EXPECT_NE(p, nullptr) << error;
  if (p == nullptr) return out;
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  while (pcap_next_ex(p, &h, &data) == 1) out.emplace_back(data, data + h->caplen);
  pcap_close(p);
  return out;
}

// Every UDP payload of a capture, in capture order.
inline std::vector<Payload> capture_payloads(const std::string& relative) {
  dataplane::PcapSource source;
  std::vector<Payload> out;
  const std::string path = (corpus_dir() / relative).string();
  EXPECT_EQ(source.open(path), dataplane::PcapStatus::kOk) << source.error();
  source.run([&](const dataplane::UdpDatagram& d) {
    const auto* p = reinterpret_cast<const uint8_t*>(d.payload.data());
    out.emplace_back(p, p + d.payload.size());
  });
  EXPECT_FALSE(out.empty()) << path;
  return out;
}

// The datagrams of a raw payload file; `split` for `nc -k` captures of several concatenated.
inline std::vector<Payload> file_payloads(const std::string& relative, bool split = false) {
  const std::vector<uint8_t> buf = read_file(corpus_dir() / relative);
  EXPECT_FALSE(buf.empty()) << relative;
  if (!split) return {buf};
  std::vector<Payload> out;
  for (auto d : split_datagrams(buf)) out.emplace_back(d.begin(), d.end());
  return out;
}

inline void add(std::vector<Datagram>& to, const std::vector<Payload>& payloads, uint16_t port) {
  for (const Payload& p : payloads) to.push_back(Datagram{p, port});
}

// NetFlow v9 from nProbe (templates refreshed along the way).
inline std::vector<Payload> netflow9_corpus() {
  auto v = capture_payloads("graylog-plugin-netflow/netflow-data/nprobe-netflow9-3.pcap");
  for (const char* f : {"goflow2/bin/netflow9_TestDecodeNetFlowV9_template_L14.bin",
                        "goflow2/bin/netflow9_TestDecodeNetFlowV9_data_L118.bin"}) {
    for (Payload& p : file_payloads(f)) v.push_back(std::move(p));
  }
  return v;
}

// IPFIX from Cisco IOS XR: options templates with sampling, IPv6, many observation domains.
inline std::vector<Payload> ipfix_corpus() {
  auto v = capture_payloads("pmacct/104-IPFIXv10-IPv6-CISCO-sampling_option/traffic-00.pcap");
  for (Payload& p :
       capture_payloads("pmacct/400-IPFIXv10-BMP-CISCO-SRv6-multiple-sources/traffic-00.pcap")) {
    v.push_back(std::move(p));
  }
  return v;
}

// `exporters` exporters (10.1.x.y) each sending the whole v9 + IPFIX corpus, templates
// included, to `port`, for the tests of a hash that spreads exporters over two workers:
// `per_worker[w]` is how many datagrams worker w gets if `worker_of(exporter address)` is the
// worker the hash picks.
struct SpreadCorpus {
  std::vector<Datagram> datagrams;
  std::array<uint64_t, 2> per_worker{};
};
template <typename WorkerOf>
SpreadCorpus corpus_from_exporters(uint32_t exporters, uint16_t port, WorkerOf worker_of) {
  std::vector<Payload> corpus = netflow9_corpus();
  for (Payload& p : ipfix_corpus()) corpus.push_back(std::move(p));
  SpreadCorpus s;
  for (uint32_t e = 0; e < exporters; ++e) {
    const std::array<uint8_t, 4> exporter = {10, 1, static_cast<uint8_t>(e / 200),
                                             static_cast<uint8_t>(1 + e % 200)};
    s.per_worker.at(worker_of(exporter)) += corpus.size();
    for (const Payload& p : corpus) s.datagrams.push_back(Datagram{p, port, exporter});
  }
  return s;
}

// Each worker's flowgate_worker_datagrams_received_total in `metrics` is what `per_worker`
// says: every exporter's datagrams went to the one worker the hash picked.
inline void expect_datagrams_per_worker(const std::map<std::string, uint64_t>& metrics,
                                        const std::array<uint64_t, 2>& per_worker) {
  for (size_t w = 0; w < per_worker.size(); ++w) {
    const std::string key =
        "flowgate_worker_datagrams_received_total{worker=\"" + std::to_string(w) + "\"}";
    const auto it = metrics.find(key);
    EXPECT_EQ(it == metrics.end() ? 0 : it->second, per_worker[w]) << key;
  }
}

inline std::vector<Payload> netflow5_corpus() {
  auto v = file_payloads("logstash-codec-netflow/dat/netflow5.dat", true);
  for (Payload& p : file_payloads("goflow2/bin/netflow5_TestDecodeNetFlowV5_data_L11.bin")) {
    v.push_back(std::move(p));
  }
  return v;
}

inline std::vector<Payload> sflow_corpus() {
  std::vector<Payload> v;
  for (const char* f : {"goflow2/bin/sflow_TestSFlowDecode_data_L11.bin",
                        "goflow2/bin/sflow_TestExpandedSFlowDecode_data_L30.bin",
                        "goflow2/bin/sflow_TestSFlowDecodeDropExtendedACL_data_L153.bin",
                        "goflow2/bin/sflow_TestSFlowDecodeDropExtendedFunction_data_L174.bin"}) {
    for (Payload& p : file_payloads(f)) v.push_back(std::move(p));
  }
  return v;
}

// The four corpora above (NetFlow v9, IPFIX, NetFlow v5 to `flow_port`, sFlow to
// `sflow_port`), in that order: what the collector tests send through each capture path.
inline std::vector<Datagram> all_corpora(uint16_t flow_port, uint16_t sflow_port) {
  std::vector<Datagram> d;
  add(d, netflow9_corpus(), flow_port);
  add(d, ipfix_corpus(), flow_port);
  add(d, netflow5_corpus(), flow_port);
  add(d, sflow_corpus(), sflow_port);
  return d;
}

// Writes the datagrams as a capture (Ethernet/IPv4/UDP) from <exporter>:sender_port to
// 127.0.0.1:<each datagram's port>, one microsecond apart; returns how many frames. With `fragment_bytes` (a multiple
// of 8), UDP datagrams longer than that are sent as IPv4 fragments of that many bytes.
inline size_t write_capture(const fs::path& path, const std::vector<Datagram>& datagrams,
                            uint16_t sender_port, size_t fragment_bytes = 0) {
  namespace fb = dataplane::testing;
  constexpr std::array<uint8_t, 4> kLo = {127, 0, 0, 1};
  constexpr uint64_t kStartNs = 1'750'000'000ull * 1'000'000'000;
  std::vector<fb::PcapRecord> records;
  uint16_t id = 1;
  for (const Datagram& d : datagrams) {
    fb::Ipv4Options o;
    o.id = id++;
    const fb::Frame l4 = fb::udp(sender_port, d.port, d.payload);
    if (fragment_bytes == 0 || l4.size() <= fragment_bytes) {
      const fb::Frame frame = fb::ethernet(0x0800, fb::ipv4(d.exporter, kLo, l4, o));
      records.push_back(fb::PcapRecord{kStartNs + records.size() * 1000, frame, 0});
      continue;
    }
    for (size_t off = 0; off < l4.size(); off += fragment_bytes) {
      const size_t n = std::min(fragment_bytes, l4.size() - off);
      o.offset = static_cast<uint16_t>(off);
      o.more_fragments = off + n < l4.size();
      const std::span<const uint8_t> part(l4.data() + off, n);
      const fb::Frame frame = fb::ethernet(0x0800, fb::ipv4(d.exporter, kLo, part, o));
      records.push_back(fb::PcapRecord{kStartNs + records.size() * 1000, frame, 0});
    }
  }
  fb::write_pcap(path, 1, records);
  return records.size();  // frames written
}

// The records of a JSON-lines file in a form that compares across runs: every key but
// flush_timestamp (written at flush time), and for sFlow also start and end, which are
// receive times (the capture's clock with --pcap, the wall clock live). Sorted: a multiset.
inline std::vector<std::string> comparable_records(const fs::path& file) {
  std::vector<std::string> out;
  simdjson::dom::parser parser;
  std::istringstream in(read_text(file));
  std::string line;
  while (std::getline(in, line)) {
    simdjson::dom::object o;
    if (parser.parse(line).get(o) != simdjson::SUCCESS) {
      ADD_FAILURE() << file << ": not a JSON object: " << line;
      continue;
    }
    std::string_view type;
    const bool sflow = o["type"].get(type) == simdjson::SUCCESS && type == "sflow5";
    std::string r;
    for (auto field : o) {
      if (field.key == "flush_timestamp") continue;
      if (sflow && (field.key == "start" || field.key == "end")) continue;
      r.append(field.key).append("=").append(simdjson::minify(field.value)).append(";");
    }
    out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The first few records in one multiset and not the other, for a readable failure.
inline std::string difference(const std::vector<std::string>& expected,
                       const std::vector<std::string>& actual) {
  std::vector<std::string> missing;
  std::vector<std::string> extra;
  std::set_difference(expected.begin(), expected.end(), actual.begin(), actual.end(),
                      std::back_inserter(missing));
  std::set_difference(actual.begin(), actual.end(), expected.begin(), expected.end(),
                      std::back_inserter(extra));
  std::string s =
      std::to_string(missing.size()) + " missing, " + std::to_string(extra.size()) + " unexpected";
  for (size_t i = 0; i < std::min<size_t>(3, missing.size()); ++i)
    s += "\n  missing: " + missing[i];
  for (size_t i = 0; i < std::min<size_t>(3, extra.size()); ++i) s += "\n  unexpected: " + extra[i];
  return s;
}

struct ExitSummary {
  uint64_t datagrams = 0;
  uint64_t records = 0;
  uint64_t written = 0;
  uint64_t dropped = 0;
};

// The number written right after the first `marker` in `text` at or after `from`, if any.
inline std::optional<uint64_t> number_after(const std::string& text, const std::string& marker,
                                            size_t from = 0) {
  const size_t at = text.find(marker, from);
  if (at == std::string::npos) return std::nullopt;
  const char* begin = text.c_str() + at + marker.size();
  char* end = nullptr;
  const uint64_t n = std::strtoull(begin, &end, 10);
  if (end == begin) return std::nullopt;
  return n;
}

// Reads `exit summary: datagrams=N records=N written=N dropped=N` from the collector's log.
inline std::optional<ExitSummary> exit_summary(const std::string& log) {
  const size_t line = log.find("exit summary:");
  if (line == std::string::npos) return std::nullopt;
  auto value = [&](const char* key, uint64_t& out) {
    const std::optional<uint64_t> n = number_after(log, std::string(" ") + key + "=", line);
    if (n) out = *n;
    return n.has_value();
  };
  ExitSummary s;
  if (!value("datagrams", s.datagrams) || !value("records", s.records) ||
      !value("written", s.written) || !value("dropped", s.dropped)) {
    return std::nullopt;
  }
  return s;
}

// Runs `flowgate --pcap capture` with `config` (written to <dir>/<name>.conf; stdout and
// stderr to <name>.out and <name>.err there) and expects exit 0: the reference output a live
// run's is compared with.
inline void run_pcap(const fs::path& capture, const std::string& config, const fs::path& dir,
                     const std::string& name = "pcap") {
  const fs::path conf = dir / (name + ".conf");
  std::ofstream(conf) << config;
  Child c;
  EXPECT_TRUE(c.start({"--pcap", capture.string(), "-c", conf.string()}, dir / (name + ".out"),
                      dir / (name + ".err")));
  EXPECT_EQ(c.wait_exit(), 0) << read_text(dir / (name + ".err"));
}

// The /metrics samples of a collector listening on 127.0.0.1:`port`, inside `netns` when one
// is given (curl run there), else from here; none when it does not answer.
inline std::map<std::string, uint64_t> metrics_samples(uint16_t port,
                                                        const VethNamespace* netns = nullptr) {
  if (netns != nullptr) {
    return samples(
        netns->output("curl -s http://127.0.0.1:" + std::to_string(port) + "/metrics"));
  }
  const HttpReply reply = http_get(port, "/metrics");
  return reply.status == 200 ? samples(reply.body) : std::map<std::string, uint64_t>{};
}

// SIGTERM's end of a live run: exit 0, and an exit summary that counted `datagrams` and dropped
// nothing. `log` is the collector's stderr file.
inline ExitSummary expect_clean_exit(Child& collector, const fs::path& log, uint64_t datagrams) {
  collector.signal(SIGTERM);
  EXPECT_EQ(collector.wait_exit(), 0) << read_text(log);
  const std::optional<ExitSummary> s = exit_summary(read_text(log));
  EXPECT_TRUE(s.has_value()) << read_text(log);
  const ExitSummary summary = s.value_or(ExitSummary{});
  EXPECT_EQ(summary.datagrams, datagrams);
  EXPECT_EQ(summary.dropped, 0u) << read_text(log);
  return summary;
}

// The same records in both outputs (order aside), and `written` (the exit summary's) counts
// them all.
inline void expect_same_records(const fs::path& expected_file, const fs::path& actual_file,
                                uint64_t written) {
  const std::vector<std::string> expected = comparable_records(expected_file);
  const std::vector<std::string> actual = comparable_records(actual_file);
  EXPECT_FALSE(expected.empty());
  EXPECT_EQ(actual.size(), expected.size());
  EXPECT_TRUE(actual == expected) << difference(expected, actual);
  EXPECT_EQ(written, actual.size());
}

inline std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

}  // namespace flowgate::testing
