// NetFlow v5 decoder: header fields, the 48-byte record layout, header sampling, sysUptime
// times (including the 32-bit wrap), record-count checks, and block refill.

#include "decode/netflow5_decoder.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/support/decoder_harness.hpp"
#include "tests/support/flow_wire.hpp"

namespace flowgate {
namespace {

using decode::DecodeStatus;
using decode::Direction;
using decode::FlowBlock;
using decode::FlowType;
using testing::DecoderHarness;
using testing::field;
using testing::ipv4;
using testing::V5Header;
using testing::V5Record;

constexpr uint32_t kUnixSecs = 1'692'077'976;

V5Record sample_record() {
  V5Record r;
  r.src = 0x82f067cc;  // 130.240.103.204
  r.dst = 0x98de24a8;  // 152.222.36.168
  r.next_hop = 0x1468348b;
  r.in_if = 7;
  r.out_if = 0xfffe;
  r.packets = 1588;
  r.bytes = 0xfffffff0;
  r.first = 9'000'000;
  r.last = 9'500'000;
  r.src_port = 4627;
  r.dst_port = 424;
  r.tcp_flags = 0x12;
  r.protocol = 6;
  r.tos = 0xb8;
  r.src_as = 64512;
  r.dst_as = 65535;
  r.src_mask = 20;
  r.dst_mask = 8;
  return r;
}

V5Header sample_header() {
  V5Header h;
  h.uptime_ms = 10'000'000;
  h.unix_secs = kUnixSecs;
  h.unix_nsecs = 250'000'000;
  h.sequence = 77;
  h.engine_type = 1;
  h.engine_id = 2;
  return h;
}

std::vector<uint8_t> records(const V5Header& h, uint16_t n) {
  std::vector<V5Record> rs(n, sample_record());
  for (uint16_t i = 0; i < n; ++i) rs[i].src_port = i;
  return testing::netflow5(h, rs);
}

void expect_fault(const std::vector<uint8_t>& d, DecodeStatus want) {
  DecoderHarness h;
  EXPECT_EQ(h.netflow5(d), want);
  EXPECT_TRUE(h.contract_ok);
  EXPECT_EQ(h.counters.error(want), 1u);
  EXPECT_EQ(h.counters.total_errors(), 1u);
  EXPECT_EQ(h.size(), 0u);
  EXPECT_EQ(h.counters.records, 0u);
}

TEST(Netflow5Decoder, DecodesEveryColumnOfARecord) {
  DecoderHarness h;
  V5Record second = sample_record();
  second.src = 0x0a000001;
  ASSERT_EQ(h.netflow5(testing::netflow5(sample_header(), {sample_record(), second})),
            DecodeStatus::kOk);
  EXPECT_TRUE(h.contract_ok);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h.counters.records, 2u);
  EXPECT_EQ(h.counters.datagrams, 1u);

  EXPECT_EQ(field(h, 0, &FlowBlock::src_addr), ipv4(130, 240, 103, 204));
  EXPECT_EQ(field(h, 0, &FlowBlock::dst_addr), ipv4(152, 222, 36, 168));
  EXPECT_EQ(field(h, 0, &FlowBlock::next_hop), ipv4(20, 104, 52, 139));
  EXPECT_EQ(field(h, 0, &FlowBlock::in_if), 7u);
  EXPECT_EQ(field(h, 0, &FlowBlock::out_if), 0xfffeu);
  EXPECT_EQ(field(h, 0, &FlowBlock::packets), 1588u);
  EXPECT_EQ(field(h, 0, &FlowBlock::bytes), 0xfffffff0u);
  EXPECT_EQ(field(h, 0, &FlowBlock::src_port), 4627);
  EXPECT_EQ(field(h, 0, &FlowBlock::dst_port), 424);
  EXPECT_EQ(field(h, 0, &FlowBlock::tcp_flags), 0x12);
  EXPECT_EQ(field(h, 0, &FlowBlock::protocol), 6);
  EXPECT_EQ(field(h, 0, &FlowBlock::tos), 0xb8);
  EXPECT_EQ(field(h, 0, &FlowBlock::src_as), 64512u);
  EXPECT_EQ(field(h, 0, &FlowBlock::dst_as), 65535u);
  EXPECT_EQ(field(h, 0, &FlowBlock::src_mask), 20);
  EXPECT_EQ(field(h, 0, &FlowBlock::dst_mask), 8);
  EXPECT_EQ(field(h, 0, &FlowBlock::src_mac), 0u);
  EXPECT_EQ(field(h, 0, &FlowBlock::dst_mac), 0u);
  EXPECT_EQ(field(h, 0, &FlowBlock::vlan), 0);
  EXPECT_EQ(field(h, 0, &FlowBlock::port_rollup), 0);
  EXPECT_EQ(field(h, 0, &FlowBlock::direction), Direction::kIngress);
  EXPECT_EQ(field(h, 0, &FlowBlock::ether_type), 0x0800);
  EXPECT_EQ(field(h, 0, &FlowBlock::sampling_rate), 0u);
  EXPECT_EQ(field(h, 0, &FlowBlock::exporter_addr), ipv4(192, 0, 2, 1));
  EXPECT_EQ(field(h, 0, &FlowBlock::exporter_port), 4444);
  EXPECT_EQ(field(h, 0, &FlowBlock::listener), 3);
  EXPECT_EQ(field(h, 0, &FlowBlock::observation_domain), 0x0102u);  // engine type, engine id
  EXPECT_EQ(field(h, 0, &FlowBlock::sequence), 77u);
  EXPECT_EQ(field(h, 0, &FlowBlock::flow_type), FlowType::kNetflow5);
  EXPECT_EQ(field(h, 1, &FlowBlock::src_addr), ipv4(10, 0, 0, 1));
  EXPECT_EQ(field(h, 1, &FlowBlock::dst_addr), ipv4(152, 222, 36, 168));
}

TEST(Netflow5Decoder, SamplingIntervalIsTheLow14BitsWhateverTheMode) {
  for (const auto& [word, rate] : {std::pair<uint16_t, uint32_t>{0x0000, 0},
                                   {0x0064, 100},
                                   {0x4064, 100},    // mode 01 (deterministic)
                                   {0x8000 | 1000, 1000},  // mode 10 (random)
                                   {0xffff, 0x3fff}}) {
    DecoderHarness h;
    V5Header hdr = sample_header();
    hdr.sampling = word;
    ASSERT_EQ(h.netflow5(records(hdr, 2)), DecodeStatus::kOk);
    EXPECT_EQ(field(h, 0, &FlowBlock::sampling_rate), rate) << "sampling word " << word;
    EXPECT_EQ(field(h, 1, &FlowBlock::sampling_rate), rate) << "sampling word " << word;
  }
}

TEST(Netflow5Decoder, TimesAreSysUptimeRelativeToTheHeaderUnixTime) {
  DecoderHarness h;
  V5Record r = sample_record();
  r.first = 10'000'000 - 5'000;  // 5 s before the export
  r.last = 10'000'000 - 1;
  ASSERT_EQ(h.netflow5(testing::netflow5(sample_header(), {r})), DecodeStatus::kOk);
  const uint64_t export_ms = uint64_t{kUnixSecs} * 1000 + 250;  // unix_nsecs 250 ms
  EXPECT_EQ(field(h, 0, &FlowBlock::start_ms), export_ms - 5'000);
  EXPECT_EQ(field(h, 0, &FlowBlock::end_ms), export_ms - 1);
}

TEST(Netflow5Decoder, TimesSurviveThe32BitUptimeWrap) {
  // The router's uptime wrapped (49.7 days) between the flow's first packet and the export.
  DecoderHarness h;
  V5Header hdr = sample_header();
  hdr.uptime_ms = 1'000;
  hdr.unix_nsecs = 0;
  V5Record r = sample_record();
  r.first = 0xffffffffu - 3'999;  // 4000 ms before the wrap, so 5000 ms before the export
  r.last = 400;                   // after the wrap
  ASSERT_EQ(h.netflow5(testing::netflow5(hdr, {r})), DecodeStatus::kOk);
  const uint64_t export_ms = uint64_t{kUnixSecs} * 1000;
  EXPECT_EQ(field(h, 0, &FlowBlock::start_ms), export_ms - 5'000);
  EXPECT_EQ(field(h, 0, &FlowBlock::end_ms), export_ms - 600);
}

TEST(Netflow5Decoder, ThirtyRecordsIsTheMaximum) {
  DecoderHarness h;
  ASSERT_EQ(h.netflow5(records(sample_header(), 30)), DecodeStatus::kOk);
  EXPECT_EQ(h.size(), 30u);
  EXPECT_EQ(field(h, 29, &FlowBlock::src_port), 29);
}

TEST(Netflow5Decoder, RejectsCountZero) {
  expect_fault(records(sample_header(), 0), DecodeStatus::kBadCount);
}

TEST(Netflow5Decoder, RejectsCountOverThirty) {
  expect_fault(records(sample_header(), 31), DecodeStatus::kBadCount);
  V5Header hdr = sample_header();
  hdr.count = 0xffff;
  expect_fault(records(hdr, 1), DecodeStatus::kBadCount);
}

TEST(Netflow5Decoder, RejectsCountOfMoreRecordsThanTheDatagramHolds) {
  V5Header hdr = sample_header();
  hdr.count = 3;
  expect_fault(records(hdr, 2), DecodeStatus::kTruncated);
  std::vector<uint8_t> d = records(sample_header(), 2);
  d.pop_back();  // the second record is one byte short
  expect_fault(d, DecodeStatus::kTruncated);
}

TEST(Netflow5Decoder, RejectsShortHeader) {
  std::vector<uint8_t> d = records(sample_header(), 1);
  d.resize(23);
  expect_fault(d, DecodeStatus::kTruncated);
  expect_fault({}, DecodeStatus::kTruncated);
  expect_fault({0, 5}, DecodeStatus::kTruncated);
}

TEST(Netflow5Decoder, RejectsOtherVersions) {
  V5Header hdr = sample_header();
  hdr.version = 9;
  expect_fault(records(hdr, 1), DecodeStatus::kBadVersion);
  hdr.version = 0x0500;
  expect_fault(records(hdr, 1), DecodeStatus::kBadVersion);
}

TEST(Netflow5Decoder, BytesAfterTheAnnouncedRecordsAreIgnored) {
  DecoderHarness h;
  std::vector<uint8_t> d = records(sample_header(), 2);
  d.insert(d.end(), 47, 0xee);
  EXPECT_EQ(h.netflow5(d), DecodeStatus::kOk);
  EXPECT_TRUE(h.contract_ok);
  EXPECT_EQ(h.size(), 2u);
}

TEST(Netflow5Decoder, BlockIsRefilledWhenItFillsAcrossDatagrams) {
  DecoderHarness h;
  V5Header hdr = sample_header();
  for (uint32_t i = 0; i < 35; ++i) {  // 1050 records: one full block and 26 in the next
    hdr.sequence = i;
    ASSERT_EQ(h.netflow5(records(hdr, 30)), DecodeStatus::kOk);
  }
  EXPECT_EQ(h.size(), 1050u);
  EXPECT_EQ(h.counters.records, 1050u);
  EXPECT_EQ(h.counters.block_unavailable, 0u);
  EXPECT_EQ(&h.block(0), &h.block(1023));
  EXPECT_NE(&h.block(1023), &h.block(1024));
  EXPECT_EQ(h.block(0).size, FlowBlock::kCapacity);
  // Record 1024 is record 4 of datagram 34 (1024 = 34 * 30 + 4).
  EXPECT_EQ(field(h, 1024, &FlowBlock::sequence), 34u);
  EXPECT_EQ(field(h, 1024, &FlowBlock::src_port), 4);
  EXPECT_EQ(field(h, 1049, &FlowBlock::src_port), 29);
}

TEST(Netflow5Decoder, RecordsWithoutAFreeBlockAreCounted) {
  DecoderHarness h({}, /*max_blocks=*/1);
  V5Header hdr = sample_header();
  for (int i = 0; i < 35; ++i) ASSERT_EQ(h.netflow5(records(hdr, 30)), DecodeStatus::kOk);
  EXPECT_TRUE(h.contract_ok);
  EXPECT_EQ(h.size(), 1024u);
  EXPECT_EQ(h.counters.records, 1024u);
  EXPECT_EQ(h.counters.block_unavailable, 1050u - 1024u);
  EXPECT_EQ(h.counters.total_errors(), 0u);  // not a decode fault

  DecoderHarness none({}, /*max_blocks=*/0);
  EXPECT_EQ(none.netflow5(records(hdr, 5)), DecodeStatus::kOk);
  EXPECT_EQ(none.counters.block_unavailable, 5u);
  EXPECT_EQ(none.counters.records, 0u);
}

}  // namespace
}  // namespace flowgate
