// Columnar decoding of fixed-layout data templates (template_decoder.cpp decode_columnar): row
// reservation across block refills, dropped records when no block is free, IPv4+IPv6 fields of
// one side, masks, padding, odd field offsets, and a differential check against the
// record-by-record interpreter over random templates.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "decode/flow_block.hpp"
#include "decode/flow_output.hpp"
#include "decode/template_decoder.hpp"
#include "tests/support/byte_writer.hpp"
#include "tests/support/collecting_output.hpp"
#include "tests/support/decoder_harness.hpp"
#include "tests/support/flow_wire.hpp"

namespace flowgate {
namespace {

using decode::CompiledTemplate;
using decode::DecodeCounters;
using decode::DecodeStatus;
using decode::Direction;
using decode::ExporterState;
using decode::FlowBlock;
using decode::FlowOutput;
using decode::FlowType;
using decode::IpAddress;
using decode::RawField;
using decode::SetContext;
using testing::ByteWriter;
using testing::CollectingOutput;
using testing::DecoderHarness;
using testing::field;
using testing::FlowDatagram;
using testing::ipv4;

using testing::v9::kExportMs;
using testing::v9::kSourceId;
using testing::v9::kUnixSecs;
using testing::v9::kUptime;

FlowDatagram v9() { return testing::v9::datagram(); }

IpAddress ipv6(std::initializer_list<uint8_t> prefix) {
  uint8_t b[16] = {};
  size_t i = 0;
  for (uint8_t v : prefix) b[i++] = v;
  return IpAddress::from_v6_bytes(b);
}

// A template small enough that many records fit a set: source address and
// source port.
FlowDatagram small_set(uint16_t first_port, uint32_t records) {
  ByteWriter w;
  for (uint32_t i = 0; i < records; ++i) {
    w.ipv4(10, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i));
    w.u16(static_cast<uint16_t>(first_port + i));
  }
  FlowDatagram d = v9();
  d.template_set(300, {{8, 4}, {7, 2}});
  d.data_set(300, w);
  return d;
}

TEST(FlowOutput, NextRowsReservesWhatFitsAndRefillsWhenFull) {
  CollectingOutput out;
  uint32_t first = 99;
  EXPECT_EQ(out.output().next_rows(1000, first), 1000u);
  EXPECT_EQ(first, 0u);
  EXPECT_EQ(out.output().next_rows(100, first), 24u);  // the block fills
  EXPECT_EQ(first, 1000u);
  const FlowBlock* full = out.output().block();
  EXPECT_EQ(out.output().next_rows(100, first), 100u);  // a fresh block
  EXPECT_EQ(first, 0u);
  EXPECT_NE(out.output().block(), full);
  EXPECT_EQ(out.size(), 1124u);
  EXPECT_EQ(out.output().next_row(),
            100u);  // next_row() continues after the reserved rows
}

TEST(FlowOutput, NextRowsIsZeroWithoutABlock) {
  CollectingOutput out(/*max_blocks=*/0);
  uint32_t first = 0;
  EXPECT_EQ(out.output().next_rows(5, first), 0u);
  FlowOutput none(nullptr, nullptr, nullptr);
  EXPECT_EQ(none.next_rows(5, first), 0u);
}

// The decoder fetches the rows the next datagram will take (prefetch_rows_for_write): runs of
// rows one after another must name every line of every column from the first run's second
// line on exactly once, and nothing outside the rows' columns or past the block.
TEST(FlowBlockLines, RunsOfRowsNameEachLineOfTheirColumnsOnce) {
  auto block = std::make_unique<FlowBlock>();
  const auto base = reinterpret_cast<uintptr_t>(block.get());
  std::vector<uint32_t> times(sizeof(FlowBlock) / 64 + 1, 0);
  // Runs of 14 rows from row 3 (as IPv6 datagrams of 14 records would take them) to past the
  // block's end, which is left out.
  const uint32_t from = 3;
  for (uint32_t first = from; first < FlowBlock::kCapacity + 40; first += 14) {
    decode::for_each_line_in_rows(*block, first, 14, [&](uintptr_t line) {
      ASSERT_EQ(line % 64, 0u);
      ASSERT_GE(line, base);
      ASSERT_LT(line, base + sizeof(FlowBlock));
      ++times[(line - base) / 64];
    });
  }
  size_t named = 0;
  for (const decode::FlowColumn& c : decode::kFlowColumns) {
    const uintptr_t begin = base + c.offset + uintptr_t{from} * c.size;
    const uintptr_t end = base + c.offset + uintptr_t{FlowBlock::kCapacity} * c.size;
    for (uintptr_t line = (begin + 63) & ~uintptr_t{63}; line < end; line += 64) {
      EXPECT_EQ(times[(line - base) / 64], 1u) << "column at " << c.offset << ", line at "
                                                << line - base;
      ++named;
    }
  }
  size_t total = 0;
  for (uint32_t t : times) total += t;
  EXPECT_EQ(total, named) << "a line outside the rows' columns was named";
  // Every column's lines from row 3 on: 160 bytes a row.
  EXPECT_GT(named, size_t{FlowBlock::kCapacity - from} * 160 / 64 - decode::kFlowColumns.size());
}

// The decoder leaves out the lines of the columns a block knows to be zero: a mask without a
// column names none of its lines, and the others' as before.
TEST(FlowBlockLines, ColumnsLeftOutOfTheMaskAreNotNamed) {
  auto block = std::make_unique<FlowBlock>();
  const auto base = reinterpret_cast<uintptr_t>(block.get());
  const uintptr_t macs = base + offsetof(FlowBlock, src_mac);
  size_t all = 0, masked = 0;
  decode::for_each_line_in_rows(*block, 64, 64, [&](uintptr_t) { ++all; });
  decode::for_each_line_in_rows(
      *block, 64, 64,
      [&](uintptr_t line) {
        EXPECT_FALSE(line >= macs && line < macs + sizeof(block->src_mac));
        ++masked;
      },
      ~decode::column_bit(offsetof(FlowBlock, src_mac)));
  EXPECT_EQ(all - masked, 64u * 8 / 64);  // the 8 lines of 64 MACs
}

// One block, reused as a worker reuses its pool's blocks: every full block is checked (its
// known-zero columns are zero) and cleared by the refill, then filled again.
class OneBlock {
 public:
  OneBlock() : block_(std::make_unique<FlowBlock>()), out_(block_.get(), &refill, this) {
    meta_.exporter = ipv4(192, 0, 2, 1);
    meta_.exporter_port = 4444;
  }
  DecodeStatus netflow9(const std::vector<uint8_t>& d) {
    return decode::decode_netflow9(std::as_bytes(std::span(d)), meta_, templates_, out_,
                                   counters_);
  }
  FlowBlock& block() { return *block_; }
  uint32_t full_blocks = 0;

 private:
  static FlowBlock* refill(void* ctx, FlowBlock* full) noexcept {
    auto* self = static_cast<OneBlock*>(ctx);
    EXPECT_TRUE(decode::zero_columns_hold(*full));
    ++self->full_blocks;
    full->clear();
    return full;
  }
  std::unique_ptr<FlowBlock> block_;
  FlowOutput out_;
  decode::TemplateCache templates_;
  decode::DatagramMeta meta_;
  DecodeCounters counters_;
};

// Source address and port, and with `mac_and_as` the source MAC and AS too (nonzero).
FlowDatagram mac_set(uint16_t template_id, bool mac_and_as, uint32_t records) {
  ByteWriter w;
  for (uint32_t i = 0; i < records; ++i) {
    w.ipv4(10, 1, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)).u16(1000);
    if (mac_and_as) w.bytes({0x02, 0, 0, 0, 0, 0x01}).u32(64500);
  }
  FlowDatagram d = v9();
  if (mac_and_as) {
    d.template_set(template_id, {{8, 4}, {7, 2}, {56, 6}, {16, 4}});
  } else {
    d.template_set(template_id, {{8, 4}, {7, 2}});
  }
  d.data_set(template_id, w);
  return d;
}

bool known_zero(const FlowBlock& b, size_t column) {
  return (b.zero_columns & decode::column_bit(column)) != 0;
}
constexpr size_t kSrcMacColumn = offsetof(FlowBlock, src_mac);
constexpr size_t kSrcAsColumn = offsetof(FlowBlock, src_as);
constexpr size_t kDstMacColumn = offsetof(FlowBlock, dst_mac);

// A block that one template filled knows the columns that template lacks to be zero, and the
// decoder neither zeroes nor fetches them again; a template that has them writes them and
// makes them unknown again, and its values never show through in a later row of a template
// that lacks them.
TEST(ColumnarDecode, ColumnsABlockKnowsToBeZeroStayZeroAcrossTemplates) {
  OneBlock one;
  FlowBlock& b = one.block();
  // A fill of the lean template (1024 records: the block is full), then the next datagram
  // takes the block again, cleared: it now knows the MAC and AS columns to be zero.
  ASSERT_EQ(one.netflow9(mac_set(300, false, 1024).build()), DecodeStatus::kOk);
  EXPECT_EQ(b.zero_columns, 0u) << "nothing is known before a fill ends";
  ASSERT_EQ(one.netflow9(mac_set(301, true, 10).build()), DecodeStatus::kOk);
  ASSERT_EQ(one.full_blocks, 1u);
  EXPECT_FALSE(known_zero(b, kSrcMacColumn)) << "the second template writes the MACs";
  EXPECT_FALSE(known_zero(b, kSrcAsColumn));
  EXPECT_TRUE(known_zero(b, kDstMacColumn)) << "neither template has destination MACs";
  EXPECT_TRUE(decode::zero_columns_hold(b));
  for (uint32_t r = 0; r < 10; ++r) {
    EXPECT_EQ(b.src_mac[r], 0x020000000001u);
    EXPECT_EQ(b.src_as[r], 64500u);
  }
  // The lean template's rows after them are zeroed again (the block no longer knows).
  ASSERT_EQ(one.netflow9(mac_set(300, false, 1014).build()), DecodeStatus::kOk);
  for (uint32_t r = 10; r < FlowBlock::kCapacity; ++r) {
    ASSERT_EQ(b.src_mac[r], 0u) << r;
    ASSERT_EQ(b.src_as[r], 0u) << r;
  }
  // A fill that held MACs somewhere leaves the columns unknown: the next one zeroes every row,
  // the ten the rich template wrote too.
  ASSERT_EQ(one.netflow9(mac_set(300, false, 1024).build()), DecodeStatus::kOk);
  ASSERT_EQ(one.full_blocks, 2u);
  for (uint32_t r = 0; r < 10; ++r) {
    EXPECT_EQ(b.src_mac[r], 0u) << r;
    EXPECT_EQ(b.src_as[r], 0u) << r;
  }
  EXPECT_FALSE(known_zero(b, kSrcMacColumn));
  // After that fill of the lean template alone, they are known again.
  ASSERT_EQ(one.netflow9(mac_set(300, false, 1).build()), DecodeStatus::kOk);
  ASSERT_EQ(one.full_blocks, 3u);
  EXPECT_TRUE(known_zero(b, kSrcMacColumn));
  EXPECT_TRUE(known_zero(b, kSrcAsColumn));
  EXPECT_TRUE(decode::zero_columns_hold(b));
}

// Rows appended another way (sFlow and NetFlow v5 take rows one at a time and write any
// column) make the block forget what it knew.
TEST(ColumnarDecode, ARowAppendedOtherwiseForgetsTheKnownZeroColumns) {
  OneBlock one;
  FlowBlock& b = one.block();
  ASSERT_EQ(one.netflow9(mac_set(300, false, 1024).build()), DecodeStatus::kOk);
  ASSERT_EQ(one.netflow9(mac_set(300, false, 1).build()), DecodeStatus::kOk);
  ASSERT_TRUE(known_zero(b, kSrcAsColumn));
  const uint32_t r = b.append_row();
  b.src_as[r] = 65001;
  EXPECT_EQ(b.zero_columns, 0u);
  EXPECT_TRUE(decode::zero_columns_hold(b));
  const uint32_t u = b.append_row_uninit();
  b.src_as[u] = 65002;
  EXPECT_EQ(b.zero_columns, 0u);
  // Nor does a fill with such rows teach it anything.
  ASSERT_EQ(one.netflow9(mac_set(300, false, FlowBlock::kCapacity - b.size).build()),
            DecodeStatus::kOk);
  ASSERT_EQ(one.netflow9(mac_set(300, false, 1).build()), DecodeStatus::kOk);
  EXPECT_FALSE(known_zero(b, kSrcAsColumn));
  EXPECT_TRUE(decode::zero_columns_hold(b));
}

TEST(ColumnarDecode, ChunkSpansABlockRefill) {
  DecoderHarness h;
  ASSERT_EQ(h.netflow9(small_set(0, 1020).build()), DecodeStatus::kOk);
  // 4 rows remain in the block: the next set's 10 records are split 4 + 6
  // across a refill.
  ASSERT_EQ(h.netflow9(small_set(5000, 10).build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 1030u);
  EXPECT_EQ(h.counters.records, 1030u);
  EXPECT_EQ(&h.block(1023), &h.block(1020));
  EXPECT_NE(&h.block(1024), &h.block(1023));
  for (uint32_t i = 0; i < 10; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(field(h, 1020 + i, &FlowBlock::src_port), 5000 + i);
    EXPECT_EQ(field(h, 1020 + i, &FlowBlock::src_addr), ipv4(10, 0, 0, static_cast<uint8_t>(i)));
    EXPECT_EQ(field(h, 1020 + i, &FlowBlock::exporter_port), 4444u);
    EXPECT_EQ(field(h, 1020 + i, &FlowBlock::listener), 3u);
    EXPECT_EQ(field(h, 1020 + i, &FlowBlock::observation_domain), kSourceId);
    EXPECT_EQ(field(h, 1020 + i, &FlowBlock::sequence), 9u);
    EXPECT_EQ(field(h, 1020 + i, &FlowBlock::flow_type), FlowType::kNetflow9);
    EXPECT_EQ(field(h, 1020 + i, &FlowBlock::ether_type), 0x0800);
    EXPECT_EQ(field(h, 1020 + i, &FlowBlock::start_ms), kExportMs);
    EXPECT_EQ(field(h, 1020 + i, &FlowBlock::end_ms), kExportMs);
    // Columns the template lacks are zero, as next_row() leaves them.
    EXPECT_EQ(field(h, 1020 + i, &FlowBlock::bytes), 0u);
    EXPECT_TRUE(field(h, 1020 + i, &FlowBlock::dst_addr).is_zero());
    EXPECT_EQ(field(h, 1020 + i, &FlowBlock::port_rollup), 0u);
    EXPECT_EQ(field(h, 1020 + i, &FlowBlock::direction), Direction::kIngress);
  }
}

TEST(ColumnarDecode, RecordsBeyondTheLastBlockAreCountedUnavailable) {
  DecoderHarness h({}, /*max_blocks=*/1);
  ASSERT_EQ(h.netflow9(small_set(0, 1030).build()), DecodeStatus::kOk);
  EXPECT_EQ(h.size(), 1024u);
  EXPECT_EQ(h.counters.records, 1024u);
  EXPECT_EQ(h.counters.block_unavailable, 6u);
  EXPECT_EQ(field(h, 1023, &FlowBlock::src_port), 1023u);
  ASSERT_EQ(h.netflow9(small_set(0, 3).build()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.block_unavailable, 9u);
}

TEST(ColumnarDecode, Ipv4AndIpv6FieldsOfOneSideKeepTheNonZeroValue) {
  // Both families per side, in both orders, with both prefix lengths (RFC 7012:
  // the field of the other family is 0).
  DecoderHarness h;
  ByteWriter w;
  const uint8_t v6a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const uint8_t zero16[16] = {};
  // An IPv4 flow.
  w.ipv4(10, 1, 2, 3).bytes(zero16).bytes(zero16).ipv4(10, 4, 5, 6).u8(24).u8(0).u8(0).u8(16);
  // An IPv6 flow.
  w.ipv4(0, 0, 0, 0).bytes(v6a).bytes(v6a).ipv4(0, 0, 0, 0).u8(0).u8(48).u8(64).u8(0);
  FlowDatagram d = v9();
  d.template_set(256, {{8, 4}, {27, 16}, {28, 16}, {12, 4}, {9, 1}, {29, 1}, {30, 1}, {13, 1}});
  d.data_set(256, w);
  ASSERT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 2u);

  EXPECT_EQ(field(h, 0, &FlowBlock::src_addr), ipv4(10, 1, 2, 3));
  EXPECT_EQ(field(h, 0, &FlowBlock::dst_addr), ipv4(10, 4, 5, 6));
  EXPECT_EQ(field(h, 0, &FlowBlock::src_mask), 24u);
  EXPECT_EQ(field(h, 0, &FlowBlock::dst_mask), 16u);
  EXPECT_EQ(field(h, 0, &FlowBlock::ether_type), 0x0800);

  const IpAddress want6 = IpAddress::from_v6_bytes(v6a);
  EXPECT_EQ(field(h, 1, &FlowBlock::src_addr), want6);
  EXPECT_EQ(field(h, 1, &FlowBlock::dst_addr), want6);
  EXPECT_EQ(field(h, 1, &FlowBlock::src_mask), 48u);
  EXPECT_EQ(field(h, 1, &FlowBlock::dst_mask), 64u);
  EXPECT_EQ(field(h, 1, &FlowBlock::ether_type), 0x86dd);
}

TEST(ColumnarDecode, Ipv6OnlyRecordsTakeTheEtherTypeFromEachRecord) {
  DecoderHarness h;
  ByteWriter w;
  const uint8_t zero16[16] = {};
  w.bytes(zero16).bytes(zero16).u16(1);  // no address: ether type unknown
  const IpAddress v6 = ipv6({0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9});
  w.bytes(zero16).bytes(std::span<const uint8_t>(v6.bytes.data(), 16)).u16(2);  // dst only
  FlowDatagram d = v9();
  d.template_set(256, {{27, 16}, {28, 16}, {7, 2}});
  d.data_set(256, w);
  ASSERT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(field(h, 0, &FlowBlock::ether_type), 0u);
  EXPECT_EQ(field(h, 1, &FlowBlock::dst_addr), v6);
  EXPECT_EQ(field(h, 1, &FlowBlock::ether_type), 0x86dd);
}

TEST(ColumnarDecode, SetLengthNotAMultipleOfTheRecordIsPadding) {
  DecoderHarness h;
  ByteWriter w;
  w.ipv4(10, 0, 0, 1).u16(80).ipv4(10, 0, 0, 2).u16(443).zeros(5);  // 2 records
                                                                    // of 6 + 5
  FlowDatagram d = v9();
  d.template_set(300, {{8, 4}, {7, 2}});
  d.data_set(300, w);
  ASSERT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h.counters.padding_bytes, 5u);
  EXPECT_EQ(field(h, 1, &FlowBlock::src_port), 443u);
  EXPECT_EQ(field(h, 1, &FlowBlock::src_addr), ipv4(10, 0, 0, 2));
}

TEST(ColumnarDecode, SetShorterThanOneRecordIsAllPadding) {
  DecoderHarness h;
  ByteWriter w;
  w.zeros(5);
  FlowDatagram d = v9();
  d.template_set(300, {{8, 4}, {7, 2}});
  d.data_set(300, w);
  ASSERT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  EXPECT_EQ(h.size(), 0u);
  EXPECT_EQ(h.counters.padding_bytes, 5u);
}

TEST(ColumnarDecode, FieldsAtOddOffsetsAndReducedSizes) {
  // protocol (1) puts every later field at an odd offset; bytes in 3 octets and
  // packets in 5 (RFC 7011 §6.2 reduced-size encoding); a 3-byte unknown field
  // is skipped.
  DecoderHarness h;
  ByteWriter w;
  for (uint8_t i = 0; i < 3; ++i) {
    w.u8(17).ipv4(192, 0, 2, i).u16(static_cast<uint16_t>(53 + i)).bytes({0x01, 0x02, 0x03});
    w.bytes({0x00, 0x00, 0x01, 0x00, static_cast<uint8_t>(i)}).bytes({0xaa, 0xbb, 0xcc});
    w.u8(0x1b).bytes({0x00, 0x11, 0x22, 0x33, 0x44, static_cast<uint8_t>(0x55 + i)});
    w.u16(static_cast<uint16_t>(0x1000 | (100 + i))).u8(1).u16(7);
  }
  auto d = FlowDatagram::ipfix(kUnixSecs, kSourceId);
  d.template_set(400, {{4, 1},
                       {8, 4},
                       {11, 2},
                       {1, 3},
                       {2, 5},
                       {200, 3},
                       {6, 1},
                       {56, 6},
                       {58, 2},
                       {61, 1},
                       {10, 2}});
  d.data_set(400, w);
  ASSERT_EQ(h.ipfix(d.build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 3u);
  for (uint32_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(field(h, i, &FlowBlock::protocol), 17u);
    EXPECT_EQ(field(h, i, &FlowBlock::src_addr), ipv4(192, 0, 2, static_cast<uint8_t>(i)));
    EXPECT_EQ(field(h, i, &FlowBlock::dst_port), 53u + i);
    EXPECT_EQ(field(h, i, &FlowBlock::bytes), 0x010203u);
    EXPECT_EQ(field(h, i, &FlowBlock::packets), 0x1'0000u + i);
    EXPECT_EQ(field(h, i, &FlowBlock::tcp_flags), 0x1bu);
    EXPECT_EQ(field(h, i, &FlowBlock::src_mac), 0x0011'2233'4455ull + i);
    EXPECT_EQ(field(h, i, &FlowBlock::vlan),
              100u + i);  // the PCP/DEI bits are masked off
    EXPECT_EQ(field(h, i, &FlowBlock::direction), Direction::kEgress);
    EXPECT_EQ(field(h, i, &FlowBlock::in_if), 7u);
    EXPECT_EQ(field(h, i, &FlowBlock::flow_type), FlowType::kIpfix);
  }
}

TEST(ColumnarDecode, TimesFromUptimeAndSamplerRates) {
  DecoderHarness h;
  // Options data: sampler 5 samples 1 in 100; the domain's latest rate (1 in
  // 100) serves records that name an unknown sampler.
  FlowDatagram o = v9();
  o.options_template_set(260, {{1, 4}}, {{48, 1}, {34, 4}});
  ByteWriter od;
  od.u32(0).u8(5).u32(100).zeros(3);
  o.data_set(260, od);
  ASSERT_EQ(h.netflow9(o.build()), DecodeStatus::kOk);

  ByteWriter w;
  w.u32(kUptime - 3'000).u32(kUptime - 1'000).u8(5).u8(4);
  w.u32(kUptime - 2'000).u32(kUptime + 500).u8(9).u8(6);  // last after the header's uptime
  FlowDatagram d = v9();
  d.template_set(256, {{22, 4}, {21, 4}, {48, 1}, {60, 1}});
  d.data_set(256, w);
  ASSERT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(field(h, 0, &FlowBlock::start_ms), kExportMs - 3'000);
  EXPECT_EQ(field(h, 0, &FlowBlock::end_ms), kExportMs - 1'000);
  EXPECT_EQ(field(h, 0, &FlowBlock::sampling_rate), 100u);
  EXPECT_EQ(field(h, 0, &FlowBlock::ether_type), 0x0800);
  EXPECT_EQ(field(h, 1, &FlowBlock::start_ms), kExportMs - 2'000);
  EXPECT_EQ(field(h, 1, &FlowBlock::end_ms), kExportMs + 500);
  EXPECT_EQ(field(h, 1, &FlowBlock::sampling_rate), 100u);
  EXPECT_EQ(field(h, 1, &FlowBlock::ether_type), 0x86dd);
}

// The differential check: for random fixed-layout templates, the columnar path
// and the record-by-record interpreter (the same template with `columnar`
// cleared) must write the same bytes into every column of every row, across
// block refills.

struct FieldChoice {
  uint16_t id;
  std::vector<uint16_t> widths;
};

const std::vector<FieldChoice>& field_choices() {
  static const std::vector<FieldChoice> kChoices = {
      {8, {4, 4, 4, 5}}, {12, {4}},    {15, {4}},         {18, {4}},       {27, {16, 16, 3}},
      {28, {16}},        {62, {16}},   {63, {16}},        {7, {2, 1}},     {11, {2}},
      {4, {1, 2}},       {5, {1}},     {6, {1, 2}},       {10, {2, 4, 3}}, {14, {4}},
      {252, {4}},        {253, {2}},   {1, {4, 8, 3, 5}}, {2, {4, 8, 6}},  {85, {8}},
      {86, {8}},         {23, {8, 4}}, {24, {4}},         {9, {1}},        {13, {1}},
      {29, {1}},         {30, {1}},    {56, {6}},         {80, {6}},       {81, {6}},
      {57, {6}},         {61, {1}},    {58, {2}},         {243, {2}},      {60, {1}},
      {16, {2, 4}},      {17, {4}},    {21, {4}},         {22, {4}},       {150, {4}},
      {151, {4}},        {152, {8}},   {153, {8}},        {154, {8}},      {155, {8}},
      {156, {8}},        {157, {8}},   {158, {4}},        {159, {4}},      {160, {8}},
      {34, {4, 2}},      {50, {4}},    {48, {1, 2}},      {302, {4}},      {305, {4}},
      {306, {4}},        {309, {4}},   {310, {4}},        {200, {3}},      {40000, {5}},
      {7, {0}},
  };
  return kChoices;
}

// Fills a field's bytes; often zero so that the keep-non-zero rules are
// exercised.
void random_value(std::mt19937& rng, uint16_t id, uint16_t width, ByteWriter& w) {
  std::uniform_int_distribution<int> byte(0, 255);
  const int pick = std::uniform_int_distribution<int>(0, 9)(rng);
  if (pick < 3) {
    w.zeros(width);
    return;
  }
  if (id == 60 && width == 1) {
    static constexpr uint8_t kVersions[] = {4, 6, 0, 5};
    w.u8(kVersions[pick % 4]);
    return;
  }
  if ((id == 48 || id == 302) && pick < 8) {  // mostly samplers the exporter knows
    w.zeros(width - 1u).u8(static_cast<uint8_t>(1 + pick % 3));
    return;
  }
  for (uint16_t i = 0; i < width; ++i) w.u8(static_cast<uint8_t>(byte(rng)));
}

std::string row_mismatch(const FlowBlock& a, uint32_t ra, const FlowBlock& b, uint32_t rb) {
  for (size_t c = 0; c < decode::kFlowColumns.size(); ++c) {
    const decode::FlowColumn& col = decode::kFlowColumns[c];
    const auto* pa = reinterpret_cast<const uint8_t*>(&a) + col.offset + size_t{ra} * col.size;
    const auto* pb = reinterpret_cast<const uint8_t*>(&b) + col.offset + size_t{rb} * col.size;
    if (std::memcmp(pa, pb, col.size) != 0) return "column " + std::to_string(c);
  }
  return {};
}

TEST(ColumnarDecode, MatchesTheRecordInterpreterOnRandomTemplates) {
  std::mt19937 rng(20240611);
  const auto& choices = field_choices();
  size_t columnar_templates = 0;
  for (int round = 0; round < 400; ++round) {
    SCOPED_TRACE(round);
    std::vector<RawField> fields;
    const int count = std::uniform_int_distribution<int>(1, 30)(rng);
    for (int i = 0; i < count; ++i) {
      const FieldChoice& f =
          choices[std::uniform_int_distribution<size_t>(0, choices.size() - 1)(rng)];
      const uint16_t w =
          f.widths[std::uniform_int_distribution<size_t>(0, f.widths.size() - 1)(rng)];
      fields.push_back(RawField{f.id, w, f.id >= 32768, false});
    }
    DecodeCounters counters;
    CompiledTemplate columnar;
    if (decode::compile_template(256, fields, false, false, columnar, counters) !=
        DecodeStatus::kOk) {
      continue;
    }
    ASSERT_TRUE(columnar.columnar);
    ++columnar_templates;
    auto interpreted = std::make_unique<CompiledTemplate>(columnar);
    interpreted->columnar = false;

    SetContext ctx;
    ctx.meta.exporter = ipv4(192, 0, 2, 1);
    ctx.meta.exporter_port = 2055;
    ctx.meta.listener = 2;
    ctx.type = round % 2 == 0 ? FlowType::kNetflow9 : FlowType::kIpfix;
    ctx.export_secs = kUnixSecs;
    ctx.uptime_ms = kUptime;
    ctx.sequence = static_cast<uint32_t>(round);
    ctx.domain = 7;
    ExporterState exp;
    if (round % 3 != 0) {
      exp.domain(7)->sampling_rate = round % 3 == 1 ? 0 : 64;
      exp.domain(7)->system_init_ms = round % 4 < 2 ? 0 : kExportMs - 86'400'000;
      exp.set_sampler(7, 1, 10);
      exp.set_sampler(7, 2, 1000);
    }

    CollectingOutput out_columnar;
    CollectingOutput out_interpreted;
    DecodeCounters c_columnar;
    DecodeCounters c_interpreted;
    const int sets = std::uniform_int_distribution<int>(1, 40)(rng);
    for (int s = 0; s < sets; ++s) {
      ByteWriter w;
      const uint32_t records = std::uniform_int_distribution<uint32_t>(0, 60)(rng);
      for (uint32_t r = 0; r < records; ++r) {
        for (const RawField& f : fields) random_value(rng, f.id, f.length, w);
      }
      w.zeros(std::uniform_int_distribution<uint32_t>(0, columnar.min_record_length - 1)(rng));
      if (w.size() > 65'531) break;
      const auto* data = w.data().data();
      const auto length = static_cast<uint32_t>(w.size());
      ASSERT_EQ(decode::decode_data_set(data, length, columnar, ctx, exp, out_columnar.output(),
                                        c_columnar),
                DecodeStatus::kOk);
      ASSERT_EQ(decode::decode_data_set(data, length, *interpreted, ctx, exp,
                                        out_interpreted.output(), c_interpreted),
                DecodeStatus::kOk);
    }
    EXPECT_EQ(c_columnar.records, c_interpreted.records);
    EXPECT_EQ(c_columnar.padding_bytes, c_interpreted.padding_bytes);
    ASSERT_EQ(out_columnar.size(), out_interpreted.size());
    for (size_t i = 0; i < out_columnar.size(); ++i) {
      const auto [ba, ra] = out_columnar.at(i);
      const auto [bb, rb] = out_interpreted.at(i);
      const std::string diff = row_mismatch(*ba, ra, *bb, rb);
      ASSERT_TRUE(diff.empty()) << "row " << i << ": " << diff;
    }
  }
  EXPECT_GT(columnar_templates, 300u);
}

TEST(ColumnarDecode, VariableLengthAndOptionsTemplatesStayInterpreted) {
  DecodeCounters counters;
  CompiledTemplate t;
  const RawField variable[] = {{8, 4, false, false}, {82, 0xffff, false, false}};
  ASSERT_EQ(decode::compile_template(256, variable, false, false, t, counters), DecodeStatus::kOk);
  EXPECT_FALSE(t.columnar);
  const RawField options[] = {{48, 1, false, false}, {34, 4, false, false}};
  ASSERT_EQ(decode::compile_template(257, options, true, false, t, counters), DecodeStatus::kOk);
  EXPECT_FALSE(t.columnar);
  const RawField fixed[] = {{8, 4, false, false}, {7, 2, false, false}};
  ASSERT_EQ(decode::compile_template(258, fixed, false, false, t, counters), DecodeStatus::kOk);
  EXPECT_TRUE(t.columnar);
}

}  // namespace
}  // namespace flowgate
