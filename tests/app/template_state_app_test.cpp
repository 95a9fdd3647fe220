// Template persistence end to end: flowgate in socket mode learns a NetFlow v9 and an IPFIX
// exporter's templates, saves them at SIGTERM, and after a restart decodes data-only datagrams
// from the first one; without the state file the same datagrams wait for templates that never
// come.

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "decode/template_state.hpp"
#include "tests/support/collector_harness.hpp"
#include "tests/support/temp_dir.hpp"

namespace flowgate {
namespace {

using namespace flowgate::testing;

// One UDP socket for the whole test: templates are scoped by exporter address and port, so the
// restarted collector must see the same exporter.
class Exporter {
 public:
  Exporter() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(0);
    if (fd_ >= 0) bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  ~Exporter() {
    if (fd_ >= 0) close(fd_);
  }
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;
  bool send(const std::vector<Payload>& payloads, uint16_t port) const {
    const sockaddr_in to = loopback(port);
    for (const Payload& p : payloads) {
      if (sendto(fd_, p.data(), p.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) !=
          static_cast<ssize_t>(p.size())) {
        return false;
      }
      pause_ms(1);
    }
    return true;
  }

 private:
  int fd_ = -1;
};

class TemplateStateApp : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    port_ = free_udp_port();
    ASSERT_NE(port_, 0);
    v9_templates_ = file_payloads("goflow2/bin/netflow9_TestDecodeNetFlowV9_template_L14.bin");
    v9_data_ = file_payloads("goflow2/bin/netflow9_TestDecodeNetFlowV9_data_L118.bin");
    ipfix_templates_ = file_payloads("logstash-codec-netflow/dat/ipfix_test_mikrotik_tpl.dat");
    ipfix_data_ = file_payloads("logstash-codec-netflow/dat/ipfix_test_mikrotik_data258.dat");
  }

  fs::path dir() const { return dir_.path(); }

  // Starts flowgate (two workers, no aggregation, a file output, `collector` added to its
  // [collector] table), waits until it listens.
  void start(const std::string& run, const fs::path& state, uint16_t metrics_port = 0,
             const std::string& collector = "") {
    std::ofstream(dir() / (run + ".conf"))
        << "[[inputs.netflow]]\n"
           "  [[inputs.netflow.listeners]]\n"
           "    flow_type = \"auto\"\n"
           "    bind_host = \"127.0.0.1\"\n"
        << "    port = " << port_ << "\n"
        << "[collector]\n"
           "workers = 2\n"
        << "template_state = \"" << state.string() << "\"\n"
        << "template_state_interval = \"1s\"\n"
        << collector << "[aggregation]\n"
           "enabled = false\n"
           "[[outputs]]\n"
           "type = \"file\"\n"
        << "path = \"" << (dir() / (run + ".jsonl")).string() << "\"\n"
        << "flush_interval = \"100ms\"\n"
           "[metrics]\n"
        << "listen = \"" << (metrics_port == 0 ? "" : "127.0.0.1:" + std::to_string(metrics_port))
        << "\"\n";
    collector_ = std::make_unique<Child>();
    ASSERT_TRUE(collector_->start({"-c", (dir() / (run + ".conf")).string()},
                                  dir() / (run + ".out"), err(run)));
    ASSERT_TRUE(wait_for([&] {
      return collector_->exited() || read_text(err(run)).find("socket mode") != std::string::npos;
    })) << read_text(err(run));
    ASSERT_FALSE(collector_->exited()) << read_text(err(run));
  }

  // SIGTERM; exit 0; the log.
  std::string stop(const std::string& run) {
    collector_->signal(SIGTERM);
    EXPECT_EQ(collector_->wait_exit(), 0) << read_text(err(run));
    return read_text(err(run));
  }

  fs::path err(const std::string& run) const { return dir() / (run + ".err"); }
  size_t records(const std::string& run) const {
    const std::string text = read_text(dir() / (run + ".jsonl"));
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  }

  TempDir dir_;
  uint16_t port_ = 0;
  Exporter exporter_;
  std::unique_ptr<Child> collector_;
  std::vector<Payload> v9_templates_, v9_data_, ipfix_templates_, ipfix_data_;
};

TEST_F(TemplateStateApp, ARestartDecodesDataFromTheFirstDatagram) {
  const fs::path state = dir() / "templates.state";
  start("first", state);
  ASSERT_TRUE(exporter_.send(v9_templates_, port_));
  ASSERT_TRUE(exporter_.send(ipfix_templates_, port_));
  ASSERT_TRUE(exporter_.send(v9_data_, port_));
  ASSERT_TRUE(exporter_.send(ipfix_data_, port_));
  const std::string first_log = stop("first");
  const std::vector<std::string> first = comparable_records(dir() / "first.jsonl");
  ASSERT_GT(first.size(), 0u) << first_log;
  bool v9 = false, ipfix = false;
  for (const std::string& r : first) {
    v9 |= r.find("type=\"netflow9\"") != std::string::npos;
    ipfix |= r.find("type=\"ipfix\"") != std::string::npos;
  }
  EXPECT_TRUE(v9 && ipfix) << "both exporters decoded in the first run";
  ASSERT_TRUE(fs::exists(state)) << first_log;
  EXPECT_NE(first_log.find("template state: saved"), std::string::npos) << first_log;
  std::vector<uint8_t> file;
  std::span<const uint8_t> body;
  ASSERT_EQ(decode::read_template_state_file(state.string(), file), decode::StateStatus::kOk);
  EXPECT_EQ(decode::parse_template_state(file, body), decode::StateStatus::kOk);

  // Only data now: every record decoded, equal to the first run's.
  start("second", state);
  EXPECT_NE(read_text(err("second")).find("template state: loaded"), std::string::npos)
      << read_text(err("second"));
  ASSERT_TRUE(exporter_.send(v9_data_, port_));
  ASSERT_TRUE(exporter_.send(ipfix_data_, port_));
  ASSERT_TRUE(wait_for([&] { return records("second") >= first.size(); }))
      << records("second") << " of " << first.size() << " records\n"
      << read_text(err("second"));
  const std::string second_log = stop("second");
  const std::vector<std::string> second = comparable_records(dir() / "second.jsonl");
  EXPECT_EQ(second, first) << difference(first, second);
  EXPECT_EQ(second_log.find("pending_buffered="), std::string::npos) << second_log;
}

// The periodic save: a collector that is killed (no shutdown save) still left its templates.
TEST_F(TemplateStateApp, PeriodicSavesSurviveAKill) {
  const fs::path state = dir() / "templates.state";
  start("killed", state);
  ASSERT_TRUE(exporter_.send(v9_templates_, port_));
  ASSERT_TRUE(exporter_.send(ipfix_templates_, port_));
  // Both exporters' templates in the file (each worker saves what it has heard).
  const auto saved_with_templates = [&] {
    std::vector<uint8_t> file;
    std::span<const uint8_t> body;
    if (decode::read_template_state_file(state.string(), file) != decode::StateStatus::kOk ||
        decode::parse_template_state(file, body) != decode::StateStatus::kOk) {
      return false;
    }
    decode::TemplateCache cache;
    decode::StateLoadFigures f;
    decode::load_template_state(body, 0, 0, cache, f);
    bool v9 = false, ipfix = false;
    cache.for_each_template([&](const decode::ExporterKey& k, uint32_t, const auto&, auto, uint64_t) {
      v9 |= k.version == decode::FlowType::kNetflow9;
      ipfix |= k.version == decode::FlowType::kIpfix;
    });
    return v9 && ipfix;
  };
  ASSERT_TRUE(wait_for(saved_with_templates)) << read_text(err("killed"));
  collector_->signal(SIGKILL);
  EXPECT_EQ(collector_->wait_exit(), 128 + SIGKILL);

  const uint16_t metrics_port = free_port(SOCK_STREAM);
  ASSERT_NE(metrics_port, 0);
  start("after", state, metrics_port);
  HttpReply reply;
  ASSERT_TRUE(wait_for([&] { return (reply = http_get(metrics_port, "/metrics")).status == 200; }));
  const auto metrics = samples(reply.body);
  EXPECT_GE(metrics.count("flowgate_template_state_loaded_templates"), 1u);
  EXPECT_GE(sum_prefixed(metrics, "flowgate_template_state_loaded_templates"), 2u);
  EXPECT_EQ(sum_prefixed(metrics, "flowgate_template_state_load_failures_total"), 0u);
  ASSERT_TRUE(exporter_.send(v9_data_, port_));
  ASSERT_TRUE(exporter_.send(ipfix_data_, port_));
  ASSERT_TRUE(wait_for([&] {
    const std::string text = read_text(dir() / "after.jsonl");
    return text.find("\"type\":\"netflow9\"") != std::string::npos &&
           text.find("\"type\":\"ipfix\"") != std::string::npos;
  })) << read_text(err("after"));
  const std::string log = stop("after");
  EXPECT_EQ(log.find("pending_buffered="), std::string::npos) << log;
}

TEST_F(TemplateStateApp, WithoutTheStateFileTheSameDataWaitsForTemplates) {
  start("cold", dir() / "none.state");
  EXPECT_NE(read_text(err("cold")).find("no " + (dir() / "none.state").string() + " yet"),
            std::string::npos)
      << read_text(err("cold"));
  ASSERT_TRUE(exporter_.send(v9_data_, port_));
  ASSERT_TRUE(exporter_.send(ipfix_data_, port_));
  pause_ms(300);
  const std::string log = stop("cold");
  EXPECT_EQ(records("cold"), 0u);
  EXPECT_NE(log.find("pending_buffered=" + std::to_string(v9_data_.size() + ipfix_data_.size())),
            std::string::npos)
      << log;
}

TEST_F(TemplateStateApp, ACorruptStateFileIsReportedAndIgnored) {
  const fs::path state = dir() / "templates.state";
  std::ofstream(state) << "FGTSTATE but not much else";
  start("corrupt", state);
  const std::string log = stop("corrupt");
  EXPECT_NE(log.find("template state: " + state.string() + " truncated; ignored"),
            std::string::npos)
      << log;
  // The shutdown save replaced it with a valid (empty) state.
  std::vector<uint8_t> file;
  std::span<const uint8_t> body;
  ASSERT_EQ(decode::read_template_state_file(state.string(), file), decode::StateStatus::kOk);
  EXPECT_EQ(decode::parse_template_state(file, body), decode::StateStatus::kOk);
}

TEST_F(TemplateStateApp, AnUnwritableLocationStopsStartUpNamingTheKey) {
  std::ofstream(dir() / "bad.conf") << "[[inputs.netflow]]\n"
                                       "  [[inputs.netflow.listeners]]\n"
                                       "    flow_type = \"auto\"\n"
                                    << "    port = " << port_ << "\n"
                                    << "[collector]\n"
                                       "template_state = \"/nonexistent-dir/templates.state\"\n";
  Child c;
  ASSERT_TRUE(c.start({"-c", (dir() / "bad.conf").string()}, dir() / "bad.out", err("bad")));
  EXPECT_EQ(c.wait_exit(), 2);
  EXPECT_NE(read_text(err("bad")).find("bad.conf:6:18: collector.template_state: directory "
                                       "\"/nonexistent-dir\" does not exist"),
            std::string::npos)
      << read_text(err("bad"));
}

// [collector] max_exporters reaches the workers' caches: a second exporter is refused, counted.
TEST_F(TemplateStateApp, TheExporterCapIsConfigurable) {
  std::ofstream(dir() / "cap.conf") << "[[inputs.netflow]]\n"
                                       "  [[inputs.netflow.listeners]]\n"
                                       "    flow_type = \"auto\"\n"
                                       "    bind_host = \"127.0.0.1\"\n"
                                    << "    port = " << port_ << "\n"
                                    << "[collector]\n"
                                       "max_exporters = 1\n"
                                       "[[outputs]]\n"
                                       "type = \"file\"\n"
                                    << "path = \"" << (dir() / "cap.jsonl").string() << "\"\n"
                                    << "[metrics]\nlisten = \"\"\n";
  collector_ = std::make_unique<Child>();
  ASSERT_TRUE(collector_->start({"-c", (dir() / "cap.conf").string()}, dir() / "cap.out", err("cap")));
  ASSERT_TRUE(wait_for([&] {
    return collector_->exited() || read_text(err("cap")).find("socket mode") != std::string::npos;
  })) << read_text(err("cap"));
  Exporter second;  // another source port: another exporter
  ASSERT_TRUE(exporter_.send(v9_templates_, port_));
  ASSERT_TRUE(second.send(v9_templates_, port_));
  pause_ms(300);
  const std::string log = stop("cap");
  EXPECT_NE(log.find("exporter_limit=" + std::to_string(v9_templates_.size())), std::string::npos)
      << log;
}

// The held-data caps reach the workers' caches: with pending_bytes_per_exporter = 0 no data set
// waits for its template (as it does by default, WithoutTheStateFileTheSameDataWaitsForTemplates);
// each is counted as unknown_template instead.
TEST_F(TemplateStateApp, TheHeldDataCapsAreConfigurable) {
  start("nohold", dir() / "none.state", 0, "pending_bytes_per_exporter = 0\n");
  ASSERT_TRUE(exporter_.send(v9_data_, port_));
  ASSERT_TRUE(exporter_.send(ipfix_data_, port_));
  pause_ms(300);
  const std::string log = stop("nohold");
  EXPECT_EQ(records("nohold"), 0u);
  EXPECT_EQ(log.find("pending_buffered="), std::string::npos) << log;
  EXPECT_NE(log.find("unknown_template="), std::string::npos) << log;
}

}  // namespace
}  // namespace flowgate
