#include <gtest/gtest.h>

#include <string>

#include "config/config_loader.hpp"

namespace flowgate::config {
namespace {

std::string all_errors(const LoadResult& r) {
  std::string s;
  for (const ConfigError& e : r.errors) s += e.to_string() + "\n";
  return s;
}

constexpr const char* kInput = R"(
[[inputs.netflow]]
  [[inputs.netflow.listeners]]
  flow_type = "netflow5"
)";

// A configuration of one NetFlow v5 input (lines 2-4) and then `outputs` (from line 5).
LoadResult with_outputs(const std::string& outputs) {
  return load_config_string(std::string(kInput) + outputs, "x.conf");
}

TEST(OutputConfig, ReadsTheHttpSinkKeys) {
  const LoadResult r = with_outputs(R"(
[[outputs]]
type = "clickhouse"
url = "http://127.0.0.1:8123/"
database = "netflow"
table = "flows_local"
gzip = true
timeout = "2s"
retry_max = "10s"
spool_dir = "/var/lib/flowgate/spool/ch"
spool_max_bytes = 1048576
queue_batches = 8
shutdown_timeout = "3s"
[[outputs]]
type = "datakit"
url = "http://127.0.0.1:9529/v1/write/logging"
)");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  ASSERT_EQ(r.config.outputs.size(), 2u);
  const Output& o = r.config.outputs[0];
  EXPECT_EQ(o.type, OutputType::kClickhouse);
  EXPECT_EQ(o.database, "netflow");
  EXPECT_EQ(o.table, "flows_local");
  EXPECT_TRUE(o.gzip);
  EXPECT_EQ(o.timeout_ms, 2000u);
  EXPECT_EQ(o.retry_max_ms, 10'000u);
  EXPECT_EQ(o.spool_dir, "/var/lib/flowgate/spool/ch");
  EXPECT_EQ(o.spool_max_bytes, 1048576u);
  EXPECT_EQ(o.queue_batches, 8u);
  EXPECT_EQ(o.shutdown_timeout_ms, 3000u);
  EXPECT_EQ(o.line, 6u);  // its [[outputs]] header
  const Output& d = r.config.outputs[1];
  EXPECT_EQ(d.type, OutputType::kDatakit);
  EXPECT_FALSE(d.gzip);
  EXPECT_EQ(d.timeout_ms, 5000u);
  EXPECT_TRUE(d.spool_dir.empty());
}

TEST(OutputConfig, RejectsKeysOfAnotherKindOfOutputWithTheirLine) {
  const LoadResult r = with_outputs(R"(
[[outputs]]
type = "file"
path = "/tmp/f.jsonl"
spool_dir = "/tmp/spool"
[[outputs]]
type = "http"
url = "http://127.0.0.1:9/"
table = "flows"
[[outputs]]
type = "stdout"
direct_io = true
)");
  ASSERT_EQ(r.errors.size(), 3u) << all_errors(r);
  EXPECT_EQ(r.errors[0].key, "outputs[0].spool_dir");
  EXPECT_EQ(r.errors[0].line, 9u);
  EXPECT_NE(r.errors[0].message.find("http, datakit and clickhouse"), std::string::npos);
  EXPECT_EQ(r.errors[1].key, "outputs[1].table");
  EXPECT_EQ(r.errors[1].line, 13u);
  EXPECT_EQ(r.errors[2].key, "outputs[2].direct_io");
  EXPECT_NE(r.errors[2].message.find("file outputs only"), std::string::npos);
}

TEST(OutputConfig, DirectIoIsAFileOutputsChoice) {
  const LoadResult r = with_outputs(R"(
[[outputs]]
type = "file"
path = "/tmp/f.jsonl"
direct_io = true
[[outputs]]
type = "file"
path = "/tmp/g.jsonl"
)");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_TRUE(r.config.outputs[0].direct_io);
  EXPECT_FALSE(r.config.outputs[1].direct_io);  // the page cache unless asked
  const LoadResult wrong =
      with_outputs("[[outputs]]\ntype = \"file\"\npath = \"/f\"\ndirect_io = 1\n");
  ASSERT_EQ(wrong.errors.size(), 1u) << all_errors(wrong);
  EXPECT_EQ(wrong.errors[0].key, "outputs[0].direct_io");
}

TEST(OutputConfig, RejectsWrongValues) {
  const LoadResult r = with_outputs(R"(
[[outputs]]
type = "clickhouse"
url = "127.0.0.1:8123"
table = "flows; DROP TABLE x"
timeout = "soon"
spool_max_bytes = 10
queue_batches = 0
gzip = "yes"
)");
  std::string keys;
  for (const ConfigError& e : r.errors) keys += e.key + " ";
  EXPECT_EQ(keys,
            "outputs[0].url outputs[0].table outputs[0].timeout outputs[0].spool_max_bytes "
            "outputs[0].queue_batches outputs[0].gzip ")
      << all_errors(r);
}

TEST(OutputConfig, TwoOutputsCannotShareASpool) {
  const LoadResult r = with_outputs(R"(
[[outputs]]
type = "http"
url = "http://127.0.0.1:9/"
spool_dir = "/tmp/spool"
[[outputs]]
type = "datakit"
url = "http://127.0.0.1:9529/v1/write/logging"
spool_dir = "/tmp/spool"
)");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_EQ(r.errors[0].key, "outputs[1].spool_dir");
  EXPECT_EQ(r.errors[0].line, 13u);
}

}  // namespace
}  // namespace flowgate::config
