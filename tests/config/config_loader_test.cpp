#include "config/config_loader.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/support/corpus.hpp"

namespace flowgate::config {
namespace {

// The seed's sample (Datakit's netflow.conf), verbatim.
constexpr const char* kSeedSample = R"(
[[inputs.netflow]]
    source    = "netflow"
    namespace = "namespace"

    #[[inputs.netflow.listeners]]
    #    flow_type = "netflow9"
    #    port      = 2055

    [[inputs.netflow.listeners]]
        flow_type = "netflow5"
        port      = 2056

    #[[inputs.netflow.listeners]]
    #    flow_type = "ipfix"
    #    port      = 4739

    #[[inputs.netflow.listeners]]
    #    flow_type = "sflow5"
    #    port      = 6343

    [inputs.netflow.tags]
    # some_tag = "some_value"
    # more_tag = "some_other_value"
)";

std::string all_errors(const LoadResult& r) {
  std::string s;
  for (const ConfigError& e : r.errors) s += e.to_string() + "\n";
  return s;
}

TEST(ConfigLoader, AcceptsTheSeedSampleVerbatim) {
  const LoadResult r = load_config_string(kSeedSample, "netflow.conf");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  ASSERT_EQ(r.config.inputs.size(), 1u);
  EXPECT_EQ(r.config.inputs[0].source, "netflow");
  EXPECT_EQ(r.config.inputs[0].device_namespace, "namespace");
  EXPECT_TRUE(r.config.inputs[0].tags.empty());
  ASSERT_EQ(r.config.listeners.size(), 1u);
  EXPECT_EQ(r.config.listeners[0].flow_type, decode::FlowType::kNetflow5);
  EXPECT_EQ(r.config.listeners[0].port, 2056);
  EXPECT_EQ(r.config.listeners[0].bind_host, "0.0.0.0");
  // flowgate's own tables take their defaults.
  EXPECT_EQ(r.config.collector.mode, Mode::kSocket);
  EXPECT_EQ(r.config.collector.workers, 1u);
  EXPECT_TRUE(r.config.aggregation.enabled);
  EXPECT_EQ(r.config.aggregation.flush_interval_ms, 300'000u);
  EXPECT_EQ(r.config.aggregation.port_rollup_threshold, 10u);
  EXPECT_EQ(r.config.aggregation.max_keys, 0u) << "\"auto\": sized to memory at start-up";
  ASSERT_EQ(r.config.outputs.size(), 1u);
  EXPECT_EQ(r.config.outputs[0].type, OutputType::kStdout);
  EXPECT_EQ(r.config.metrics.listen, "127.0.0.1:9108");
}

TEST(ConfigLoader, SourceAndNamespaceDefaultAsTheReferenceCode) {
  const LoadResult r = load_config_string(R"(
[[inputs.netflow]]
  [[inputs.netflow.listeners]]
  flow_type = "ipfix"
)", "x.conf");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.config.inputs[0].source, "netflow");
  EXPECT_EQ(r.config.inputs[0].device_namespace, "namespace");
}

TEST(ConfigLoader, DefaultPortsPerFlowType) {
  const LoadResult r = load_config_string(R"(
[[inputs.netflow]]
  [[inputs.netflow.listeners]]
  flow_type = "netflow5"
  bind_host = "127.0.0.2"
[[inputs.netflow]]
  [[inputs.netflow.listeners]]
  flow_type = "netflow9"
  bind_host = "127.0.0.1"
  [[inputs.netflow.listeners]]
  flow_type = "ipfix"
  [[inputs.netflow.listeners]]
  flow_type = "sflow5"
  [[inputs.netflow.listeners]]
  flow_type = "auto"
  port = 9995
)", "x.conf");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  ASSERT_EQ(r.config.listeners.size(), 5u);
  EXPECT_EQ(r.config.listeners[0].port, 2055);
  EXPECT_EQ(r.config.listeners[1].port, 2055);
  EXPECT_EQ(r.config.listeners[1].bind_host, "127.0.0.1");
  EXPECT_EQ(r.config.listeners[1].input, 1u);
  EXPECT_EQ(r.config.listeners[2].port, 4739);
  EXPECT_EQ(r.config.listeners[3].port, 6343);
  EXPECT_TRUE(r.config.listeners[4].auto_detect);
  EXPECT_EQ(r.config.listeners[4].port, 9995);
}

TEST(ConfigLoader, TagsKeepFileOrder) {
  const LoadResult r = load_config_string(R"(
[[inputs.netflow]]
  [[inputs.netflow.listeners]]
  flow_type = "netflow5"
  [inputs.netflow.tags]
  zone = "eu-1"
  host = "edge-7"
  rack = "r12"
)", "x.conf");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const auto& tags = r.config.inputs[0].tags;
  ASSERT_EQ(tags.size(), 3u);
  EXPECT_EQ(tags[0], (std::pair<std::string, std::string>{"zone", "eu-1"}));
  EXPECT_EQ(tags[1], (std::pair<std::string, std::string>{"host", "edge-7"}));
  EXPECT_EQ(tags[2], (std::pair<std::string, std::string>{"rack", "r12"}));
}

TEST(ConfigLoader, ReportsEveryErrorWithFileLineColumnAndKey) {
  const LoadResult r = load_config_string(R"([[inputs.netflow]]
  sauce = "netflow"
  [[inputs.netflow.listeners]]
  flow_type = "netflow7"
  [[inputs.netflow.listeners]]
  flow_type = "ipfix"
  port = 70000
  [inputs.netflow.tags]
  bytes = "x"
[collector]
workers = "two"
)", "flowgate.conf");
  ASSERT_EQ(r.errors.size(), 5u) << all_errors(r);
  EXPECT_EQ(r.errors[0].to_string(),
            "flowgate.conf:2:3: inputs.netflow[0].sauce: unknown key; expected one of: source, "
            "namespace, listeners, tags");
  EXPECT_EQ(r.errors[1].to_string(),
            "flowgate.conf:4:15: inputs.netflow[0].listeners[0].flow_type: \"netflow7\" is not a "
            "flow type; expected netflow5, netflow9, ipfix, sflow5 or auto");
  EXPECT_EQ(r.errors[2].to_string(),
            "flowgate.conf:7:10: inputs.netflow[0].listeners[1].port: 70000 is out of range "
            "1..65535");
  EXPECT_EQ(r.errors[3].key, "inputs.netflow[0].tags.bytes");
  EXPECT_EQ(r.errors[3].line, 9u);
  EXPECT_EQ(r.errors[4].to_string(),
            "flowgate.conf:11:11: collector.workers: expected an integer 1..256, got a string");
}

TEST(ConfigLoader, RejectsTwoListenersOnOneAddressAndPort) {
  const LoadResult r = load_config_string(R"(
[[inputs.netflow]]
  [[inputs.netflow.listeners]]
  flow_type = "netflow5"
  port = 2055
[[inputs.netflow]]
  [[inputs.netflow.listeners]]
  flow_type = "netflow9"
  port = 2055
  bind_host = "127.0.0.1"
)", "x.conf");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].line, 7u);
  EXPECT_NE(r.errors[0].message.find("127.0.0.1:2055 is bound twice"), std::string::npos);
}

TEST(ConfigLoader, DifferentAddressesOnOnePortAreFine) {
  const LoadResult r = load_config_string(R"(
[[inputs.netflow]]
  [[inputs.netflow.listeners]]
  flow_type = "netflow5"
  bind_host = "127.0.0.1"
  [[inputs.netflow.listeners]]
  flow_type = "netflow9"
  bind_host = "127.0.0.2"
)", "x.conf");
  EXPECT_TRUE(r.ok()) << all_errors(r);
}

TEST(ConfigLoader, ReportsSyntaxErrorsWithPosition) {
  const LoadResult r = load_config_string("[[inputs.netflow]\n", "broken.conf");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].file, "broken.conf");
  EXPECT_EQ(r.errors[0].line, 1u);
}

TEST(ConfigLoader, RequiresAnInputBlock) {
  const LoadResult r = load_config_string("[collector]\nworkers = 2\n", "x.conf");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].message.find("no [[inputs.netflow]] block"), std::string::npos);
}

TEST(ConfigLoader, ReadsFlowgateTables) {
  const LoadResult r = load_config_string(R"(
[[inputs.netflow]]
  [[inputs.netflow.listeners]]
  flow_type = "netflow5"
[collector]
mode = "dpdk"
workers = 2
cpus = [2, 3]
receive_buffer_bytes = 8388608
[collector.dpdk]
devices = ["net_pcap0,rx_pcap=replay.pcap"]
burst = 64
[aggregation]
enabled = false
flush_interval = "5m"
port_rollup_threshold = 8
[[outputs]]
type = "file"
path = "/tmp/flows.jsonl"
[[outputs]]
type = "clickhouse"
url = "http://127.0.0.1:8123/"
[metrics]
listen = "127.0.0.1:19108"
)", "x.conf");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const Config& c = r.config;
  EXPECT_EQ(c.collector.mode, Mode::kDpdk);
  EXPECT_EQ(c.collector.cpus, (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(c.collector.receive_buffer_bytes, 8388608u);
  EXPECT_EQ(c.collector.dpdk.devices.size(), 1u);
  EXPECT_EQ(c.collector.dpdk.burst, 64u);
  EXPECT_FALSE(c.aggregation.enabled);
  EXPECT_EQ(c.aggregation.flush_interval_ms, 300'000u);
  EXPECT_EQ(c.aggregation.port_rollup_threshold, 8u);
  ASSERT_EQ(c.outputs.size(), 2u);
  EXPECT_EQ(c.outputs[0].type, OutputType::kFile);
  EXPECT_EQ(c.outputs[0].path, "/tmp/flows.jsonl");
  EXPECT_EQ(c.outputs[1].table, "flows");
  EXPECT_EQ(c.metrics.listen, "127.0.0.1:19108");
}

TEST(ConfigLoader, ReadsTheDpdkTable) {
  const LoadResult r = load_config_string(R"([[inputs.netflow]]
[[inputs.netflow.listeners]]
flow_type = "ipfix"
[collector]
mode = "dpdk"
[collector.dpdk]
devices = ["0000:03:00.0"]
worker_lcores = [2, 3]
exporter_lcores = [1]
dispatch_lcore = 4
rss = "software"
rx_descriptors = 2048
mbuf_data_room = 9000
idle_sleep_us = 0
address = "192.0.2.10"
addresses = ["2001:db8::10"]
exception_tap = "fg-kernel0"
exception_rate = 5000
)", "x.conf");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const DpdkConfig& d = r.config.collector.dpdk;
  EXPECT_EQ(d.worker_lcores, (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(d.exporter_lcores, (std::vector<uint32_t>{1}));
  EXPECT_EQ(d.dispatch_lcore, 4);
  EXPECT_EQ(d.rss, Rss::kSoftware);
  EXPECT_EQ(d.rx_descriptors, 2048u);
  EXPECT_EQ(d.mbuf_data_room, 9000u);
  EXPECT_EQ(d.idle_sleep_us, 0u);
  EXPECT_EQ(d.addresses, (std::vector<std::string>{"192.0.2.10", "2001:db8::10"}));
  EXPECT_EQ(d.exception_tap, "fg-kernel0");
  EXPECT_EQ(d.exception_rate, 5000u);
  EXPECT_EQ(DpdkConfig{}.exception_rate, 20'000u) << "the default";
}

TEST(ConfigLoader, TheExceptionRateIsAFrameCountASecond) {
  const auto load = [](const std::string& rate) {
    return load_config_string("[[inputs.netflow]]\n[[inputs.netflow.listeners]]\n"
                              "flow_type = \"ipfix\"\n[collector.dpdk]\nexception_rate = " +
                                  rate + "\n",
                              "x.conf");
  };
  const LoadResult off = load("0");
  ASSERT_TRUE(off.ok()) << all_errors(off);
  EXPECT_EQ(off.config.collector.dpdk.exception_rate, 0u) << "0: no limit";
  const LoadResult huge = load("20000000");
  ASSERT_EQ(huge.errors.size(), 1u) << all_errors(huge);
  EXPECT_EQ(huge.errors[0].to_string(),
            "x.conf:5:18: collector.dpdk.exception_rate: 20000000 is out of range 0..10000000");
}

TEST(ConfigLoader, TheExceptionTapIsOffUnlessNamed) {
  const LoadResult r = load_config_string(R"([[inputs.netflow]]
[[inputs.netflow.listeners]]
flow_type = "ipfix"
[collector.dpdk]
exception_tap = ""
)", "x.conf");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.config.collector.dpdk.exception_tap, "");
  EXPECT_EQ(DpdkConfig{}.exception_tap, "");
}

TEST(ConfigLoader, RejectsExceptionTapNamesTheKernelOrEalWouldNotTake) {
  for (const char* name : {"a-name-of-16-chr", "fg 0", "fg/0", "fg:0", "fg0,mac=x", "..", "1=2"}) {
    const LoadResult r = load_config_string(std::string(R"([[inputs.netflow]]
[[inputs.netflow.listeners]]
flow_type = "ipfix"
[collector.dpdk]
exception_tap = ")") + name + "\"\n", "t.conf");
    ASSERT_EQ(r.errors.size(), 1u) << name << ": " << all_errors(r);
    EXPECT_EQ(r.errors[0].to_string(),
              "t.conf:5:17: collector.dpdk.exception_tap: \"" + std::string(name) +
                  "\" is not a TAP interface name: 1 to 15 characters, not . or .., no '/', ':', "
                  "',', '=' or white space (\"\" turns the exception path off)")
        << name;
  }
  const LoadResult ok = load_config_string(R"([[inputs.netflow]]
[[inputs.netflow.listeners]]
flow_type = "ipfix"
[collector.dpdk]
exception_tap = "fg.kernel_15chr"
)", "t.conf");
  EXPECT_TRUE(ok.ok()) << all_errors(ok);
}

TEST(ConfigLoader, ReportsWrongDpdkSettings) {
  const LoadResult r = load_config_string(R"([[inputs.netflow]]
[[inputs.netflow.listeners]]
flow_type = "ipfix"
[collector.dpdk]
rss = "magic"
exporter_lcores = [0, 1]
dispatch_ring = 1000
addresses = ["192.0.2.300"]
)", "d.conf");
  ASSERT_EQ(r.errors.size(), 4u) << all_errors(r);
  EXPECT_EQ(r.errors[0].to_string(),
            "d.conf:5:7: collector.dpdk.rss: \"magic\" is not an RSS mode; expected auto, hardware "
            "or software");
  EXPECT_EQ(r.errors[1].to_string(),
            "d.conf:6:19: collector.dpdk.exporter_lcores: expected exactly one lcore (the EAL main "
            "lcore runs the exporter)");
  EXPECT_EQ(r.errors[2].key, "collector.dpdk.dispatch_ring");
  EXPECT_EQ(r.errors[3].key, "collector.dpdk.addresses");
}

TEST(ConfigLoader, ReadsAfPacketSettings) {
  const LoadResult r = load_config_string(R"([[inputs.netflow]]
[[inputs.netflow.listeners]]
flow_type = "ipfix"
[collector]
mode = "af_packet"
workers = 2
[collector.af_packet]
interface = "ens1f0"
block_size = 4194304
blocks = 64
block_timeout_ms = 5
)", "x.conf");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.config.collector.mode, Mode::kAfPacket);
  const AfPacketConfig& a = r.config.collector.af_packet;
  EXPECT_EQ(a.interface, "ens1f0");
  EXPECT_EQ(a.block_size, 4194304u);
  EXPECT_EQ(a.blocks, 64u);
  EXPECT_EQ(a.block_timeout_ms, 5u);
}

TEST(ConfigLoader, AfPacketRingDefaultsHoldAWholeDatagram) {
  const LoadResult r = load_config_string(R"([[inputs.netflow]]
[[inputs.netflow.listeners]]
flow_type = "ipfix"
[collector]
mode = "af_packet"
)", "x.conf");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const AfPacketConfig& a = r.config.collector.af_packet;
  EXPECT_EQ(a.interface, "eth0");
  EXPECT_GE(a.block_size, 65536u + 14u);
  EXPECT_GE(a.blocks, 2u);
  EXPECT_GE(a.block_timeout_ms, 1u);
}

TEST(ConfigLoader, ReportsWrongAfPacketSettings) {
  const LoadResult r = load_config_string(R"([[inputs.netflow]]
[[inputs.netflow.listeners]]
flow_type = "ipfix"
[collector.af_packet]
interface = "an-interface-name-too-long"
block_size = 100000
blocks = 1
block_timeout_ms = 0
frame_size = 2048
)", "a.conf");
  ASSERT_EQ(r.errors.size(), 5u) << all_errors(r);
  std::vector<std::string> text;
  for (const ConfigError& e : r.errors) text.push_back(e.to_string());
  std::sort(text.begin(), text.end());
  EXPECT_EQ(text[0], "a.conf:5:13: collector.af_packet.interface: \"an-interface-name-too-long\" "
                     "is not an interface name (1 to 15 characters)");
  EXPECT_EQ(text[1], "a.conf:6:14: collector.af_packet.block_size: 100000 is not a power of two");
  EXPECT_EQ(text[2], "a.conf:7:10: collector.af_packet.blocks: 1 is out of range 2..65536");
  EXPECT_EQ(text[4].rfind("a.conf:9:1: collector.af_packet.frame_size: unknown key", 0), 0u)
      << text[4];
  EXPECT_EQ(text[3],
            "a.conf:8:20: collector.af_packet.block_timeout_ms: 0 is out of range 1..10000");
}

TEST(ConfigLoader, RollupThresholdAboveElevenIsRefused) {
  const LoadResult r = load_config_string(R"(
[[inputs.netflow]]
  [[inputs.netflow.listeners]]
  flow_type = "netflow5"
[aggregation]
port_rollup_threshold = 12
)", "x.conf");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(),
            "x.conf:6:25: aggregation.port_rollup_threshold: 12 is out of range 0..11");
}

// max_keys takes a count or "auto" (sized at start-up, as when it is left out); any other text
// is refused with what would be right.
TEST(ConfigLoader, MaxKeysIsACountOrAuto) {
  const auto load = [](const std::string& value) {
    return load_config_string("[[inputs.netflow]]\n"
                              "  [[inputs.netflow.listeners]]\n"
                              "  flow_type = \"netflow5\"\n"
                              "[aggregation]\n"
                              "max_keys = " + value + "\n", "x.conf");
  };
  const LoadResult counted = load("500000");
  ASSERT_TRUE(counted.ok()) << all_errors(counted);
  EXPECT_EQ(counted.config.aggregation.max_keys, 500'000u);
  const LoadResult automatic = load("\"auto\"");
  ASSERT_TRUE(automatic.ok()) << all_errors(automatic);
  EXPECT_EQ(automatic.config.aggregation.max_keys, 0u);
  const LoadResult words = load("\"lots\"");
  ASSERT_EQ(words.errors.size(), 1u);
  EXPECT_EQ(words.errors[0].to_string(),
            "x.conf:5:12: aggregation.max_keys: expected \"auto\" or an integer 1..100000000");
  const LoadResult zero = load("0");
  ASSERT_EQ(zero.errors.size(), 1u);
  EXPECT_EQ(zero.errors[0].to_string(), "x.conf:5:12: aggregation.max_keys: 0 is out of range 1..100000000");
}

// A config of one listener and this [collector] table, as file "x.conf" (line 5 is the table's
// first line).
LoadResult load_collector(const std::string& collector) {
  return load_config_string("[[inputs.netflow]]\n"
                            "  [[inputs.netflow.listeners]]\n"
                            "  flow_type = \"netflow9\"\n"
                            "[collector]\n" + collector, "x.conf");
}

// The caps on data held for a missing template: defaults, values, and a per-exporter share
// larger than the whole refused with what would be right.
TEST(ConfigLoader, ReadsTheHeldDataCaps) {
  const LoadResult defaults = load_collector("");
  ASSERT_TRUE(defaults.ok()) << all_errors(defaults);
  EXPECT_EQ(defaults.config.collector.pending_bytes, 1u << 20);
  EXPECT_EQ(defaults.config.collector.pending_bytes_per_exporter, 64u << 10);
  EXPECT_EQ(defaults.config.collector.max_pending_sets, 2048u);
  EXPECT_EQ(defaults.config.collector.pending_timeout_ms, 60'000u);
  const LoadResult set =
      load_collector("pending_bytes = 8388608\npending_bytes_per_exporter = 1048576\n"
                     "max_pending_sets = 16384\npending_timeout = \"5m\"\n");
  ASSERT_TRUE(set.ok()) << all_errors(set);
  EXPECT_EQ(set.config.collector.pending_bytes, 8u << 20);
  EXPECT_EQ(set.config.collector.pending_bytes_per_exporter, 1u << 20);
  EXPECT_EQ(set.config.collector.max_pending_sets, 16384u);
  EXPECT_EQ(set.config.collector.pending_timeout_ms, 300'000u);
  const LoadResult none = load_collector("pending_bytes = 0\npending_bytes_per_exporter = 0\n");
  ASSERT_TRUE(none.ok()) << all_errors(none);
  const LoadResult share =
      load_collector("pending_bytes = 4096\npending_bytes_per_exporter = 65536\n");
  ASSERT_EQ(share.errors.size(), 1u);
  EXPECT_EQ(share.errors[0].to_string(),
            "x.conf:6:30: collector.pending_bytes_per_exporter: 65536 is more than pending_bytes "
            "(4096), which holds every exporter's share; at most 4096");
  const LoadResult sets = load_collector("max_pending_sets = 0\npending_timeout = \"10ms\"\n");
  ASSERT_EQ(sets.errors.size(), 2u) << all_errors(sets);
  EXPECT_EQ(sets.errors[0].to_string(),
            "x.conf:5:20: collector.max_pending_sets: 0 is out of range 1..1048576");
}

TEST(ConfigLoader, ReadsTheReceiveCoalescingWait) {
  const LoadResult defaults = load_collector("");
  ASSERT_TRUE(defaults.ok()) << all_errors(defaults);
  EXPECT_EQ(defaults.config.collector.receive_coalesce_ms, 8u);
  const LoadResult set = load_collector("receive_coalesce = \"5ms\"\n");
  ASSERT_TRUE(set.ok()) << all_errors(set);
  EXPECT_EQ(set.config.collector.receive_coalesce_ms, 5u);
  const LoadResult off = load_collector("receive_coalesce = 0\n");
  ASSERT_TRUE(off.ok()) << all_errors(off);
  EXPECT_EQ(off.config.collector.receive_coalesce_ms, 0u);
  const LoadResult long_wait = load_collector("receive_coalesce = \"1s\"\n");
  ASSERT_EQ(long_wait.errors.size(), 1u) << all_errors(long_wait);
  EXPECT_EQ(long_wait.errors[0].to_string(),
            "x.conf:5:20: collector.receive_coalesce: must be at most 20ms: the receive buffer "
            "holds what arrives meanwhile");
}

TEST(ConfigLoader, FileOutputNeedsAPath) {
  const LoadResult r = load_config_string(R"(
[[inputs.netflow]]
  [[inputs.netflow.listeners]]
  flow_type = "netflow5"
[[outputs]]
type = "file"
)", "x.conf");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].key, "outputs[0].path");
}

TEST(ConfigLoader, EmbeddedDefaultAndShippedSampleAreValidAndEqual) {
  const LoadResult embedded = load_config_string(embedded_default_config(), "<embedded>");
  EXPECT_TRUE(embedded.ok()) << all_errors(embedded);
  EXPECT_EQ(embedded.config.listeners.size(), 4u);
  const std::string shipped = std::string(FLOWGATE_SOURCE_DIR) + "/config/flowgate.conf";
  EXPECT_EQ(testing::read_text(shipped), embedded_default_config());
  const LoadResult file = load_config_file(shipped);
  EXPECT_TRUE(file.ok()) << all_errors(file);
}

TEST(ConfigLoader, MissingFileIsAnError) {
  const LoadResult r = load_config_file("/nonexistent/flowgate.conf");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(), "/nonexistent/flowgate.conf: cannot open the file");
}

TEST(Duration, ParsesUnits) {
  uint64_t ms = 0;
  EXPECT_TRUE(parse_duration_ms("300s", ms));
  EXPECT_EQ(ms, 300'000u);
  EXPECT_TRUE(parse_duration_ms("5m", ms));
  EXPECT_EQ(ms, 300'000u);
  EXPECT_TRUE(parse_duration_ms("1h", ms));
  EXPECT_EQ(ms, 3'600'000u);
  EXPECT_TRUE(parse_duration_ms("250ms", ms));
  EXPECT_EQ(ms, 250u);
  EXPECT_TRUE(parse_duration_ms("7", ms));
  EXPECT_EQ(ms, 7000u);
  EXPECT_FALSE(parse_duration_ms("5 minutes", ms));
  EXPECT_FALSE(parse_duration_ms("", ms));
  EXPECT_FALSE(parse_duration_ms("-3s", ms));
}

}  // namespace
}  // namespace flowgate::config
