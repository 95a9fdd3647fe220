// The collector in socket mode as a user runs it: the real binary on free loopback ports, fed
// corpus datagrams by a paced UDP sender, stopped with signals. Its output file is checked
// against what `flowgate --pcap` writes for a capture of the same datagrams, as multisets of
// records (receive-time fields aside).

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
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
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "dataplane/pcap_source.hpp"
#include "tests/dataplane/frame_builder.hpp"
#include "tests/support/corpus.hpp"
#include "tests/support/datagram_split.hpp"
#include "tests/support/http_receiver.hpp"
#include "tests/support/udp_port_holder.hpp"

namespace flowgate {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using Payload = std::vector<uint8_t>;

// Generous bounds for conditions that normally hold within milliseconds; sanitizer builds and a
// busy machine are slower. A wait ends as soon as its condition holds.
constexpr milliseconds kWaitLimit{30'000};
constexpr int kPaceEvery = 32;  // datagrams between sender pauses

void pause_ms(long ms) {
  const timespec t{ms / 1000, (ms % 1000) * 1'000'000};
  nanosleep(&t, nullptr);
}

template <typename F>
bool wait_for(F&& condition, milliseconds limit = kWaitLimit) {
  const auto deadline = Clock::now() + limit;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    pause_ms(2);
  }
  return true;
}

// A port that was free a moment ago: bind port 0, read what the kernel chose, close.
uint16_t free_udp_port() {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  if (fd >= 0) close(fd);
  return port;
}

// What /proc/net/udp and /proc/net/udp6 say about the sockets bound to some local ports.
struct UdpSocketState {
  size_t sockets = 0;
  uint64_t rx_queue = 0;  // bytes waiting to be read, summed
  uint64_t drops = 0;     // datagrams the kernel dropped, summed
};

UdpSocketState udp_sockets(const std::vector<uint16_t>& ports) {
  UdpSocketState s;
  for (const char* table : {"/proc/net/udp", "/proc/net/udp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // column names
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout
      // inode ref pointer drops
      std::istringstream fields(line);
      std::string sl, local, remote, st, queues, timer, retransmits, uid, timeout, inode, ref,
          pointer;
      uint64_t drops = 0;
      fields >> sl >> local >> remote >> st >> queues >> timer >> retransmits >> uid >> timeout >>
          inode >> ref >> pointer >> drops;
      const size_t colon = local.rfind(':');
      const size_t qcolon = queues.find(':');
      if (fields.fail() || colon == std::string::npos || qcolon == std::string::npos) continue;
      const auto port = static_cast<uint16_t>(std::stoul(local.substr(colon + 1), nullptr, 16));
      if (std::find(ports.begin(), ports.end(), port) == ports.end()) continue;
      ++s.sockets;
      s.rx_queue += std::stoull(queues.substr(qcolon + 1), nullptr, 16);
      s.drops += drops;
    }
  }
  return s;
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

  bool start(const std::vector<std::string>& args, const fs::path& out, const fs::path& err) {
    std::vector<std::string> all = {FLOWGATE_BINARY};
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
      execv(argv[0], argv.data());
      static constexpr char kExecFailed[] =
          "live_collector_test: execv of FLOWGATE_BINARY failed\n";
      (void)!write(STDERR_FILENO, kExecFailed, sizeof kExecFailed - 1);
      _exit(127);
    }
    return pid_ > 0;
  }

  void signal(int sig) const {
    if (pid_ > 0) kill(pid_, sig);
  }

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

// A UDP socket on 127.0.0.1 with a port of its own, so that the capture written for
// `flowgate --pcap` can name the same exporter address and port as the live run.
class Sender {
 public:
  Sender() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port_ = ntohs(a.sin_port);
    }
  }
  ~Sender() {
    if (fd_ >= 0) close(fd_);
  }
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  uint16_t port() const { return port_; }

  bool send(const Payload& p, uint16_t to_port) const {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(to_port);
    return sendto(fd_, p.data(), p.size(), 0, reinterpret_cast<const sockaddr*>(&a), sizeof a) ==
           static_cast<ssize_t>(p.size());
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

struct Datagram {
  Payload payload;
  uint16_t port;  // collector port it is sent to
};

// Every UDP payload of a capture, in capture order.
std::vector<Payload> capture_payloads(const std::string& relative) {
  dataplane::PcapSource source;
  std::vector<Payload> out;
  const std::string path = (testing::corpus_dir() / relative).string();
  EXPECT_EQ(source.open(path), dataplane::PcapStatus::kOk) << source.error();
  source.run([&](const dataplane::UdpDatagram& d) {
    const auto* p = reinterpret_cast<const uint8_t*>(d.payload.data());
    out.emplace_back(p, p + d.payload.size());
  });
  EXPECT_FALSE(out.empty()) << path;
  return out;
}

// The datagrams of a raw payload file; `split` for `nc -k` captures of several concatenated.
std::vector<Payload> file_payloads(const std::string& relative, bool split = false) {
  const std::vector<uint8_t> buf = testing::read_file(testing::corpus_dir() / relative);
  EXPECT_FALSE(buf.empty()) << relative;
  if (!split) return {buf};
  std::vector<Payload> out;
  for (auto d : testing::split_datagrams(buf)) out.emplace_back(d.begin(), d.end());
  return out;
}

void add(std::vector<Datagram>& to, const std::vector<Payload>& payloads, uint16_t port) {
  for (const Payload& p : payloads) to.push_back(Datagram{p, port});
}

// NetFlow v9 from nProbe (templates refreshed along the way).
std::vector<Payload> netflow9_corpus() {
  auto v = capture_payloads("graylog-plugin-netflow/netflow-data/nprobe-netflow9-3.pcap");
  for (const char* f : {"goflow2/bin/netflow9_TestDecodeNetFlowV9_template_L14.bin",
                        "goflow2/bin/netflow9_TestDecodeNetFlowV9_data_L118.bin"}) {
    for (Payload& p : file_payloads(f)) v.push_back(std::move(p));
  }
  return v;
}

// IPFIX from Cisco IOS XR: options templates with sampling, IPv6, many observation domains.
std::vector<Payload> ipfix_corpus() {
  auto v = capture_payloads("pmacct/104-IPFIXv10-IPv6-CISCO-sampling_option/traffic-00.pcap");
  for (Payload& p :
       capture_payloads("pmacct/400-IPFIXv10-BMP-CISCO-SRv6-multiple-sources/traffic-00.pcap")) {
    v.push_back(std::move(p));
  }
  return v;
}

std::vector<Payload> netflow5_corpus() {
  auto v = file_payloads("logstash-codec-netflow/dat/netflow5.dat", true);
  for (Payload& p : file_payloads("goflow2/bin/netflow5_TestDecodeNetFlowV5_data_L11.bin")) {
    v.push_back(std::move(p));
  }
  return v;
}

std::vector<Payload> sflow_corpus() {
  std::vector<Payload> v;
  for (const char* f : {"goflow2/bin/sflow_TestSFlowDecode_data_L11.bin",
                        "goflow2/bin/sflow_TestExpandedSFlowDecode_data_L30.bin",
                        "goflow2/bin/sflow_TestSFlowDecodeDropExtendedACL_data_L153.bin",
                        "goflow2/bin/sflow_TestSFlowDecodeDropExtendedFunction_data_L174.bin"}) {
    for (Payload& p : file_payloads(f)) v.push_back(std::move(p));
  }
  return v;
}

// Writes the datagrams as a capture (Ethernet/IPv4/UDP) from 127.0.0.1:sender_port to
// 127.0.0.1:<each datagram's port>, one microsecond apart.
void write_capture(const fs::path& path, const std::vector<Datagram>& datagrams,
                   uint16_t sender_port) {
  namespace fb = dataplane::testing;
  constexpr std::array<uint8_t, 4> kLo = {127, 0, 0, 1};
  constexpr uint64_t kStartNs = 1'750'000'000ull * 1'000'000'000;
  std::vector<fb::PcapRecord> records;
  uint16_t id = 1;
  for (const Datagram& d : datagrams) {
    fb::Ipv4Options o;
    o.id = id++;
    const fb::Frame frame =
        fb::ethernet(0x0800, fb::ipv4(kLo, kLo, fb::udp(sender_port, d.port, d.payload), o));
    records.push_back(fb::PcapRecord{kStartNs + records.size() * 1000, frame, 0});
  }
  fb::write_pcap(path, 1, records);
}

// The records of a JSON-lines file in a form that compares across runs: every key but
// flush_timestamp (written at flush time), and for sFlow also start and end, which are
// receive times (the capture's clock with --pcap, the wall clock live). Sorted: a multiset.
std::vector<std::string> comparable_records(const fs::path& file) {
  std::vector<std::string> out;
  simdjson::dom::parser parser;
  std::istringstream in(testing::read_text(file));
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

size_t line_count(const fs::path& file) {
  const std::string text = testing::read_text(file);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The first few records in one multiset and not the other, for a readable failure.
std::string difference(const std::vector<std::string>& expected,
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

// Reads `exit summary: datagrams=N records=N written=N dropped=N` from the collector's log.
std::optional<ExitSummary> exit_summary(const std::string& log) {
  const size_t line = log.find("exit summary:");
  if (line == std::string::npos) return std::nullopt;
  auto value = [&](const char* key, uint64_t& out) {
    const std::string k = std::string(" ") + key + "=";
    const size_t at = log.find(k, line);
    if (at == std::string::npos) return false;
    const char* begin = log.c_str() + at + k.size();
    char* end = nullptr;
    out = std::strtoull(begin, &end, 10);
    return end != begin;
  };
  ExitSummary s;
  if (!value("datagrams", s.datagrams) || !value("records", s.records) ||
      !value("written", s.written) || !value("dropped", s.dropped)) {
    return std::nullopt;
  }
  return s;
}

struct ConfigOptions {
  uint16_t flow_port = 0;   // "auto" listener of the first input (NetFlow, IPFIX)
  uint16_t sflow_port = 0;  // sflow5 listener of the second input
  bool aggregate = false;
  fs::path output;
  uint64_t max_file_bytes = 0;
  uint32_t batch_records = 1024;
  std::string flush_interval = "100ms";  // of the file output's batches
  std::string extra_outputs;             // more [[outputs]] blocks, verbatim (live runs only)
};

std::string config_text(const ConfigOptions& c) {
  std::ostringstream s;
  s << "[[inputs.netflow]]\n"
       "  namespace = \"lab\"\n"
       "  [[inputs.netflow.listeners]]\n"
       "    flow_type = \"auto\"\n"
       "    bind_host = \"127.0.0.1\"\n"
    << "    port = " << c.flow_port << "\n"
    << "  [inputs.netflow.tags]\n"
       "    site = \"lab-1\"\n"
       "    host = \"collector-test\"\n"
       "[[inputs.netflow]]\n"
       "  namespace = \"edge\"\n"
       "  [[inputs.netflow.listeners]]\n"
       "    flow_type = \"sflow5\"\n"
       "    bind_host = \"127.0.0.1\"\n"
    << "    port = " << c.sflow_port << "\n"
    << "  [inputs.netflow.tags]\n"
       "    role = \"edge\"\n"
       "[collector]\n"
       "workers = 2\n"
       "[aggregation]\n"
    << "enabled = " << (c.aggregate ? "true" : "false") << "\n"
    << "flush_interval = \"300s\"\n"  // nothing is due before shutdown, in either mode
       "[[outputs]]\n"
       "type = \"file\"\n"
    << "path = \"" << c.output.string() << "\"\n"
    << "max_file_bytes = " << c.max_file_bytes << "\n"
    << "batch_records = " << c.batch_records << "\n"
    << "flush_interval = \"" << c.flush_interval << "\"\n"
    << c.extra_outputs << "[log]\n"
       "level = \"info\"\n";
  return s.str();
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

class LiveCollector : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("flowgate_live_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    options_.flow_port = free_udp_port();
    options_.sflow_port = free_udp_port();
    ASSERT_NE(options_.flow_port, 0);
    ASSERT_NE(options_.sflow_port, 0);
    ASSERT_NE(options_.flow_port, options_.sflow_port);
    ASSERT_NE(sender_.port(), 0);
    options_.output = dir_ / "flows.jsonl";
  }
  void TearDown() override {
    collector_.reset();  // kills a collector a failed test left running
    if (!HasFailure()) fs::remove_all(dir_);
  }

  std::vector<uint16_t> ports() const { return {options_.flow_port, options_.sflow_port}; }

  fs::path write_config(const std::string& name, const ConfigOptions& o) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << config_text(o);
    return p;
  }

  // Runs `flowgate --pcap` over a capture of `datagrams` with the live configuration (output
  // to its own file) and returns that file.
  fs::path pcap_run(const std::string& name, const std::vector<Datagram>& datagrams) {
    const fs::path capture = dir_ / (name + ".pcap");
    write_capture(capture, datagrams, sender_.port());
    ConfigOptions o = options_;
    o.output = dir_ / (name + ".expected.jsonl");
    o.max_file_bytes = 0;
    o.extra_outputs.clear();
    const fs::path conf = write_config(name + ".pcap.conf", o);
    Child c;
    EXPECT_TRUE(c.start({"--pcap", capture.string(), "-c", conf.string()}, dir_ / (name + ".out"),
                        dir_ / (name + ".err")));
    const std::optional<int> code = c.wait_exit();
    EXPECT_EQ(code, 0) << testing::read_text(dir_ / (name + ".err"));
    return o.output;
  }

  // Starts the collector and waits until it is listening with its signal handlers in place
  // (it logs "socket mode" after both).
  void start_collector() {
    const fs::path conf = write_config("live.conf", options_);
    collector_ = std::make_unique<Child>();
    ASSERT_TRUE(collector_->start({"-c", conf.string()}, dir_ / "live.out", live_err()));
    const bool ready = wait_for([&] {
      return collector_->exited() ||
             testing::read_text(live_err()).find("socket mode") != std::string::npos;
    });
    ASSERT_TRUE(ready) << "collector not ready: " << testing::read_text(live_err());
    ASSERT_FALSE(collector_->exited()) << testing::read_text(live_err());
    // Two workers, each with one socket per listener.
    ASSERT_EQ(udp_sockets(ports()).sockets, 4u);
    drops_at_start_ = udp_sockets(ports()).drops;
  }

  fs::path live_err() const { return dir_ / "live.err"; }

  // Sends every datagram from one socket, pausing every kPaceEvery datagrams and while the
  // collector's sockets hold more than a few hundred KiB, so that no receive buffer overflows.
  // Bounded: one pass over the list, and each pause is bounded.
  void send_paced(const std::vector<Datagram>& datagrams) {
    for (size_t i = 0; i < datagrams.size(); ++i) {
      ASSERT_TRUE(sender_.send(datagrams[i].payload, datagrams[i].port)) << "datagram " << i;
      if ((i + 1) % kPaceEvery == 0) {
        pause_ms(1);
        ASSERT_TRUE(wait_for([&] { return udp_sockets(ports()).rx_queue < (256u << 10); }))
            << "the collector stopped reading";
      }
    }
  }

  // Sends without pausing (the collector's receive buffers are large enough for a corpus).
  void send_burst(const std::vector<Datagram>& datagrams) {
    for (size_t i = 0; i < datagrams.size(); ++i) {
      ASSERT_TRUE(sender_.send(datagrams[i].payload, datagrams[i].port)) << "datagram " << i;
    }
  }

  // Waits until the collector's sockets are empty, then checks that the kernel dropped nothing.
  void wait_received() {
    ASSERT_TRUE(wait_for([&] { return udp_sockets(ports()).rx_queue == 0; }))
        << "datagrams left unread";
    ASSERT_EQ(udp_sockets(ports()).drops, drops_at_start_) << "the kernel dropped datagrams";
  }

  // SIGTERM, exit 0, and the exit summary line.
  ExitSummary stop_collector() {
    collector_->signal(SIGTERM);
    const std::optional<int> code = collector_->wait_exit();
    const std::string log = testing::read_text(live_err());
    EXPECT_EQ(code, 0) << log;
    const std::optional<ExitSummary> s = exit_summary(log);
    EXPECT_TRUE(s.has_value()) << log;
    EXPECT_EQ(s.value_or(ExitSummary{}).dropped, 0u) << log;
    return s.value_or(ExitSummary{});
  }

  // Live output equals the --pcap output of the same datagrams; both decoded every datagram
  // and covered each protocol.
  void run_end_to_end(bool aggregate) {
    options_.aggregate = aggregate;
    std::vector<Datagram> datagrams;
    add(datagrams, netflow9_corpus(), options_.flow_port);
    add(datagrams, ipfix_corpus(), options_.flow_port);
    add(datagrams, netflow5_corpus(), options_.flow_port);
    add(datagrams, sflow_corpus(), options_.sflow_port);
    const std::vector<std::string> expected = comparable_records(pcap_run("corpus", datagrams));

    ASSERT_NO_FATAL_FAILURE(start_collector());
    ASSERT_NO_FATAL_FAILURE(send_paced(datagrams));
    ASSERT_NO_FATAL_FAILURE(wait_received());
    const ExitSummary s = stop_collector();
    EXPECT_EQ(s.datagrams, datagrams.size());

    const std::vector<std::string> live = comparable_records(options_.output);
    EXPECT_EQ(s.written, live.size());
    if (aggregate) {
      EXPECT_LT(s.written, s.records);  // the corpus has flows to merge
    } else {
      EXPECT_EQ(s.written, s.records);
    }
    EXPECT_EQ(live.size(), expected.size());
    EXPECT_TRUE(live == expected) << difference(expected, live);

    std::map<std::string, size_t> types;
    simdjson::dom::parser parser;
    std::istringstream in(testing::read_text(options_.output));
    std::string line;
    const std::string host = host_name();
    while (std::getline(in, line)) {
      simdjson::dom::object o = parser.parse(line).get_object().value();
      const std::string type(o["type"].get_string().value());
      ++types[type];
      std::string_view ns = o["device"]["namespace"].get_string().value();
      std::string_view site;
      std::string_view role;
      if (type == "sflow5") {
        EXPECT_EQ(ns, "edge");
        EXPECT_EQ(o["host"].get_string().value(), host);  // no host tag: the machine's name
        EXPECT_EQ(o["role"].get(role), simdjson::SUCCESS);
        EXPECT_EQ(role, "edge");
        EXPECT_NE(o["site"].get(site), simdjson::SUCCESS);
      } else {
        EXPECT_EQ(ns, "lab");
        EXPECT_EQ(o["host"].get_string().value(), "collector-test");  // the host tag wins
        EXPECT_EQ(o["site"].get(site), simdjson::SUCCESS);
        EXPECT_EQ(site, "lab-1");
        EXPECT_NE(o["role"].get(role), simdjson::SUCCESS);
      }
    }
    for (const char* t : {"netflow5", "netflow9", "ipfix", "sflow5"}) {
      EXPECT_GT(types[t], 0u) << "no " << t << " records";
    }
  }

  fs::path dir_;
  ConfigOptions options_;
  Sender sender_;
  std::unique_ptr<Child> collector_;
  uint64_t drops_at_start_ = 0;
};

TEST_F(LiveCollector, WritesWhatPcapModeWritesWithoutAggregation) { run_end_to_end(false); }

TEST_F(LiveCollector, WritesWhatPcapModeWritesWithAggregation) { run_end_to_end(true); }

TEST_F(LiveCollector, WritesRecordsInFlightAtSigterm) {
  // A long batch interval: what was received sits in a worker's block, the ring or the batch
  // when SIGTERM comes, and must still reach the file.
  options_.flush_interval = "60s";
  options_.batch_records = 100'000;
  std::vector<Datagram> datagrams;
  add(datagrams, netflow9_corpus(), options_.flow_port);
  add(datagrams, netflow5_corpus(), options_.flow_port);
  add(datagrams, sflow_corpus(), options_.sflow_port);
  const std::vector<std::string> expected = comparable_records(pcap_run("burst", datagrams));
  ASSERT_GT(expected.size(), 0u);

  ASSERT_NO_FATAL_FAILURE(start_collector());
  ASSERT_NO_FATAL_FAILURE(send_burst(datagrams));
  const ExitSummary s = stop_collector();  // SIGTERM straight after the last send
  EXPECT_EQ(s.datagrams, datagrams.size());
  const std::vector<std::string> live = comparable_records(options_.output);
  EXPECT_EQ(s.written, live.size());
  EXPECT_EQ(live.size(), expected.size());
  EXPECT_TRUE(live == expected) << difference(expected, live);
}

// An http output beside the file: the collector's sink thread delivers every batch, retrying
// what the receiver refuses, and what is in flight at SIGTERM still arrives before the exit.
TEST_F(LiveCollector, DeliversToAnHttpOutputThroughRetriesAndSigterm) {
  testing::HttpReceiver receiver;
  ASSERT_TRUE(receiver.ok());
  receiver.answer_with({503, 503, 500});
  options_.flush_interval = "60s";
  options_.batch_records = 200;
  options_.extra_outputs = "[[outputs]]\ntype = \"http\"\nurl = \"" + receiver.url("/flows") +
                           "\"\nretry_max = \"200ms\"\n";
  std::vector<Datagram> datagrams;
  add(datagrams, netflow9_corpus(), options_.flow_port);
  add(datagrams, sflow_corpus(), options_.sflow_port);
  const std::vector<std::string> expected = comparable_records(pcap_run("http", datagrams));
  ASSERT_GT(expected.size(), 200u);

  ASSERT_NO_FATAL_FAILURE(start_collector());
  ASSERT_NO_FATAL_FAILURE(send_burst(datagrams));
  const ExitSummary s = stop_collector();
  EXPECT_EQ(s.datagrams, datagrams.size());
  EXPECT_EQ(s.dropped, 0u);
  const fs::path received = dir_ / "received.jsonl";
  {
    std::ofstream out(received);
    for (const testing::HttpRequest& r : receiver.accepted()) out << r.body;
  }
  const std::vector<std::string> got = comparable_records(received);
  EXPECT_EQ(got.size(), s.written);
  EXPECT_TRUE(got == expected) << difference(expected, got);
  EXPECT_EQ(receiver.requests().size(), receiver.accepted().size() + 3);
  EXPECT_NE(testing::read_text(live_err()).find("sent="), std::string::npos);
}

TEST_F(LiveCollector, SighupReopensTheOutputFile) {
  std::vector<Datagram> before;
  add(before, netflow9_corpus(), options_.flow_port);
  std::vector<Datagram> after;
  add(after, netflow5_corpus(), options_.flow_port);
  add(after, sflow_corpus(), options_.sflow_port);
  const std::vector<std::string> expected_before = comparable_records(pcap_run("before", before));
  const std::vector<std::string> expected_after = comparable_records(pcap_run("after", after));
  ASSERT_GT(expected_before.size(), 0u);
  ASSERT_GT(expected_after.size(), 0u);

  ASSERT_NO_FATAL_FAILURE(start_collector());
  ASSERT_NO_FATAL_FAILURE(send_paced(before));
  ASSERT_TRUE(wait_for([&] { return line_count(options_.output) >= expected_before.size(); }))
      << line_count(options_.output) << " of " << expected_before.size() << " records written";

  // logrotate: move the file away, then tell the collector.
  const fs::path rotated = dir_ / "flows.jsonl.old";
  fs::rename(options_.output, rotated);
  collector_->signal(SIGHUP);
  ASSERT_TRUE(wait_for([&] { return fs::exists(options_.output); }))
      << "no new file after SIGHUP: " << testing::read_text(live_err());

  ASSERT_NO_FATAL_FAILURE(send_paced(after));
  ASSERT_NO_FATAL_FAILURE(wait_received());
  const ExitSummary s = stop_collector();
  EXPECT_EQ(s.datagrams, before.size() + after.size());
  EXPECT_NE(testing::read_text(live_err()).find("output files reopened"), std::string::npos);

  const std::vector<std::string> old_file = comparable_records(rotated);
  const std::vector<std::string> new_file = comparable_records(options_.output);
  EXPECT_TRUE(old_file == expected_before) << difference(expected_before, old_file);
  EXPECT_TRUE(new_file == expected_after) << difference(expected_after, new_file);
}

TEST_F(LiveCollector, RotatesTheOutputFileBySize) {
  std::vector<Datagram> datagrams;
  add(datagrams, netflow9_corpus(), options_.flow_port);
  const fs::path expected_file = pcap_run("rotate", datagrams);
  const std::vector<std::string> expected = comparable_records(expected_file);
  // Small batches, and a limit between half and all of the output: exactly one rotation, so
  // flows.jsonl.1 and flows.jsonl together hold everything.
  const uint64_t total = fs::file_size(expected_file);
  options_.batch_records = 50;
  options_.max_file_bytes = total * 2 / 3;
  ASSERT_GT(expected.size(), 500u);

  ASSERT_NO_FATAL_FAILURE(start_collector());
  ASSERT_NO_FATAL_FAILURE(send_paced(datagrams));
  ASSERT_NO_FATAL_FAILURE(wait_received());
  const ExitSummary s = stop_collector();
  EXPECT_EQ(s.written, expected.size());

  const fs::path first = dir_ / "flows.jsonl.1";
  ASSERT_TRUE(fs::exists(first));
  ASSERT_TRUE(fs::exists(options_.output));
  EXPECT_FALSE(fs::exists(dir_ / "flows.jsonl.2"));
  EXPECT_LE(fs::file_size(first), options_.max_file_bytes);
  EXPECT_LE(fs::file_size(options_.output), options_.max_file_bytes);
  std::vector<std::string> both = comparable_records(first);
  for (std::string& r : comparable_records(options_.output)) both.push_back(std::move(r));
  std::sort(both.begin(), both.end());
  EXPECT_TRUE(both == expected) << difference(expected, both);
}

TEST_F(LiveCollector, FailsClearlyWhenThePortIsTaken) {
  // Whether the port is held by a plain socket or by another collector's SO_REUSEPORT socket
  // (which a second flowgate of the same user could otherwise join, splitting the datagrams
  // silently), start-up must fail with a clear message.
  for (const bool reuseport : {false, true}) {
    SCOPED_TRACE(reuseport ? "holder with SO_REUSEPORT" : "plain holder");
    int holder = -1;
    ASSERT_NO_FATAL_FAILURE(testing::hold_loopback_udp_port(reuseport, holder, options_.flow_port));

    const fs::path conf = write_config("taken.conf", options_);
    Child c;
    ASSERT_TRUE(c.start({"-c", conf.string()}, dir_ / "taken.out", dir_ / "taken.err"));
    const std::optional<int> code = c.wait_exit();
    close(holder);
    const std::string err = testing::read_text(dir_ / "taken.err");
    ASSERT_TRUE(code.has_value()) << "the collector kept running: " << err;
    EXPECT_EQ(*code, 1) << err;
    EXPECT_NE(err.find("cannot listen: 127.0.0.1:" + std::to_string(options_.flow_port) +
                       ": Address already in use"),
              std::string::npos)
        << err;
    EXPECT_FALSE(fs::exists(options_.output) && fs::file_size(options_.output) > 0);
  }
}

}  // namespace
}  // namespace flowgate
