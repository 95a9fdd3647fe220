// The flowgate binary as a user runs it: --pcap output, aggregation, --check-config.

#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "export/memory_budget.hpp"
#include "export/record_pipeline.hpp"
#include "tests/support/corpus.hpp"

namespace flowgate {
namespace {

namespace fs = std::filesystem;

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class FlowgateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("flowgate_cli_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result run(const std::string& args) {
    const fs::path out = dir_ / "stdout";
    const fs::path err = dir_ / "stderr";
    const std::string cmd = std::string(FLOWGATE_BINARY) + " " + args + " >" + out.string() +
                            " 2>" + err.string();
    const int status = std::system(cmd.c_str());
    Result r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = testing::read_text(out);
    r.err = testing::read_text(err);
    return r;
  }

  fs::path write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p;
  }

  // A configuration for the sample capture with [aggregation] max_keys = `max_keys`.
  fs::path write_max_keys(const std::string& name, const std::string& max_keys) {
    return write(name,
                 "[[inputs.netflow]]\n"
                 "  [[inputs.netflow.listeners]]\n"
                 "    flow_type = \"auto\"\n"
                 "    port = 2055\n"
                 "[aggregation]\n"
                 "enabled = true\n"
                 "max_keys = " + max_keys + "\n");
  }

  static std::vector<std::string> lines(const std::string& s) {
    std::vector<std::string> v;
    std::istringstream in(s);
    std::string line;
    while (std::getline(in, line)) v.push_back(line);
    return v;
  }

  fs::path dir_;
};

const std::string kSample = std::string(FLOWGATE_TEST_DATA_DIR) + "/sample.pcap";

TEST_F(FlowgateCli, DecodesTheBundledSampleToDatakitRecords) {
  const Result r = run("--pcap " + kSample + " --no-aggregate");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto records = lines(r.out);
  ASSERT_EQ(records.size(), 360u);  // scripts/gen_pcap.py: 120 flows per protocol
  simdjson::dom::parser parser;
  std::map<std::string, int> types;
  std::map<std::string, int> exporters;
  const std::vector<std::string> expected_keys = {
      "flush_timestamp", "type", "sampling_rate", "direction", "start", "end", "bytes",
      "packets", "ether_type", "ip_protocol", "device", "exporter", "source", "destination",
      "ingress", "egress", "host"};
  for (const std::string& line : records) {
    simdjson::dom::object o;
    ASSERT_EQ(parser.parse(line).get(o), simdjson::SUCCESS) << line;
    std::vector<std::string> keys;
    for (auto field : o) keys.emplace_back(field.key);
    ASSERT_GE(keys.size(), expected_keys.size());
    EXPECT_TRUE(std::equal(expected_keys.begin(), expected_keys.end(), keys.begin())) << line;
    ++types[std::string(o["type"].get_string().value())];
    ++exporters[std::string(o["exporter"]["ip"].get_string().value())];
    EXPECT_EQ(o["device"]["namespace"].get_string().value(), "namespace");
  }
  EXPECT_EQ(types["netflow5"], 120);
  EXPECT_EQ(types["netflow9"], 120);
  EXPECT_EQ(types["ipfix"], 120);
  EXPECT_EQ(exporters["192.0.2.10"], 120);
  EXPECT_EQ(exporters["192.0.2.11"], 120);
  EXPECT_EQ(exporters["192.0.2.12"], 120);
  EXPECT_NE(r.err.find("records=360"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("errors=0"), std::string::npos) << r.err;
}

TEST_F(FlowgateCli, AggregationKeepsTotalsAndMergesRecords) {
  const std::string capture =
      (testing::corpus_dir() / "graylog-plugin-netflow/netflow-data/nprobe-netflow9-3.pcap").string();
  const fs::path conf = write("agg.conf", R"(
[[inputs.netflow]]
  [[inputs.netflow.listeners]]
  flow_type = "auto"
)");
  auto totals = [](const std::string& out, size_t& n) {
    simdjson::dom::parser parser;
    uint64_t bytes = 0;
    n = 0;
    for (const std::string& line : lines(out)) {
      bytes += parser.parse(line)["bytes"].get_uint64().value();
      ++n;
    }
    return bytes;
  };
  const Result raw = run("--pcap " + capture + " -c " + conf.string() + " --no-aggregate");
  const Result agg = run("--pcap " + capture + " -c " + conf.string());
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  ASSERT_EQ(agg.exit_code, 0) << agg.err;
  size_t raw_n = 0;
  size_t agg_n = 0;
  EXPECT_EQ(totals(raw.out, raw_n), totals(agg.out, agg_n));
  EXPECT_EQ(raw_n, 892u);
  EXPECT_LT(agg_n, raw_n);
  EXPECT_GT(agg_n, 0u);
}

TEST_F(FlowgateCli, AttachesTagsAndTheHostTag) {
  const fs::path conf = write("tags.conf", R"(
[[inputs.netflow]]
  namespace = "edge"
  [[inputs.netflow.listeners]]
  flow_type = "netflow5"
  port = 2055
  [inputs.netflow.tags]
  site = "par-1"
  host = "collector-7"
)");
  const Result r = run("--pcap " + kSample + " -c " + conf.string() + " --no-aggregate");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto records = lines(r.out);
  ASSERT_FALSE(records.empty());
  simdjson::dom::parser parser;
  simdjson::dom::object o = parser.parse(records.front()).get_object().value();
  EXPECT_EQ(o["host"].get_string().value(), "collector-7");
  EXPECT_EQ(o["site"].get_string().value(), "par-1");
  EXPECT_EQ(o["device"]["namespace"].get_string().value(), "edge");
}

// A replay takes the [collector] template cache caps a live worker has: with max_exporters = 1
// the capture's second template-based exporter finds the table held by the first (which holds
// templates) and is refused, counted, while v5 needs no template and decodes as before.
TEST_F(FlowgateCli, AReplayTakesTheCollectorsTemplateCaps) {
  const fs::path conf = write("caps.conf", R"(
[[inputs.netflow]]
  [[inputs.netflow.listeners]]
  flow_type = "auto"
[collector]
max_exporters = 1
)");
  const Result r = run("--pcap " + kSample + " -c " + conf.string() + " --no-aggregate");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("exporter_limit="), std::string::npos) << r.err;
  const size_t records = lines(r.out).size();
  EXPECT_EQ(records, 240u) << "v5 and one of v9 / IPFIX: 120 flows each";
}

TEST_F(FlowgateCli, CheckConfigReportsEveryProblem) {
  const fs::path bad = write("bad.conf", R"([[inputs.netflow]]
  [[inputs.netflow.listeners]]
  flow_type = "netflow5"
  port = 0
[collector]
mode = "turbo"
)");
  const Result r = run("-c " + bad.string() + " --check-config");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(bad.string() + ":4:10: inputs.netflow[0].listeners[0].port: 0 is out of range 1..65535"),
            std::string::npos) << r.err;
  EXPECT_NE(r.err.find(bad.string() + ":6:8: collector.mode: \"turbo\" is not a mode"),
            std::string::npos) << r.err;
  const Result good = run("-c " + std::string(FLOWGATE_SOURCE_DIR) + "/config/flowgate.conf --check-config");
  EXPECT_EQ(good.exit_code, 0) << good.err;
  EXPECT_EQ(good.out, "ok\n");
}

// A max_keys whose tables cannot fit stops start-up with the setting to lower, before any
// memory is faulted in (100,000,000 keys need about 38 GB).
TEST_F(FlowgateCli, RefusesAnAggregationTableTheMachineCannotHold) {
  const auto have = exporter::memory_available_here();
  ASSERT_TRUE(have.has_value());
  if (have->bytes > (30ull << 30)) GTEST_SKIP() << "this machine could hold the table";
  const fs::path conf = write_max_keys("big.conf", "100000000");
  const Result r = run("--pcap " + kSample + " -c " + conf.string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("[aggregation] max_keys = 100000000 needs"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("lower max_keys"), std::string::npos) << r.err;
  // The cost of a key at this count: 100M keys' tables over 100M (about 470 bytes).
  const size_t about = r.err.find("(about ");
  ASSERT_NE(about, std::string::npos) << r.err;
  const unsigned long bytes_a_key = std::stoul(r.err.substr(about + 7));
  EXPECT_GE(bytes_a_key, 350u) << r.err;
  EXPECT_LE(bytes_a_key, 500u) << r.err;
  EXPECT_NE(r.err.find(conf.string()), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
  // Without aggregation the same file runs.
  EXPECT_EQ(run("--pcap " + kSample + " --no-aggregate -c " + conf.string()).exit_code, 0);
}

// Left to "auto", the aggregation table is sized to this machine at start-up and the start-up
// log says how: the keys, the tables' size and the memory it was sized from.
TEST_F(FlowgateCli, SizesTheAggregationTableToTheMachine) {
  const auto have = exporter::memory_available_here();
  ASSERT_TRUE(have.has_value());
  const Result r = run("--pcap " + kSample);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string said = "aggregation table: ";
  const size_t at = r.err.find(said);
  ASSERT_NE(at, std::string::npos) << r.err;
  const uint32_t keys = static_cast<uint32_t>(std::stoul(r.err.substr(at + said.size())));
  EXPECT_GE(keys, exporter::kAutoMinKeys);
  EXPECT_LE(keys, exporter::kAutoMaxKeys);
  if (have->bytes > (8ull << 30)) {
    EXPECT_EQ(keys, exporter::kAutoMaxKeys) << r.err;
  }
  EXPECT_NE(r.err.find("max_keys = \"auto\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(have->source), std::string::npos) << r.err;
  // A count in the file is taken as it is, without a word about sizing.
  const fs::path conf = write_max_keys("counted.conf", "5000");
  const Result counted = run("--pcap " + kSample + " -c " + conf.string());
  ASSERT_EQ(counted.exit_code, 0) << counted.err;
  EXPECT_EQ(counted.err.find(said), std::string::npos) << counted.err;
  EXPECT_EQ(std::count(counted.out.begin(), counted.out.end(), '\n'),
            std::count(r.out.begin(), r.out.end(), '\n'))
      << "this capture's keys fit either table, so both write the same aggregates";
}

TEST_F(FlowgateCli, MissingCaptureFailsClearly) {
  const Result r = run("--pcap " + (dir_ / "nope.pcap").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nope.pcap"), std::string::npos) << r.err;
}

TEST_F(FlowgateCli, WritesToAFileOutput) {
  const fs::path flows = dir_ / "flows.jsonl";
  const fs::path conf = write("file.conf", R"(
[[inputs.netflow]]
  [[inputs.netflow.listeners]]
  flow_type = "auto"
[[outputs]]
type = "file"
path = ")" + flows.string() + R"("
)");
  const Result r = run("--pcap " + kSample + " -c " + conf.string() + " --no-aggregate");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.empty());
  EXPECT_EQ(lines(testing::read_text(flows)).size(), 360u);
}

}  // namespace
}  // namespace flowgate
