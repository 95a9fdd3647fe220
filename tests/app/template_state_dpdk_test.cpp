// Template persistence in DPDK mode: the load and save live in DecodeShard, which DPDK workers
// share with socket and af_packet workers. A net_pcap replay of templates and data, then a
// restart that replays only the data, writes the same records.

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/collector_harness.hpp"
#include "tests/support/temp_dir.hpp"

namespace flowgate {
namespace {

using namespace flowgate::testing;

constexpr uint16_t kFlowPort = 2055;
constexpr uint16_t kSenderPort = 40000;

class TemplateStateDpdk : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }
  fs::path dir() const { return dir_.path(); }

  // Replays `datagrams` through net_pcap in DPDK mode until the worker has taken them all,
  // then SIGTERM; returns the log.
  std::string run(const std::string& name, const std::vector<Datagram>& datagrams) {
    const fs::path capture = dir() / (name + ".pcap");
    write_capture(capture, datagrams, kSenderPort);
    const uint16_t metrics_port = free_port(SOCK_STREAM);
    std::ofstream(dir() / (name + ".conf"))
        << "[[inputs.netflow]]\n  [[inputs.netflow.listeners]]\n    flow_type = \"auto\"\n"
        << "    port = " << kFlowPort << "\n"
        << "[collector]\nmode = \"dpdk\"\n"
        << "template_state = \"" << (dir() / "templates.state").string() << "\"\n"
        << "[collector.dpdk]\ndevices = [\"net_pcap0,rx_pcap=" << capture.string() << "\"]\n"
        << "[aggregation]\nenabled = false\n"
        << "[[outputs]]\ntype = \"file\"\npath = \"" << (dir() / (name + ".jsonl")).string()
        << "\"\nflush_interval = \"100ms\"\n"
        << "[metrics]\nlisten = \"127.0.0.1:" << metrics_port << "\"\n";
    const fs::path err = dir() / (name + ".err");
    Child c;
    EXPECT_TRUE(c.start({"-c", (dir() / (name + ".conf")).string()}, dir() / (name + ".out"), err));
    EXPECT_TRUE(wait_for([&] {
      if (c.exited()) return true;
      return sum_prefixed(metrics_samples(metrics_port),
                          "flowgate_worker_datagrams_received_total") == datagrams.size();
    })) << read_text(err);
    c.signal(SIGTERM);
    EXPECT_EQ(c.wait_exit(), 0) << read_text(err);
    return read_text(err);
  }

  TempDir dir_;
};

TEST_F(TemplateStateDpdk, ARestartDecodesDataFromTheFirstFrame) {
  const auto v9_templates = file_payloads("goflow2/bin/netflow9_TestDecodeNetFlowV9_template_L14.bin");
  const auto v9_data = file_payloads("goflow2/bin/netflow9_TestDecodeNetFlowV9_data_L118.bin");
  const auto ipfix_templates = file_payloads("logstash-codec-netflow/dat/ipfix_test_mikrotik_tpl.dat");
  const auto ipfix_data = file_payloads("logstash-codec-netflow/dat/ipfix_test_mikrotik_data258.dat");
  std::vector<Datagram> all;
  std::vector<Datagram> data;
  add(all, v9_templates, kFlowPort);
  add(all, ipfix_templates, kFlowPort);
  add(all, v9_data, kFlowPort);
  add(all, ipfix_data, kFlowPort);
  add(data, v9_data, kFlowPort);
  add(data, ipfix_data, kFlowPort);

  const std::string first_log = run("first", all);
  const std::vector<std::string> first = comparable_records(dir() / "first.jsonl");
  ASSERT_GT(first.size(), 0u) << first_log;
  ASSERT_NE(first_log.find("template state: saved"), std::string::npos) << first_log;

  const std::string second_log = run("second", data);
  EXPECT_NE(second_log.find("template state: loaded"), std::string::npos) << second_log;
  const std::vector<std::string> second = comparable_records(dir() / "second.jsonl");
  EXPECT_EQ(second, first) << difference(first, second);
  EXPECT_EQ(second_log.find("pending_buffered="), std::string::npos) << second_log;
}

}  // namespace
}  // namespace flowgate
