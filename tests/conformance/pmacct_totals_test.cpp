// Conformance against pmacct's regression tests (shared/corpus/pmacct): for every capture that
// nfacctd's expected Kafka output covers, the bytes and packets flowgate decodes add up to the
// totals of that output. nfacctd aggregates, so totals (not single records) are the oracle.

#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "dataplane/pcap_source.hpp"
#include "decode/datagram_decoder.hpp"
#include "tests/support/collecting_output.hpp"
#include "tests/support/corpus.hpp"

namespace flowgate {
namespace {

struct Totals {
  uint64_t bytes = 0;
  uint64_t packets = 0;
  uint64_t records = 0;
};

// Sums nfacctd's expected output (one JSON object per line).
Totals expected_totals(const std::filesystem::path& dir) {
  Totals t;
  std::istringstream in(testing::read_text(dir / "output-flow-00.json"));
  simdjson::dom::parser parser;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    simdjson::dom::element e = parser.parse(line);
    t.bytes += e["bytes"].get_uint64().value();
    t.packets += e["packets"].get_uint64().value();
    ++t.records;
  }
  return t;
}

// nfacctd_renormalize: true multiplies counters by the sampling rate it knows.
bool renormalizes(const std::filesystem::path& dir) {
  const std::string conf = testing::read_text(dir / "nfacctd-00.conf");
  return conf.find("nfacctd_renormalize: true") != std::string::npos;
}

struct PmacctCase {
  std::string dir;
};

class PmacctTotals : public ::testing::TestWithParam<std::string> {};

TEST_P(PmacctTotals, BytesAndPacketsEqualNfacctdOutput) {
  const std::filesystem::path dir = testing::corpus_dir() / "pmacct" / GetParam();
  const Totals expected = expected_totals(dir);
  ASSERT_GT(expected.records, 0u);
  const bool renormalize = renormalizes(dir);

  decode::TemplateCache templates;
  decode::DecodeCounters counters;
  testing::CollectingOutput out;
  std::vector<std::filesystem::path> pcaps;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".pcap") pcaps.push_back(e.path());
  }
  std::sort(pcaps.begin(), pcaps.end());
  ASSERT_FALSE(pcaps.empty());
  uint16_t replay_port = 40000;
  for (const auto& pcap : pcaps) {
    dataplane::PcapSource src;
    ASSERT_EQ(src.open(pcap.string()), dataplane::PcapStatus::kOk) << src.error();
    // pmacct's traffic reproducer replays each capture from one socket, so nfacctd sees one
    // source port per capture whatever ports the router used: do the same.
    ++replay_port;
    const auto s = src.run([&](const dataplane::UdpDatagram& d) {
      if (decode::detect_flow_type(d.payload) == decode::FlowType::kUnknown) return;
      decode::DatagramMeta meta = d.meta(0);
      meta.exporter_port = replay_port;
      EXPECT_EQ(decode::decode_datagram(d.payload, meta, templates, out.output(), counters),
                decode::DecodeStatus::kOk);
    });
    ASSERT_EQ(s, dataplane::PcapStatus::kOk);
  }
  EXPECT_EQ(counters.total_errors(), 0u);

  Totals got;
  out.for_each([&](const decode::FlowBlock& b, uint32_t r) {
    const uint64_t factor = renormalize && b.sampling_rate[r] > 0 ? b.sampling_rate[r] : 1;
    got.bytes += b.bytes[r] * factor;
    got.packets += b.packets[r] * factor;
    ++got.records;
  });
  EXPECT_EQ(got.bytes, expected.bytes);
  EXPECT_EQ(got.packets, expected.packets);
}

std::vector<std::string> pmacct_tests() {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(testing::corpus_dir() / "pmacct")) {
    if (e.is_directory() && std::filesystem::exists(e.path() / "output-flow-00.json")) {
      names.push_back(e.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string test_suffix(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = "t" + info.param;
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
}

INSTANTIATE_TEST_SUITE_P(Corpus, PmacctTotals, ::testing::ValuesIn(pmacct_tests()), test_suffix);

TEST(PmacctCorpus, HasEveryFlowTest) { EXPECT_EQ(pmacct_tests().size(), 16u); }

}  // namespace
}  // namespace flowgate
