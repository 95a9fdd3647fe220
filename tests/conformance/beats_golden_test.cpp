// Conformance against Elastic Beats' golden decodings of the logstash-codec-netflow payloads
// (shared/corpus/beats-netflow-golden): for every golden, flowgate decodes the same number of
// flow and options records from the same payloads, and the flow records agree field by field.

#include <gtest/gtest.h>
#include <simdjson.h>

#include <ctime>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "decode/datagram_decoder.hpp"
#include "tests/support/address_text.hpp"
#include "tests/support/collecting_output.hpp"
#include "tests/support/corpus.hpp"
#include "tests/support/datagram_split.hpp"

namespace flowgate {
namespace {

using decode::IpAddress;
using testing::format_address;

// dat_tests.yaml: test name -> payload files in send order.
std::map<std::string, std::vector<std::string>> load_dat_tests() {
  std::map<std::string, std::vector<std::string>> tests;
  std::istringstream in(testing::read_text(testing::corpus_dir() /
                                           "beats-netflow-golden/dat_tests.yaml"));
  std::string line;
  std::string current;
  bool in_files = false;
  while (std::getline(in, line)) {
    if (line.rfind("  ", 0) == 0 && line.size() > 3 && line[2] != ' ' && line.back() == ':') {
      current = line.substr(2, line.size() - 3);
      in_files = false;
    } else if (line == "    files:") {
      in_files = true;
    } else if (line.rfind("    ", 0) == 0 && line[4] != ' ') {
      in_files = false;  // another key of the test (custom_fields)
    } else if (in_files && line.rfind("      - ", 0) == 0) {
      tests[current].push_back(line.substr(8));
    }
  }
  return tests;
}

// "2015-10-08T19:03:46.14Z" -> ms since the epoch.
int64_t parse_iso_ms(std::string_view s) {
  std::tm tm{};
  const std::string head(s.substr(0, 19));
  strptime(head.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  if (s.size() > 20 && s[19] == '.') {
    int64_t frac = 0;
    int digits = 0;
    for (size_t i = 20; i < s.size() && s[i] != 'Z' && digits < 3; ++i, ++digits) {
      frac = frac * 10 + (s[i] - '0');
    }
    while (digits++ < 3) frac *= 10;
    ms += frac;
  }
  return ms;
}

struct Decoded {
  testing::CollectingOutput out;
  decode::DecodeCounters counters;
  std::vector<decode::DecodeStatus> statuses;
};

void decode_files(const std::vector<std::string>& files, Decoded& d) {
  decode::TemplateCache templates;
  decode::DatagramMeta meta;
  // Beats produced its goldens with exporter 192.0.2.1:4444.
  meta.exporter = IpAddress::from_v4(0xc0000201);
  meta.exporter_port = 4444;
  for (const std::string& f : files) {
    const std::vector<uint8_t> bytes =
        testing::read_file(testing::corpus_dir() / "logstash-codec-netflow/dat" / f);
    ASSERT_FALSE(bytes.empty()) << f;
    for (std::span<const uint8_t> dg : testing::split_datagrams(bytes)) {
      d.statuses.push_back(decode::decode_datagram(std::as_bytes(dg), meta, templates,
                                                   d.out.output(), d.counters));
    }
  }
}

std::optional<uint64_t> get_uint(simdjson::dom::object o, const char* key) {
  uint64_t v;
  if (o[key].get(v) == simdjson::SUCCESS) return v;
  return std::nullopt;
}
std::optional<std::string> get_string(simdjson::dom::object o, const char* key) {
  std::string_view v;
  if (o[key].get(v) == simdjson::SUCCESS) return std::string(v);
  return std::nullopt;
}

// The address Beats shows for one side: the IPv4 field unless it is absent or 0.0.0.0 and an
// IPv6 one is present (flowgate keeps the non-zero one of the two).
std::optional<std::string> expected_address(simdjson::dom::object nf, const char* v4,
                                            const char* v6) {
  auto a4 = get_string(nf, v4);
  auto a6 = get_string(nf, v6);
  if (a4 && (*a4 != "0.0.0.0" || !a6)) return a4;
  return a6;
}

// The first present key in priority order (flowgate's fallback order).
std::optional<uint64_t> first_uint(simdjson::dom::object nf, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    if (auto v = get_uint(nf, k)) return v;
  }
  return std::nullopt;
}

// Goldens that disagree with RFC 3954 / RFC 7011, with what flowgate decodes instead.
struct Disagreement {
  size_t records;
  size_t options;
  const char* why;
};
const std::map<std::string, Disagreement>& disagreements() {
  static const std::map<std::string, Disagreement> m = {
      {"Netflow-9-invalid-01.golden.json",
       {2, 1,
        "Beats drops the whole datagram because its header count (2) disagrees with the six "
        "records it carries (two templates, an options template, three data records). RFC "
        "3954 §5.1 defines count as the number of records, but exporters get it wrong, so "
        "flowgate walks the flowsets by their lengths, which are all consistent here, and "
        "decodes the IPv6 and IPv4 flow and the sampling options record."}},
  };
  return m;
}

class BeatsGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(BeatsGolden, MatchesRecordCountsAndFields) {
  static const auto dat_tests = load_dat_tests();
  const auto golden_path = testing::corpus_dir() / "beats-netflow-golden/golden" / GetParam();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.load(golden_path.string()).get(doc), simdjson::SUCCESS) << golden_path;
  const std::string test_name(doc["test_name"].get_string().value());
  const auto files = dat_tests.find(test_name);
  ASSERT_NE(files, dat_tests.end()) << test_name;

  Decoded d;
  decode_files(files->second, d);
  for (size_t i = 0; i < d.statuses.size(); ++i) {
    EXPECT_EQ(d.statuses[i], decode::DecodeStatus::kOk)
        << "datagram " << i << ": " << decode::decode_status_name(d.statuses[i]);
  }

  std::vector<simdjson::dom::object> flows;
  size_t options = 0;
  simdjson::dom::array events;
  const bool has_events = doc["events"].get(events) == simdjson::SUCCESS;
  if (has_events) {
    for (simdjson::dom::element e : events) {
      simdjson::dom::object nf = e["Fields"]["netflow"].get_object().value();
      if (nf["type"].get_string().value() == "netflow_options") {
        ++options;
      } else {
        flows.push_back(nf);
      }
    }
  }
  if (auto it = disagreements().find(GetParam()); it != disagreements().end()) {
    SCOPED_TRACE(it->second.why);
    EXPECT_EQ(d.counters.records, it->second.records);
    EXPECT_EQ(d.counters.options_records, it->second.options);
    return;
  }
  EXPECT_EQ(d.counters.records, flows.size());
  EXPECT_EQ(d.counters.options_records, options);
  ASSERT_EQ(d.out.size(), flows.size());
  if (!has_events) return;  // Beats emits nothing for this input, and neither does flowgate

  size_t i = 0;
  for (simdjson::dom::element e : events) {
    simdjson::dom::object fields = e["Fields"].get_object().value();
    simdjson::dom::object nf = fields["netflow"].get_object().value();
    if (nf["type"].get_string().value() != "netflow_flow") continue;
    SCOPED_TRACE("flow record " + std::to_string(i));
    auto [block, row] = d.out.at(i++);
    const decode::FlowBlock& b = *block;

    if (auto a = expected_address(nf, "source_ipv4_address", "source_ipv6_address")) {
      EXPECT_EQ(format_address(b.src_addr[row]), *a);
    }
    if (auto a = expected_address(nf, "destination_ipv4_address", "destination_ipv6_address")) {
      EXPECT_EQ(format_address(b.dst_addr[row]), *a);
    }
    if (auto a = expected_address(nf, "ip_next_hop_ipv4_address", "ip_next_hop_ipv6_address")) {
      EXPECT_EQ(format_address(b.next_hop[row]), *a);
    } else if (auto bgp = expected_address(nf, "bgp_next_hop_ipv4_address",
                                           "bgp_next_hop_ipv6_address")) {
      EXPECT_EQ(format_address(b.next_hop[row]), *bgp);
    }
    if (auto v = get_uint(nf, "source_transport_port")) {
      EXPECT_EQ(b.src_port[row], *v);
    }
    if (auto v = get_uint(nf, "destination_transport_port")) {
      EXPECT_EQ(b.dst_port[row], *v);
    }
    if (auto v = get_uint(nf, "protocol_identifier")) {
      EXPECT_EQ(b.protocol[row], *v);
    }
    if (auto v = get_uint(nf, "ip_class_of_service")) {
      EXPECT_EQ(b.tos[row], *v);
    }
    if (auto v = get_uint(nf, "tcp_control_bits")) {
      EXPECT_EQ(b.tcp_flags[row], *v & 0xff);
    }
    if (auto v = first_uint(nf, {"octet_delta_count", "octet_total_count",
                                 "post_octet_delta_count"})) {
      EXPECT_EQ(b.bytes[row], *v);
    }
    if (auto v = first_uint(nf, {"packet_delta_count", "packet_total_count",
                                 "post_packet_delta_count"})) {
      EXPECT_EQ(b.packets[row], *v);
    }
    if (auto v = first_uint(nf, {"ingress_interface", "ingress_physical_interface"})) {
      EXPECT_EQ(b.in_if[row], *v);
    }
    if (auto v = first_uint(nf, {"egress_interface", "egress_physical_interface"})) {
      EXPECT_EQ(b.out_if[row], *v);
    }
    if (auto v = first_uint(nf, {"source_ipv4_prefix_length", "source_ipv6_prefix_length"})) {
      EXPECT_EQ(b.src_mask[row], *v);
    }
    if (auto v = first_uint(nf, {"destination_ipv4_prefix_length",
                                 "destination_ipv6_prefix_length"})) {
      EXPECT_EQ(b.dst_mask[row], *v);
    }
    if (auto v = get_uint(nf, "flow_direction")) {
      EXPECT_EQ(b.direction[row], *v == 1 ? decode::Direction::kEgress : decode::Direction::kIngress);
    }
    if (auto v = first_uint(nf, {"sampling_interval", "sampler_random_interval"})) {
      EXPECT_EQ(b.sampling_rate[row], *v);
    }
    simdjson::dom::object event;
    if (fields["event"].get(event) == simdjson::SUCCESS) {
      if (auto s = get_string(event, "start")) {
        EXPECT_EQ(static_cast<int64_t>(b.start_ms[row]), parse_iso_ms(*s)) << *s;
      }
      if (auto s = get_string(event, "end")) {
        EXPECT_EQ(static_cast<int64_t>(b.end_ms[row]), parse_iso_ms(*s)) << *s;
      }
    }
    EXPECT_EQ(format_address(b.exporter_addr[row]), "192.0.2.1");
    EXPECT_EQ(b.exporter_port[row], 4444);
  }
}

std::vector<std::string> golden_files() {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(testing::corpus_dir() /
                                                           "beats-netflow-golden/golden")) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string test_suffix(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param.substr(0, info.param.find(".golden"));
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
}

INSTANTIATE_TEST_SUITE_P(Corpus, BeatsGolden, ::testing::ValuesIn(golden_files()), test_suffix);

TEST(BeatsGoldenCorpus, HasEveryCopiedGolden) {
  // The corpus README lists 24 copied goldens; a missing corpus must fail, not pass vacuously.
  EXPECT_EQ(golden_files().size(), 24u);
}

}  // namespace
}  // namespace flowgate
