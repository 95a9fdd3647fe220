// Conformance of the sFlow v5 decoder against the sFlow payloads of the goflow2 and vflow test
// suites (shared/corpus/{goflow2,vflow}/bin/sflow_*.bin). The expected values are what
// Wireshark's sFlow dissector shows for each payload (tshark 4.0.17, `tshark -V` on the payload
// wrapped by tools/dat2pcap.py with --dport 6343), transcribed per flow sample:
//   sampling rate, input/output interface (0 for the discarded/multiple formats), frame length,
//   MACs, ether type (after 802.1Q), VLAN (extended switch ingress VLAN, else the frame's tag),
//   IPv4 addresses, protocol, ports (ICMP: type << 8 | code), DSCP/ECN byte, TCP flags,
//   extended router next hop and masks, extended gateway AS numbers.
// The corpus holds no counter samples; counter values are covered by the unit tests.

#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "decode/datagram_decoder.hpp"
#include "decode/sflow_decoder.hpp"
#include "tests/support/address_text.hpp"
#include "tests/support/collecting_output.hpp"
#include "tests/support/corpus.hpp"

namespace flowgate {
namespace {

using decode::DecodeStatus;
using decode::FlowBlock;
using decode::IpAddress;

struct ExpectedFlow {
  uint32_t sampling_rate;
  uint32_t in_if;
  uint32_t out_if;
  uint64_t bytes;  // the raw header's frame_length
  uint64_t src_mac;
  uint64_t dst_mac;
  uint16_t ether_type;
  uint16_t vlan;
  const char* src;
  const char* dst;
  uint8_t protocol;
  uint16_t src_port;
  uint16_t dst_port;
  uint8_t tos;
  uint8_t tcp_flags;
  const char* next_hop;  // "" when no extended router/gateway record
  uint8_t src_mask;
  uint8_t dst_mask;
  uint32_t src_as;
  uint32_t dst_as;
};

struct ExpectedDatagram {
  const char* file;
  const char* agent;
  uint32_t sub_agent;
  uint32_t sequence;
  uint64_t discard_samples;
  std::vector<ExpectedFlow> flows;
};

// As the expectations write it: an absent (zero) address is "".
std::string format_address(const IpAddress& a) {
  return a.is_zero() ? "" : testing::format_address(a);
}

// clang-format off
const std::vector<ExpectedDatagram>& corpus() {
  static const std::vector<ExpectedDatagram> kCorpus = {
      {"goflow2/bin/sflow_TestSFlowDecode_data_L11.bin", "172.16.0.17", 1, 426, 0,
       {
           // Ethernet / 802.1Q 32 / IPv4 / ICMP echo request (type 8, code 0).
           {2048, 1194, 1043, 82, 0xffabcdefab64, 0x00ff1234351b, 0x0800, 32, "172.16.32.254",
            "172.16.32.241", 1, 0, 8 << 8, 0x00, 0x00, "", 0, 0, 0, 0},
       }},
      {"goflow2/bin/sflow_TestExpandedSFlowDecode_data_L30.bin", "1.2.3.4", 0, 262632130, 0,
       {
           // Expanded flow samples: extended switch, then Ethernet / 802.1Q / IPv4 / TCP.
           {16383, 1000100, 1000018, 1514, 0x7483ef3065b7, 0x08ecf52a8fbe, 0x0800, 30,
            "185.59.220.147", "88.238.78.19", 6, 443, 53206, 0x00, 0x10, "", 0, 0, 0, 0},
           {16383, 1000100, 1000011, 1482, 0x7483ef3065b7, 0xdab122fbd9cf, 0x0800, 23,
            "195.181.175.38", "5.146.198.158", 6, 80, 4019, 0x00, 0x10, "", 0, 0, 0, 0},
           {16383, 1000104, 1000100, 1522, 0x28993a4e8927, 0x7483ef3065b7, 0x0800, 1337,
            "137.74.204.213", "89.187.169.85", 6, 1935, 44508, 0x18, 0x10, "", 0, 0, 0, 0},
           {16383, 1000100, 1000011, 1522, 0x7483ef3065b7, 0xdab122fbd9cf, 0x0800, 23,
            "185.102.219.67", "103.194.169.32", 6, 25461, 22446, 0x00, 0x10, "", 0, 0, 0, 0},
           {16383, 1000100, 1000101, 1522, 0x7483ef3065b7, 0x90e2ba8921ad, 0x0800, 957,
            "51.91.116.108", "195.181.174.135", 6, 8000, 32872, 0x00, 0x10, "", 0, 0, 0, 0},
       }},
      // Discarded-packet samples (format 5, sflow_drops.txt): skipped, no flow rows.
      {"goflow2/bin/sflow_TestSFlowDecodeDropExtendedACL_data_L153.bin", "192.168.119.184",
       100000, 3, 1, {}},
      {"goflow2/bin/sflow_TestSFlowDecodeDropExtendedFunction_data_L174.bin", "192.168.119.184",
       100000, 3, 1, {}},
      {"vflow/bin/sflow__global_TestsFlowRawPacket_L30.bin", "24.3.64.33", 1, 36195, 0,
       {
           // Raw header (Ethernet / IPv4 / TCP), extended switch (VLAN 0), extended router.
           {4096, 561, 707, 1518, 0xae4bc8413ae2, 0x4055394104b8, 0x0800, 0, "152.195.33.40",
            "69.42.22.51", 6, 443, 54482, 0x00, 0x10, "206.72.210.70", 24, 19, 0, 0},
           {4096, 561, 707, 1458, 0xae4bc8413ae2, 0xd46d507f8ac9, 0x0800, 0, "152.195.13.89",
            "172.58.27.156", 6, 443, 47609, 0x00, 0x10, "206.72.211.22", 24, 21, 0, 0},
           {4096, 561, 707, 1438, 0xae4bc8413ae2, 0xd46d507f8ac9, 0x0800, 0, "152.195.33.132",
            "172.58.30.212", 6, 443, 40920, 0x02, 0x10, "206.72.211.22", 24, 21, 0, 0},
           {4096, 707, 561, 70, 0x4055394104b8, 0xae4bc8413ae2, 0x0800, 0, "104.220.197.6",
            "93.184.215.178", 6, 38296, 443, 0x00, 0x10, "152.195.77.131", 16, 24, 0, 0},
           {4096, 562, 707, 1418, 0xae4bc8413ae2, 0xd46d507f8ac9, 0x0800, 0, "192.229.210.181",
            "172.58.25.132", 6, 443, 40206, 0x00, 0x18, "206.72.211.22", 24, 21, 0, 0},
       }},
      {"vflow/bin/sflow__global_TestsFlowRawPacketWithPaddingAfterSample_L105.bin",
       "10.0.2.246", 1, 908969843, 0,
       {
           // Output 0x80000000: format 2 (multiple interfaces, count unknown) -> 0. UDP to
           // multicast groups; the TCP samples carry extended router and gateway records
           // (AS 32160 router, source AS 174, empty destination path -> the router's AS) and
           // 4 bytes of padding after their last record.
           {1024, 130, 0, 1366, 0x90e2ba398e27, 0x01005e006720, 0x0800, 444, "192.168.44.15",
            "224.0.103.32", 17, 54235, 2001, 0x00, 0x00, "", 0, 0, 0, 0},
           {1024, 129, 131, 1472, 0xe0acf11ccfed, 0x609c9f43f062, 0x0800, 105, "31.13.66.14",
            "72.9.120.197", 6, 443, 56650, 0x28, 0x10, "0.0.0.0", 0, 0, 174, 32160},
           {1024, 2, 0, 1366, 0x00219b97d7d3, 0x01005e017324, 0x0800, 912, "10.0.2.85",
            "225.1.115.36", 17, 55300, 2001, 0x00, 0x00, "", 0, 0, 0, 0},
           {1024, 130, 131, 1522, 0x34dbfd0406c9, 0x609c9f43f062, 0x0800, 104, "108.175.39.162",
            "72.9.120.75", 6, 80, 49017, 0x00, 0x10, "0.0.0.0", 0, 0, 174, 32160},
           {1024, 129, 5, 1522, 0xe0acf11ccfed, 0x609c9f43f062, 0x0800, 105, "54.192.91.77",
            "72.9.115.176", 6, 443, 52129, 0x48, 0x10, "10.0.3.254", 0, 0, 174, 32160},
       }},
  };
  return kCorpus;
}
// clang-format on

class SflowCorpus : public ::testing::TestWithParam<ExpectedDatagram> {};

TEST_P(SflowCorpus, DecodesToWhatTsharkShows) {
  const ExpectedDatagram& want = GetParam();
  const std::vector<uint8_t> payload = testing::read_file(testing::corpus_dir() / want.file);
  ASSERT_FALSE(payload.empty()) << want.file;

  decode::DatagramMeta meta;
  meta.exporter = IpAddress::from_v4(0xc0000201);  // dat2pcap's 192.0.2.1
  meta.exporter_port = 4444;
  meta.receive_ns = 1'700'000'000'000'000'000ull;
  testing::CollectingOutput out;
  decode::DecodeCounters counters;
  decode::TemplateCache templates;
  decode::InterfaceCounterStore store(64);
  const auto bytes = std::as_bytes(std::span(payload));
  ASSERT_EQ(decode::detect_flow_type(bytes), decode::FlowType::kSflow5);
  EXPECT_EQ(decode::decode_datagram(bytes, meta, templates, out.output(), counters, &store),
            DecodeStatus::kOk);
  EXPECT_EQ(counters.total_errors(), 0u);
  EXPECT_EQ(counters.sflow_discard_samples, want.discard_samples);
  EXPECT_EQ(counters.sflow_skipped_samples, 0u);
  EXPECT_EQ(counters.sflow_skipped_records, 0u);
  EXPECT_EQ(counters.sflow_flow_samples, want.flows.size());
  EXPECT_EQ(store.size(), 0u);
  ASSERT_EQ(out.size(), want.flows.size());

  for (size_t i = 0; i < want.flows.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << want.file << " sample " << i);
    const ExpectedFlow& e = want.flows[i];
    const auto [block, r] = out.at(i);
    const FlowBlock& b = *block;
    EXPECT_EQ(format_address(b.exporter_addr[r]), want.agent);
    EXPECT_EQ(b.observation_domain[r], want.sub_agent);
    EXPECT_EQ(b.sequence[r], want.sequence);
    EXPECT_EQ(b.exporter_port[r], 4444);
    EXPECT_EQ(b.flow_type[r], decode::FlowType::kSflow5);
    EXPECT_EQ(b.direction[r], decode::Direction::kIngress);
    EXPECT_EQ(b.start_ms[r], 1'700'000'000'000u);
    EXPECT_EQ(b.end_ms[r], 1'700'000'000'000u);
    EXPECT_EQ(b.packets[r], 1u);
    EXPECT_EQ(b.sampling_rate[r], e.sampling_rate);
    EXPECT_EQ(b.in_if[r], e.in_if);
    EXPECT_EQ(b.out_if[r], e.out_if);
    EXPECT_EQ(b.bytes[r], e.bytes);
    EXPECT_EQ(b.src_mac[r], e.src_mac);
    EXPECT_EQ(b.dst_mac[r], e.dst_mac);
    EXPECT_EQ(b.ether_type[r], e.ether_type);
    EXPECT_EQ(b.vlan[r], e.vlan);
    EXPECT_EQ(format_address(b.src_addr[r]), e.src);
    EXPECT_EQ(format_address(b.dst_addr[r]), e.dst);
    EXPECT_EQ(b.protocol[r], e.protocol);
    EXPECT_EQ(b.src_port[r], e.src_port);
    EXPECT_EQ(b.dst_port[r], e.dst_port);
    EXPECT_EQ(b.tos[r], e.tos);
    EXPECT_EQ(b.tcp_flags[r], e.tcp_flags);
    EXPECT_EQ(format_address(b.next_hop[r]), e.next_hop);
    EXPECT_EQ(b.src_mask[r], e.src_mask);
    EXPECT_EQ(b.dst_mask[r], e.dst_mask);
    EXPECT_EQ(b.src_as[r], e.src_as);
    EXPECT_EQ(b.dst_as[r], e.dst_as);
  }
}

std::string name_of(const ::testing::TestParamInfo<ExpectedDatagram>& info) {
  std::string name = info.param.file;
  name = name.substr(name.rfind('/') + 1);
  name = name.substr(0, name.rfind('.'));
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Goflow2AndVflow, SflowCorpus, ::testing::ValuesIn(corpus()), name_of);

// Every sFlow payload in the corpus is covered above.
TEST(SflowCorpusFiles, AllSflowPayloadsHaveExpectations) {
  size_t files = 0;
  for (const char* dir : {"goflow2/bin", "vflow/bin"}) {
    for (const auto& entry : std::filesystem::directory_iterator(testing::corpus_dir() / dir)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("sflow", 0) != 0) continue;
      ++files;
      const std::string rel = std::string(dir) + "/" + name;
      bool found = false;
      for (const ExpectedDatagram& d : corpus()) found = found || rel == d.file;
      EXPECT_TRUE(found) << rel;
    }
  }
  EXPECT_EQ(files, corpus().size());
}

// Every prefix of every corpus payload decodes without a fault outside the datagram (ASan) and
// with one outcome.
TEST(SflowCorpusFiles, EveryPrefixIsHandled) {
  for (const ExpectedDatagram& d : corpus()) {
    const std::vector<uint8_t> payload = testing::read_file(testing::corpus_dir() / d.file);
    for (size_t n = 0; n < payload.size(); ++n) {
      const std::vector<uint8_t> cut(payload.begin(), payload.begin() + static_cast<ptrdiff_t>(n));
      testing::CollectingOutput out;
      decode::DecodeCounters counters;
      const DecodeStatus s =
          decode::decode_sflow(std::as_bytes(std::span(cut)), {}, out.output(), counters, nullptr);
      EXPECT_EQ(counters.total_errors(), s == DecodeStatus::kOk ? 0u : 1u) << d.file << " " << n;
      EXPECT_LE(out.size(), d.flows.size());
    }
  }
}

}  // namespace
}  // namespace flowgate
