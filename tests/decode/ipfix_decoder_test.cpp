// IPFIX decoder (RFC 7011): template, options template and data sets; variable-length and
// enterprise fields; message length; withdrawals; sampling options (RFC 5477); every time
// encoding; the IPv6, MAC, direction, VLAN, counter and interface fields and their fallbacks;
// malformed sets and templates.

#include "decode/ipfix_decoder.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "tests/support/byte_writer.hpp"
#include "tests/support/decoder_expect.hpp"
#include "tests/support/decoder_harness.hpp"
#include "tests/support/flow_wire.hpp"

namespace flowgate {
namespace {

using decode::DecodeStatus;
using decode::Direction;
using decode::FlowBlock;
using decode::FlowType;
using decode::IpAddress;
using decode::TemplateCacheLimits;
using testing::ByteWriter;
using testing::DecoderHarness;
using testing::field;
using testing::FlowDatagram;
using testing::ipv4;
using testing::kVariableLength;

constexpr uint32_t kExportSecs = 1'700'000'000;
constexpr uint64_t kExportMs = uint64_t{kExportSecs} * 1000;
constexpr uint32_t kDomain = 7;
constexpr uint64_t kNtpUnixOffset = 2'208'988'800;

FlowDatagram ipfix(uint32_t domain = kDomain, uint32_t sequence = 3) {
  return FlowDatagram::ipfix(kExportSecs, domain, sequence);
}

void expect_fault(DecoderHarness& h, const std::vector<uint8_t>& d, DecodeStatus want) {
  testing::expect_fault(h, &DecoderHarness::ipfix, d, want);
}
void expect_fault(const std::vector<uint8_t>& d, DecodeStatus want) {
  testing::expect_fault(&DecoderHarness::ipfix, d, want);
}

// Decodes one template and one data set in a fresh harness; returns it for inspection.
std::unique_ptr<DecoderHarness> decode_one(std::initializer_list<testing::WireField> fields,
                                           const ByteWriter& records) {
  auto h = std::make_unique<DecoderHarness>();
  FlowDatagram d = ipfix();
  d.template_set(256, fields).data_set(256, records);
  EXPECT_EQ(h->ipfix(d.build()), DecodeStatus::kOk);
  EXPECT_TRUE(h->contract_ok);
  return h;
}

IpAddress v6(uint8_t last) {
  std::array<uint8_t, 16> b = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last};
  return IpAddress::from_v6_bytes(b.data());
}

void put_v6(ByteWriter& w, uint8_t last) {
  w.bytes({0x20, 0x01, 0x0d, 0xb8}).zeros(11).u8(last);
}

TEST(IpfixDecoder, TemplateSetAndDataSet) {
  ByteWriter r;
  r.ipv4(198, 51, 100, 1).ipv4(203, 0, 113, 9).u16(40000).u16(53).u8(17).u16(0x0112).u8(0x10);
  r.u64(0x1'0000'0000ull).u64(12).u32(100'000).u32(200'000);
  r.u64(kExportMs - 2'500).u64(kExportMs - 10);
  r.ipv4(198, 51, 100, 254).u8(24).u8(32).u32(4'200'000'000u).u32(13335);
  auto h = decode_one({{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {6, 2}, {5, 1}, {1, 8}, {2, 8},
                       {10, 4}, {14, 4}, {152, 8}, {153, 8}, {15, 4}, {9, 1}, {13, 1}, {16, 4},
                       {17, 4}},
                      r);
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::src_addr), ipv4(198, 51, 100, 1));
  EXPECT_EQ(field(*h, 0, &FlowBlock::dst_addr), ipv4(203, 0, 113, 9));
  EXPECT_EQ(field(*h, 0, &FlowBlock::src_port), 40000);
  EXPECT_EQ(field(*h, 0, &FlowBlock::dst_port), 53);
  EXPECT_EQ(field(*h, 0, &FlowBlock::protocol), 17);
  EXPECT_EQ(field(*h, 0, &FlowBlock::tcp_flags), 0x12);  // the low byte of tcpControlBits
  EXPECT_EQ(field(*h, 0, &FlowBlock::tos), 0x10);
  EXPECT_EQ(field(*h, 0, &FlowBlock::bytes), 0x1'0000'0000ull);
  EXPECT_EQ(field(*h, 0, &FlowBlock::packets), 12u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::in_if), 100'000u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::out_if), 200'000u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::start_ms), kExportMs - 2'500);
  EXPECT_EQ(field(*h, 0, &FlowBlock::end_ms), kExportMs - 10);
  EXPECT_EQ(field(*h, 0, &FlowBlock::next_hop), ipv4(198, 51, 100, 254));
  EXPECT_EQ(field(*h, 0, &FlowBlock::src_mask), 24);
  EXPECT_EQ(field(*h, 0, &FlowBlock::dst_mask), 32);
  EXPECT_EQ(field(*h, 0, &FlowBlock::src_as), 4'200'000'000u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::dst_as), 13335u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::ether_type), 0x0800);
  EXPECT_EQ(field(*h, 0, &FlowBlock::direction), Direction::kIngress);
  EXPECT_EQ(field(*h, 0, &FlowBlock::flow_type), FlowType::kIpfix);
  EXPECT_EQ(field(*h, 0, &FlowBlock::observation_domain), kDomain);
  EXPECT_EQ(field(*h, 0, &FlowBlock::sequence), 3u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::exporter_addr), ipv4(192, 0, 2, 1));
  EXPECT_EQ(field(*h, 0, &FlowBlock::exporter_port), 4444);
  EXPECT_EQ(field(*h, 0, &FlowBlock::listener), 3);
  EXPECT_EQ(field(*h, 0, &FlowBlock::sampling_rate), 0u);
  EXPECT_EQ(h->counters.templates_added, 1u);
  EXPECT_EQ(h->counters.records, 1u);
}

TEST(IpfixDecoder, VariableLengthFieldsWithOneAndThreeByteLengths) {
  ByteWriter r;
  // Record 1: a 3-byte name (1-byte length) and an empty one.
  r.ipv4(10, 0, 0, 1).u8(3).bytes({'e', 't', '0'}).u16(1111).u8(0).u16(2222);
  // Record 2: 300 bytes behind the 3-byte form (255, then a 16-bit length), and a short value
  // in the 3-byte form too (RFC 7011 §7 allows it).
  r.ipv4(10, 0, 0, 2).u8(255).u16(300).zeros(300).u16(3333).u8(255).u16(2).bytes({1, 2});
  r.u16(4444);
  auto h = decode_one({{8, 4}, {82, kVariableLength}, {7, 2}, {96, kVariableLength}, {11, 2}}, r);
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::src_addr), ipv4(10, 0, 0, 1));
  EXPECT_EQ(field(*h, 0, &FlowBlock::src_port), 1111);
  EXPECT_EQ(field(*h, 0, &FlowBlock::dst_port), 2222);
  EXPECT_EQ(field(*h, 1, &FlowBlock::src_addr), ipv4(10, 0, 0, 2));
  EXPECT_EQ(field(*h, 1, &FlowBlock::src_port), 3333);
  EXPECT_EQ(field(*h, 1, &FlowBlock::dst_port), 4444);
  EXPECT_EQ(h->counters.padding_bytes, 0u);
}

TEST(IpfixDecoder, RejectsVariableLengthFieldPastTheEndOfItsSet) {
  const std::initializer_list<testing::WireField> kFields = {{7, 2}, {82, kVariableLength}};
  {
    SCOPED_TRACE("1-byte length past the set");
    DecoderHarness h;
    ByteWriter r;
    r.u16(1).u8(2).bytes({'a', 'b'}).u16(2).u8(50).zeros(10);
    expect_fault(h, ipfix().template_set(256, kFields).data_set(256, r).build(),
                 DecodeStatus::kBadRecord);
    EXPECT_EQ(h.size(), 1u);  // the first record stays, the half-read one does not
    EXPECT_EQ(h.counters.records, 1u);
    EXPECT_EQ(field(h, 0, &FlowBlock::src_port), 1);
  }
  {
    SCOPED_TRACE("3-byte length cut short");
    DecoderHarness h;
    ByteWriter r;
    r.u16(1).u8(255).u8(0);
    expect_fault(h, ipfix().template_set(256, kFields).data_set(256, r).build(),
                 DecodeStatus::kBadRecord);
    EXPECT_EQ(h.size(), 0u);
  }
  {
    SCOPED_TRACE("3-byte length past the set");
    DecoderHarness h;
    ByteWriter r;
    r.u16(1).u8(255).u16(1000).zeros(20);
    expect_fault(h, ipfix().template_set(256, kFields).data_set(256, r).build(),
                 DecodeStatus::kBadRecord);
  }
  {
    SCOPED_TRACE("fixed field after a variable one cut short");
    DecoderHarness h;
    ByteWriter r;
    r.u8(4).zeros(4).u8(0x12);
    FlowDatagram d = ipfix();
    d.template_set(256, {{82, kVariableLength}, {7, 2}}).data_set(256, r);
    expect_fault(h, d.build(), DecodeStatus::kBadRecord);
    EXPECT_EQ(h.size(), 0u);
  }
}

TEST(IpfixDecoder, EnterpriseFieldsAreSkippedByLengthAndCounted) {
  ByteWriter r;
  r.ipv4(10, 0, 0, 1).u32(0xdeadbeef).u16(80).u8(3).bytes({1, 2, 3}).u32(77);
  // Enterprise field 1 (PEN 9) is not octetDeltaCount; a variable-length one (PEN 29305).
  auto h = decode_one({{8, 4}, {1, 4, 9}, {7, 2}, {100, kVariableLength, 29305}, {2, 4}}, r);
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ(h->counters.enterprise_fields, 2u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::bytes), 0u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::src_port), 80);
  EXPECT_EQ(field(*h, 0, &FlowBlock::packets), 77u);
}

TEST(IpfixDecoder, RejectsMessageLongerThanDatagram) {
  FlowDatagram d = ipfix();
  d.template_set(256, {{7, 2}});
  std::vector<uint8_t> b = d.build();
  expect_fault(FlowDatagram(d).length(static_cast<uint16_t>(b.size() + 1)).build(),
               DecodeStatus::kBadLength);
  expect_fault(FlowDatagram(d).length(15).build(), DecodeStatus::kBadLength);
  expect_fault(FlowDatagram(d).length(0).build(), DecodeStatus::kBadLength);
}

TEST(IpfixDecoder, BytesAfterTheMessageLengthAreIgnored) {
  DecoderHarness h;
  FlowDatagram d = ipfix();
  d.template_set(256, {{7, 2}});
  ByteWriter r;
  r.u16(8);
  d.data_set(256, r);
  const uint16_t length = static_cast<uint16_t>(d.build().size());
  d.raw({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}).length(length);
  EXPECT_EQ(h.ipfix(d.build()), DecodeStatus::kOk);
  EXPECT_EQ(h.size(), 1u);
}

TEST(IpfixDecoder, RejectsTruncatedHeader) {
  std::vector<uint8_t> b = ipfix().build();
  b.resize(15);
  expect_fault(b, DecodeStatus::kTruncated);
  expect_fault({0, 10, 0}, DecodeStatus::kTruncated);
}

TEST(IpfixDecoder, RejectsOtherVersions) {
  std::vector<uint8_t> b = ipfix().build();
  b[1] = 9;
  expect_fault(b, DecodeStatus::kBadVersion);
}

TEST(IpfixDecoder, TemplateWithdrawalIsAccepted) {
  DecoderHarness h;
  FlowDatagram t = ipfix();
  t.template_set(256, {{7, 2}}).template_set(257, {{11, 2}});
  t.options_template_set(258, {{149, 4}}, {{34, 4}});
  ASSERT_EQ(h.ipfix(t.build()), DecodeStatus::kOk);
  EXPECT_EQ(h.templates.template_count(), 3u);

  ByteWriter w;
  w.u16(256).u16(0);  // withdraw template 256 (RFC 7011 §8.1)
  ASSERT_EQ(h.ipfix(ipfix().set(2, w).build()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.templates_withdrawn, 1u);
  EXPECT_EQ(h.templates.template_count(), 2u);

  // Data for a withdrawn template waits for a new one.
  ByteWriter r;
  r.u16(5);
  ASSERT_EQ(h.ipfix(ipfix().data_set(256, r).data_set(257, r).build()), DecodeStatus::kOk);
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.counters.pending_buffered, 1u);

  // Withdrawing an unknown template is harmless; ID 2 withdraws every template of the domain,
  // options templates excepted.
  ByteWriter all;
  all.u16(999).u16(0).u16(2).u16(0);
  ASSERT_EQ(h.ipfix(ipfix().set(2, all).build()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.templates_withdrawn, 2u);
  EXPECT_EQ(h.templates.template_count(), 1u);
  ByteWriter all_options;
  all_options.u16(3).u16(0);
  ASSERT_EQ(h.ipfix(ipfix().set(3, all_options).build()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.templates_withdrawn, 3u);
  EXPECT_EQ(h.templates.template_count(), 0u);
  EXPECT_EQ(h.counters.total_errors(), 0u);
}

TEST(IpfixDecoder, WithdrawalIsScopedToItsDomain) {
  DecoderHarness h;
  ASSERT_EQ(h.ipfix(ipfix(1).template_set(256, {{7, 2}}).build()), DecodeStatus::kOk);
  ASSERT_EQ(h.ipfix(ipfix(2).template_set(256, {{7, 2}}).build()), DecodeStatus::kOk);
  ByteWriter w;
  w.u16(2).u16(0);
  ASSERT_EQ(h.ipfix(ipfix(1).set(2, w).build()), DecodeStatus::kOk);
  EXPECT_EQ(h.templates.template_count(), 1u);
  ByteWriter r;
  r.u16(5);
  ASSERT_EQ(h.ipfix(ipfix(2).data_set(256, r).build()), DecodeStatus::kOk);
  EXPECT_EQ(h.size(), 1u);
}

TEST(IpfixDecoder, RejectsWithdrawalOfAReservedId) {
  ByteWriter w;
  w.u16(5).u16(0);
  expect_fault(ipfix().set(2, w).build(), DecodeStatus::kBadTemplate);
}

TEST(IpfixDecoder, PacketIntervalAndSpaceGiveTheSamplingRate) {
  DecoderHarness h;
  // RFC 5477 §8.2.2: select 1 packet, then skip 99: one in 100.
  FlowDatagram o = ipfix();
  o.options_template_set(256, {{149, 4}}, {{305, 4}, {306, 4}});
  ByteWriter od;
  od.u32(kDomain).u32(1).u32(99);
  o.data_set(256, od);
  ASSERT_EQ(h.ipfix(o.build()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.options_records, 1u);
  EXPECT_EQ(h.counters.sampling_rates_learned, 1u);

  ByteWriter r;
  r.u16(1);
  ASSERT_EQ(h.ipfix(ipfix().template_set(300, {{7, 2}}).data_set(300, r).build()),
            DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(field(h, 0, &FlowBlock::sampling_rate), 100u);

  // (interval + space) / interval: 2 in 10 is one in 5.
  ByteWriter od2;
  od2.u32(kDomain).u32(2).u32(8);
  ASSERT_EQ(h.ipfix(ipfix().data_set(256, od2).data_set(300, r).build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(field(h, 1, &FlowBlock::sampling_rate), 5u);
}

TEST(IpfixDecoder, SamplingSizeAndPopulationGiveTheSamplingRate) {
  DecoderHarness h;
  FlowDatagram o = ipfix();
  o.options_template_set(256, {{149, 4}}, {{309, 4}, {310, 4}});
  ByteWriter od;
  od.u32(kDomain).u32(10).u32(1000);
  o.data_set(256, od);
  ByteWriter r;
  r.u16(1);
  o.template_set(300, {{7, 2}}).data_set(300, r);
  ASSERT_EQ(h.ipfix(o.build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(field(h, 0, &FlowBlock::sampling_rate), 100u);
}

TEST(IpfixDecoder, ZeroPacketIntervalLearnsNothing) {
  DecoderHarness h;
  FlowDatagram o = ipfix();
  o.options_template_set(256, {{149, 4}}, {{305, 4}, {306, 4}});
  ByteWriter od;
  od.u32(kDomain).u32(0).u32(99);
  o.data_set(256, od);
  ASSERT_EQ(h.ipfix(o.build()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.options_records, 1u);
  EXPECT_EQ(h.counters.sampling_rates_learned, 0u);
}

TEST(IpfixDecoder, SelectorIdScopePicksThePerSelectorRate) {
  DecoderHarness h;
  FlowDatagram o = ipfix();
  o.options_template_set(256, {{302, 8}}, {{305, 4}, {306, 4}});
  ByteWriter od;
  od.u64(1).u32(1).u32(9);    // selector 1: one in 10
  od.u64(2).u32(1).u32(999);  // selector 2: one in 1000
  o.data_set(256, od);
  ASSERT_EQ(h.ipfix(o.build()), DecodeStatus::kOk);
  ByteWriter r;
  r.u16(1).u64(1).u16(2).u64(2);
  ASSERT_EQ(h.ipfix(ipfix().template_set(300, {{7, 2}, {302, 8}}).data_set(300, r).build()),
            DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(field(h, 0, &FlowBlock::sampling_rate), 10u);
  EXPECT_EQ(field(h, 1, &FlowBlock::sampling_rate), 1000u);
}

TEST(IpfixDecoder, OptionsDataBeforeItsTemplateIsLearnedWhenTheTemplateArrives) {
  DecoderHarness h;
  ByteWriter od;
  od.u32(kDomain).u32(1).u32(49);
  ASSERT_EQ(h.ipfix(ipfix().data_set(256, od).build()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.pending_buffered, 1u);
  FlowDatagram o = ipfix();
  o.options_template_set(256, {{149, 4}}, {{305, 4}, {306, 4}});
  ByteWriter r;
  r.u16(1);
  o.template_set(300, {{7, 2}}).data_set(300, r);
  ASSERT_EQ(h.ipfix(o.build()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.pending_decoded, 1u);
  EXPECT_EQ(h.counters.sampling_rates_learned, 1u);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(field(h, 0, &FlowBlock::sampling_rate), 50u);
}

TEST(IpfixDecoder, OptionsTemplateWithVariableLengthField) {
  // Juniper sends interface names in options data: a variable-length option field.
  DecoderHarness h;
  FlowDatagram o = ipfix();
  o.options_template_set(256, {{149, 4}}, {{82, kVariableLength}, {34, 4}});
  ByteWriter od;
  od.u32(kDomain).u8(4).bytes({'g', 'e', '-', '0'}).u32(2000);
  od.u32(kDomain).u8(255).u16(3).bytes({'x', 'e', '0'}).u32(4000);
  o.data_set(256, od);
  ASSERT_EQ(h.ipfix(o.build()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.options_records, 2u);
  ByteWriter r;
  r.u16(1);
  ASSERT_EQ(h.ipfix(ipfix().template_set(300, {{7, 2}}).data_set(300, r).build()),
            DecodeStatus::kOk);
  EXPECT_EQ(field(h, 0, &FlowBlock::sampling_rate), 4000u);

  ByteWriter bad;
  bad.u32(kDomain).u8(40).zeros(4);
  expect_fault(h, ipfix().data_set(256, bad).build(), DecodeStatus::kBadRecord);
}

TEST(IpfixDecoder, DateTimeSecondsAndMilliseconds) {
  ByteWriter r;
  r.u32(kExportSecs - 60).u32(kExportSecs - 1);
  auto h = decode_one({{150, 4}, {151, 4}}, r);
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::start_ms), kExportMs - 60'000);
  EXPECT_EQ(field(*h, 0, &FlowBlock::end_ms), kExportMs - 1'000);

  ByteWriter ms;
  ms.u64(kExportMs - 1'234).u64(kExportMs - 5);
  auto h2 = decode_one({{152, 8}, {153, 8}}, ms);
  EXPECT_EQ(field(*h2, 0, &FlowBlock::start_ms), kExportMs - 1'234);
  EXPECT_EQ(field(*h2, 0, &FlowBlock::end_ms), kExportMs - 5);
}

TEST(IpfixDecoder, NtpMicroAndNanosecondTimes) {
  // NTP format (RFC 7011 §6.1.9, §6.1.10): seconds since 1900, then a 32-bit binary fraction.
  const uint64_t secs = kExportSecs - 10 + kNtpUnixOffset;
  ByteWriter r;
  r.u32(static_cast<uint32_t>(secs)).u32(0x80000000u);  // .5 s
  r.u32(static_cast<uint32_t>(secs + 5)).u32(0x40000000u);  // .25 s
  auto h = decode_one({{154, 8}, {155, 8}}, r);
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::start_ms), kExportMs - 10'000 + 500);
  EXPECT_EQ(field(*h, 0, &FlowBlock::end_ms), kExportMs - 5'000 + 250);

  auto h2 = decode_one({{156, 8}, {157, 8}}, r);
  EXPECT_EQ(field(*h2, 0, &FlowBlock::start_ms), kExportMs - 10'000 + 500);
  EXPECT_EQ(field(*h2, 0, &FlowBlock::end_ms), kExportMs - 5'000 + 250);
}

TEST(IpfixDecoder, DeltaMicrosecondsBeforeTheExportTime) {
  ByteWriter r;
  r.u32(3'000'000).u32(1'500'000);
  auto h = decode_one({{158, 4}, {159, 4}}, r);
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::start_ms), kExportMs - 3'000);
  EXPECT_EQ(field(*h, 0, &FlowBlock::end_ms), kExportMs - 1'500);
}

TEST(IpfixDecoder, SysUpTimesCountFromSystemInitTimeInTheRecord) {
  const uint64_t init = kExportMs - 86'400'000;  // booted a day ago
  ByteWriter r;
  r.u64(init).u32(1'000).u32(61'000);
  auto h = decode_one({{160, 8}, {22, 4}, {21, 4}}, r);
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::start_ms), init + 1'000);
  EXPECT_EQ(field(*h, 0, &FlowBlock::end_ms), init + 61'000);
}

TEST(IpfixDecoder, SysUpTimesCountFromSystemInitTimeInOptionsData) {
  DecoderHarness h;
  const uint64_t init = kExportMs - 3'600'000;
  FlowDatagram o = ipfix();
  o.options_template_set(256, {{149, 4}}, {{160, 8}});
  ByteWriter od;
  od.u32(kDomain).u64(init);
  o.data_set(256, od);
  ASSERT_EQ(h.ipfix(o.build()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.options_records, 1u);
  ByteWriter r;
  r.u32(10).u32(20);
  ASSERT_EQ(h.ipfix(ipfix().template_set(300, {{22, 4}, {21, 4}}).data_set(300, r).build()),
            DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(field(h, 0, &FlowBlock::start_ms), init + 10);
  EXPECT_EQ(field(h, 0, &FlowBlock::end_ms), init + 20);

  // Another domain has not said when it booted: the export time stands in.
  ASSERT_EQ(h.ipfix(ipfix(kDomain + 1).template_set(300, {{22, 4}, {21, 4}}).data_set(300, r)
                        .build()),
            DecodeStatus::kOk);
  EXPECT_EQ(field(h, 1, &FlowBlock::start_ms), kExportMs);
  EXPECT_EQ(field(h, 1, &FlowBlock::end_ms), kExportMs);
}

TEST(IpfixDecoder, HeldDataKeepsTheExportTimeOfItsOwnMessage) {
  DecoderHarness h;
  ByteWriter r;
  r.u32(2'000'000).u16(1);
  ASSERT_EQ(h.ipfix(ipfix().data_set(256, r).build()), DecodeStatus::kOk);
  FlowDatagram later = FlowDatagram::ipfix(kExportSecs + 30, kDomain);
  ASSERT_EQ(h.ipfix(later.template_set(256, {{158, 4}, {7, 2}}).build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(field(h, 0, &FlowBlock::start_ms), kExportMs - 2'000);
}

TEST(IpfixDecoder, Ipv6AddressesMasksAndNextHop) {
  ByteWriter r;
  put_v6(r, 1);
  put_v6(r, 2);
  r.u8(48).u8(64);
  put_v6(r, 0xfe);
  auto h = decode_one({{27, 16}, {28, 16}, {29, 1}, {30, 1}, {62, 16}}, r);
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::src_addr), v6(1));
  EXPECT_EQ(field(*h, 0, &FlowBlock::dst_addr), v6(2));
  EXPECT_EQ(field(*h, 0, &FlowBlock::src_mask), 48);
  EXPECT_EQ(field(*h, 0, &FlowBlock::dst_mask), 64);
  EXPECT_EQ(field(*h, 0, &FlowBlock::next_hop), v6(0xfe));
  EXPECT_EQ(field(*h, 0, &FlowBlock::ether_type), 0x86dd);
}

TEST(IpfixDecoder, MacAddressesAndTheirPostFallbacks) {
  {
    ByteWriter r;
    r.bytes({0, 1, 2, 3, 4, 5}).bytes({6, 7, 8, 9, 10, 11});
    auto h = decode_one({{56, 6}, {80, 6}}, r);
    EXPECT_EQ(field(*h, 0, &FlowBlock::src_mac), 0x000102030405u);
    EXPECT_EQ(field(*h, 0, &FlowBlock::dst_mac), 0x060708090a0bu);
  }
  {
    SCOPED_TRACE("only postSourceMacAddress 81 and postDestinationMacAddress 57");
    ByteWriter r;
    r.bytes({0xaa, 1, 2, 3, 4, 5}).bytes({0xbb, 7, 8, 9, 10, 11});
    auto h = decode_one({{81, 6}, {57, 6}}, r);
    EXPECT_EQ(field(*h, 0, &FlowBlock::src_mac), 0xaa0102030405u);
    EXPECT_EQ(field(*h, 0, &FlowBlock::dst_mac), 0xbb0708090a0bu);
  }
  {
    SCOPED_TRACE("both: 56 and 80 win, whatever the order");
    ByteWriter r;
    r.bytes({0xaa, 1, 2, 3, 4, 5}).bytes({0, 1, 2, 3, 4, 5});
    r.bytes({6, 7, 8, 9, 10, 11}).bytes({0xbb, 7, 8, 9, 10, 11});
    auto h = decode_one({{81, 6}, {56, 6}, {80, 6}, {57, 6}}, r);
    EXPECT_EQ(field(*h, 0, &FlowBlock::src_mac), 0x000102030405u);
    EXPECT_EQ(field(*h, 0, &FlowBlock::dst_mac), 0x060708090a0bu);
  }
}

TEST(IpfixDecoder, FlowDirectionOneIsEgress) {
  ByteWriter r;
  r.u8(1).u8(0).u8(2);
  auto h = decode_one({{61, 1}}, r);
  ASSERT_EQ(h->size(), 3u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::direction), Direction::kEgress);
  EXPECT_EQ(field(*h, 1, &FlowBlock::direction), Direction::kIngress);
  EXPECT_EQ(field(*h, 2, &FlowBlock::direction), Direction::kIngress);
}

TEST(IpfixDecoder, VlanIdAndDot1qFallback) {
  ByteWriter r;
  r.u16(100).u16(200);
  auto h = decode_one({{58, 2}, {243, 2}}, r);
  EXPECT_EQ(field(*h, 0, &FlowBlock::vlan), 100);
  ByteWriter r2;
  r2.u16(0xf123);  // the 12-bit VLAN ID only
  auto h2 = decode_one({{243, 2}}, r2);
  EXPECT_EQ(field(*h2, 0, &FlowBlock::vlan), 0x123);
}

TEST(IpfixDecoder, ByteAndPacketCountersPreferDeltaThenTotalThenPost) {
  {
    ByteWriter r;
    r.u64(23).u64(85).u64(1).u64(24).u64(86).u64(2);
    auto h = decode_one({{23, 8}, {85, 8}, {1, 8}, {24, 8}, {86, 8}, {2, 8}}, r);
    EXPECT_EQ(field(*h, 0, &FlowBlock::bytes), 1u);
    EXPECT_EQ(field(*h, 0, &FlowBlock::packets), 2u);
  }
  {
    ByteWriter r;
    r.u64(85).u64(23).u64(86).u64(24);
    auto h = decode_one({{85, 8}, {23, 8}, {86, 8}, {24, 8}}, r);
    EXPECT_EQ(field(*h, 0, &FlowBlock::bytes), 85u);
    EXPECT_EQ(field(*h, 0, &FlowBlock::packets), 86u);
  }
  {
    ByteWriter r;
    r.u64(23).u64(24);
    auto h = decode_one({{23, 8}, {24, 8}}, r);
    EXPECT_EQ(field(*h, 0, &FlowBlock::bytes), 23u);
    EXPECT_EQ(field(*h, 0, &FlowBlock::packets), 24u);
  }
}

TEST(IpfixDecoder, ReducedSizeIntegers) {
  // RFC 7011 §6.2: unsigned integers may be sent in fewer bytes.
  ByteWriter r;
  r.u32(0xfedcba98).u16(300).u8(0x01).u16(0x0203).u16(7).u8(9).u16(6);
  auto h = decode_one({{1, 4}, {2, 2}, {10, 3}, {14, 2}, {7, 1}, {4, 2}}, r);
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::bytes), 0xfedcba98u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::packets), 300u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::in_if), 0x010203u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::out_if), 7u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::src_port), 9);
  EXPECT_EQ(field(*h, 0, &FlowBlock::protocol), 6);
}

TEST(IpfixDecoder, FieldsOfAnUnusableWidthAreSkipped) {
  ByteWriter r;
  r.u16(0x0a00).zeros(10).u16(99).zeros(9).u16(5);  // a 2-byte address, a 10-byte counter ...
  auto h = decode_one({{8, 2}, {1, 10}, {7, 2}, {56, 5}, {4, 4}, {11, 2}}, r);
  ASSERT_EQ(h->size(), 1u);
  EXPECT_TRUE(field(*h, 0, &FlowBlock::src_addr).is_zero());
  EXPECT_EQ(field(*h, 0, &FlowBlock::bytes), 0u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::src_port), 99);
  EXPECT_EQ(field(*h, 0, &FlowBlock::src_mac), 0u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::dst_port), 5);
}

TEST(IpfixDecoder, InterfacesPreferLogicalThenPhysical) {
  ByteWriter r;
  r.u32(252).u32(10).u32(253).u32(14);
  auto h = decode_one({{252, 4}, {10, 4}, {253, 4}, {14, 4}}, r);
  EXPECT_EQ(field(*h, 0, &FlowBlock::in_if), 10u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::out_if), 14u);
  ByteWriter r2;
  r2.u32(252).u32(253);
  auto h2 = decode_one({{252, 4}, {253, 4}}, r2);
  EXPECT_EQ(field(*h2, 0, &FlowBlock::in_if), 252u);
  EXPECT_EQ(field(*h2, 0, &FlowBlock::out_if), 253u);
}

TEST(IpfixDecoder, IpVersionGivesTheEtherType) {
  ByteWriter r;
  r.u8(4).u8(6).u8(5);
  auto h = decode_one({{60, 1}}, r);
  ASSERT_EQ(h->size(), 3u);
  EXPECT_EQ(field(*h, 0, &FlowBlock::ether_type), 0x0800);
  EXPECT_EQ(field(*h, 1, &FlowBlock::ether_type), 0x86dd);
  EXPECT_EQ(field(*h, 2, &FlowBlock::ether_type), 0);
  // The stated version wins over the address family.
  ByteWriter r2;
  r2.ipv4(10, 0, 0, 1).u8(6);
  auto h2 = decode_one({{8, 4}, {60, 1}}, r2);
  EXPECT_EQ(field(*h2, 0, &FlowBlock::ether_type), 0x86dd);
}

// Regression: bgpNextHopIPv4Address (18) once had the priority of ipNextHopIPv4Address (15),
// so with both in a template the later one won. The reference (goflow2's NextHop) emits IE 15;
// 18 is a fallback, as bgpNextHopIPv6Address (63) is for 62.
TEST(IpfixDecoder, IpNextHopIsPreferredOverBgpNextHop) {
  ByteWriter r;
  r.ipv4(10, 0, 0, 15).ipv4(10, 0, 0, 18);
  auto h = decode_one({{15, 4}, {18, 4}}, r);
  EXPECT_EQ(field(*h, 0, &FlowBlock::next_hop), ipv4(10, 0, 0, 15));
  ByteWriter r2;
  r2.ipv4(10, 0, 0, 18);
  auto h2 = decode_one({{18, 4}}, r2);
  EXPECT_EQ(field(*h2, 0, &FlowBlock::next_hop), ipv4(10, 0, 0, 18));
  ByteWriter r3;
  r3.ipv4(10, 0, 0, 18).ipv4(10, 0, 0, 15);
  auto h3 = decode_one({{18, 4}, {15, 4}}, r3);
  EXPECT_EQ(field(*h3, 0, &FlowBlock::next_hop), ipv4(10, 0, 0, 15));
}

TEST(IpfixDecoder, RejectsSetLongerThanMessage) {
  DecoderHarness h;
  ByteWriter r;
  r.u16(1);
  FlowDatagram d = ipfix();
  d.template_set(256, {{7, 2}}).data_set(256, r).data_set(256, r);
  std::vector<uint8_t> b = d.build();
  b[b.size() - 6 + 3] = 7;  // the last set says 7 bytes, 6 remain
  expect_fault(h, b, DecodeStatus::kBadSetLength);
  EXPECT_EQ(h.size(), 1u);
}

TEST(IpfixDecoder, RejectsSetShorterThanItsHeader) {
  for (uint8_t len : {0, 2, 3}) {
    FlowDatagram d = ipfix();
    d.raw({0x01, 0x00, 0x00, len, 0xaa, 0xbb, 0xcc, 0xdd});
    expect_fault(d.build(), DecodeStatus::kBadSetLength);
  }
}

TEST(IpfixDecoder, RejectsStrayBytesAfterTheLastSet) {
  ByteWriter r;
  r.u16(1);
  DecoderHarness h;
  expect_fault(h, ipfix().template_set(256, {{7, 2}}).data_set(256, r).raw({0, 0, 1}).build(),
               DecodeStatus::kBadSetLength);
  EXPECT_EQ(h.size(), 1u);
}

TEST(IpfixDecoder, ZeroPaddingAfterTheLastSetIsSkipped) {
  DecoderHarness h;
  ByteWriter r;
  r.u16(1).zeros(2);  // a 2-byte record padded to 4
  ASSERT_EQ(h.ipfix(ipfix().template_set(256, {{7, 2}, {11, 2}}).data_set(256, r).zeros(3)
                        .build()),
            DecodeStatus::kOk);
  EXPECT_EQ(h.size(), 1u);
  DecoderHarness h2;
  ASSERT_EQ(h2.ipfix(ipfix().template_set(256, {{7, 2}, {11, 2}}).data_set(256, r).zeros(9)
                         .build()),
            DecodeStatus::kOk);
  EXPECT_EQ(h2.counters.padding_bytes, 9u);
}

TEST(IpfixDecoder, PaddingInsideADataSetIsSkipped) {
  ByteWriter r;
  r.u32(1).u8(6).u32(2).u8(17).zeros(2);  // two 5-byte records padded to 12
  auto h = decode_one({{1, 4}, {4, 1}}, r);
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ(field(*h, 1, &FlowBlock::protocol), 17);
  EXPECT_EQ(h->counters.padding_bytes, 2u);
}

TEST(IpfixDecoder, ReservedSetIdsAreSkipped) {
  DecoderHarness h;
  ByteWriter r;
  r.u16(1);
  FlowDatagram d = ipfix();
  d.template_set(256, {{7, 2}});
  for (uint16_t id : {0, 1, 4, 255}) d.set(id, r);
  ASSERT_EQ(h.ipfix(d.data_set(256, r).build()), DecodeStatus::kOk);
  EXPECT_EQ(h.size(), 1u);
}

TEST(IpfixDecoder, RejectsBadTemplates) {
  {
    SCOPED_TRACE("template ID below 256");
    expect_fault(ipfix().template_set(4, {{7, 2}}).build(), DecodeStatus::kBadTemplate);
  }
  {
    SCOPED_TRACE("field specifiers past the set");
    ByteWriter b;
    b.u16(256).u16(2).u16(7).u16(2);
    expect_fault(ipfix().set(2, b).build(), DecodeStatus::kBadTemplate);
  }
  {
    SCOPED_TRACE("enterprise number past the set");
    ByteWriter b;
    b.u16(256).u16(1).u16(0x8001).u16(4).u16(0);
    expect_fault(ipfix().set(2, b).build(), DecodeStatus::kBadTemplate);
  }
  {
    SCOPED_TRACE("scope field count over the field count");
    ByteWriter b;
    b.u16(256).u16(1).u16(2).u16(149).u16(4).u16(34).u16(4);
    expect_fault(ipfix().set(3, b).build(), DecodeStatus::kBadTemplate);
  }
  {
    SCOPED_TRACE("options template cut before its scope count");
    ByteWriter b;
    b.u16(256).u16(1);
    expect_fault(ipfix().set(3, b).build(), DecodeStatus::kBadTemplate);
  }
  {
    SCOPED_TRACE("more fields than any template may have");
    ByteWriter b;
    b.u16(256).u16(513);
    for (int i = 0; i < 513; ++i) b.u16(7).u16(2);
    expect_fault(ipfix().set(2, b).build(), DecodeStatus::kBadTemplate);
  }
  {
    SCOPED_TRACE("only zero-length fields");
    expect_fault(ipfix().template_set(256, {{7, 0}}).build(), DecodeStatus::kBadTemplate);
  }
}

TEST(IpfixDecoder, RejectsTemplateOfMoreStepsThanACompiledTemplateHolds) {
  // Each used field is one step; 161 source addresses cannot be compiled.
  ByteWriter b;
  b.u16(256).u16(161);
  for (int i = 0; i < 161; ++i) b.u16(8).u16(4);
  DecoderHarness h;
  expect_fault(h, ipfix().set(2, b).build(), DecodeStatus::kTemplateLimit);
  EXPECT_EQ(h.templates.template_count(), 0u);
  // Skipped fields merge into one step: 500 unknown fields compile.
  ByteWriter ok;
  ok.u16(257).u16(500);
  for (int i = 0; i < 500; ++i) ok.u16(static_cast<uint16_t>(1000 + i)).u16(1);
  EXPECT_EQ(h.ipfix(ipfix().set(2, ok).build()), DecodeStatus::kOk);
}

TEST(IpfixDecoder, TemplatesAreKeyedByDomainAndNotSharedWithNetflow9) {
  DecoderHarness h;
  ASSERT_EQ(h.ipfix(ipfix(1).template_set(256, {{7, 2}}).build()), DecodeStatus::kOk);
  ASSERT_EQ(h.ipfix(ipfix(2).template_set(256, {{11, 2}}).build()), DecodeStatus::kOk);
  // A NetFlow v9 exporter on the same address and port, with source ID 1.
  ASSERT_EQ(h.netflow9(FlowDatagram::netflow9(0, kExportSecs, 1).template_set(256, {{10, 2}})
                           .build()),
            DecodeStatus::kOk);
  EXPECT_EQ(h.counters.templates_added, 3u);
  ByteWriter r;
  r.u16(42);
  ASSERT_EQ(h.ipfix(ipfix(1).data_set(256, r).build()), DecodeStatus::kOk);
  ASSERT_EQ(h.ipfix(ipfix(2).data_set(256, r).build()), DecodeStatus::kOk);
  ASSERT_EQ(h.netflow9(FlowDatagram::netflow9(0, kExportSecs, 1).data_set(256, r).build()),
            DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(field(h, 0, &FlowBlock::src_port), 42);
  EXPECT_EQ(field(h, 0, &FlowBlock::dst_port), 0);
  EXPECT_EQ(field(h, 1, &FlowBlock::dst_port), 42);
  EXPECT_EQ(field(h, 1, &FlowBlock::src_port), 0);
  EXPECT_EQ(field(h, 2, &FlowBlock::in_if), 42u);
  EXPECT_EQ(field(h, 2, &FlowBlock::flow_type), FlowType::kNetflow9);
}

TEST(IpfixDecoder, BlockIsRefilledWhenItFillsAcrossMessages) {
  DecoderHarness h;
  ASSERT_EQ(h.ipfix(ipfix().template_set(256, {{7, 2}, {11, 2}}).build()), DecodeStatus::kOk);
  for (uint16_t m = 0; m < 11; ++m) {  // 11 messages of 100 records
    ByteWriter r;
    for (uint16_t i = 0; i < 100; ++i) r.u16(m).u16(i);
    ASSERT_EQ(h.ipfix(ipfix().data_set(256, r).build()), DecodeStatus::kOk);
  }
  EXPECT_EQ(h.size(), 1100u);
  EXPECT_NE(&h.block(1023), &h.block(1024));
  EXPECT_EQ(field(h, 1024, &FlowBlock::src_port), 10);
  EXPECT_EQ(field(h, 1024, &FlowBlock::dst_port), 24);
}

TEST(IpfixDecoder, RecordsWithoutAFreeBlockAreCounted) {
  DecoderHarness h({}, /*max_blocks=*/1);
  ASSERT_EQ(h.ipfix(ipfix().template_set(256, {{7, 2}, {11, 2}}).build()), DecodeStatus::kOk);
  ByteWriter r;
  for (uint16_t i = 0; i < 1000; ++i) r.u16(i).u16(i);
  ASSERT_EQ(h.ipfix(ipfix().data_set(256, r).build()), DecodeStatus::kOk);
  ASSERT_EQ(h.ipfix(ipfix().data_set(256, r).build()), DecodeStatus::kOk);
  EXPECT_TRUE(h.contract_ok);
  EXPECT_EQ(h.counters.records, 1024u);
  EXPECT_EQ(h.counters.block_unavailable, 976u);
  EXPECT_EQ(h.counters.total_errors(), 0u);
}

// Regression: with a variable-length template, a set's records lost for want of a block were
// once counted as one, however many the set held.
TEST(IpfixDecoder, RecordsOfAVariableLengthTemplateWithoutAFreeBlockAreCounted) {
  DecoderHarness h({}, /*max_blocks=*/0);
  ByteWriter r;
  for (uint8_t i = 0; i < 5; ++i) r.u16(i).u8(1).u8(i);
  ASSERT_EQ(h.ipfix(ipfix().template_set(256, {{7, 2}, {82, kVariableLength}}).data_set(256, r)
                        .build()),
            DecodeStatus::kOk);
  EXPECT_EQ(h.counters.block_unavailable, 5u);
}

}  // namespace
}  // namespace flowgate
