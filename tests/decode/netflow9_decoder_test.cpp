// NetFlow v9 decoder (RFC 3954): templates and data in one or several datagrams, options data
// (sampling), padding, vendor and zero-length fields, template refresh vs replacement, data
// held until its template arrives (and the bounds on holding it), malformed flowsets, and
// template scoping by exporter address, port and source ID.

#include "decode/netflow9_decoder.hpp"

#include <gtest/gtest.h>

#include <cstdint>
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
using decode::TemplateCacheLimits;
using testing::ByteWriter;
using testing::DecoderHarness;
using testing::field;
using testing::FlowDatagram;
using testing::ipv4;

using testing::v9::kExportMs;
using testing::v9::kSourceId;
using testing::v9::kUnixSecs;
using testing::v9::kUptime;

FlowDatagram v9(uint32_t source_id = kSourceId, uint32_t sequence = 9) {
  return testing::v9::datagram(source_id, sequence);
}

// A template with one field of every column NetFlow v9 exporters commonly send.
FlowDatagram& full_template(FlowDatagram& d, uint16_t id = 256) {
  return d.template_set(id, {{8, 4}, {12, 4}, {15, 4}, {7, 2}, {11, 2}, {4, 1}, {5, 1}, {6, 1},
                             {10, 2}, {14, 2}, {1, 4}, {2, 4}, {22, 4}, {21, 4}, {9, 1},
                             {13, 1}, {16, 2}, {17, 2}, {61, 1}, {58, 2}, {56, 6}, {80, 6}});
}

void full_record(ByteWriter& w, uint16_t src_port = 1234) {
  w.ipv4(10, 1, 2, 3).ipv4(10, 4, 5, 6).ipv4(10, 0, 0, 254);
  w.u16(src_port).u16(443).u8(6).u8(0x28).u8(0x1b);
  w.u16(3).u16(5).u32(1'500'000).u32(1'000);
  w.u32(kUptime - 3'000).u32(kUptime - 1'000);  // first, last
  w.u8(24).u8(16).u16(64'500).u16(64'501).u8(1).u16(0x1064);
  w.bytes({0x00, 0x11, 0x22, 0x33, 0x44, 0x55}).bytes({0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb});
}

ByteWriter full_records(int n) {
  ByteWriter w;
  for (int i = 0; i < n; ++i) full_record(w, static_cast<uint16_t>(1000 + i));
  return w;
}

// A small template: source address and source port (6 bytes per record).
FlowDatagram& small_template(FlowDatagram& d, uint16_t id = 300) {
  return d.template_set(id, {{8, 4}, {7, 2}});
}
ByteWriter small_records(std::initializer_list<uint16_t> ports) {
  ByteWriter w;
  for (uint16_t p : ports) w.ipv4(192, 168, 0, 1).u16(p);
  return w;
}

void expect_fault(DecoderHarness& h, const std::vector<uint8_t>& d, DecodeStatus want) {
  testing::expect_fault(h, &DecoderHarness::netflow9, d, want);
}
void expect_fault(const std::vector<uint8_t>& d, DecodeStatus want) {
  testing::expect_fault(&DecoderHarness::netflow9, d, want);
}

void expect_full_record(const DecoderHarness& h, size_t i) {
  EXPECT_EQ(field(h, i, &FlowBlock::src_addr), ipv4(10, 1, 2, 3));
  EXPECT_EQ(field(h, i, &FlowBlock::dst_addr), ipv4(10, 4, 5, 6));
  EXPECT_EQ(field(h, i, &FlowBlock::next_hop), ipv4(10, 0, 0, 254));
  EXPECT_EQ(field(h, i, &FlowBlock::dst_port), 443);
  EXPECT_EQ(field(h, i, &FlowBlock::protocol), 6);
  EXPECT_EQ(field(h, i, &FlowBlock::tos), 0x28);
  EXPECT_EQ(field(h, i, &FlowBlock::tcp_flags), 0x1b);
  EXPECT_EQ(field(h, i, &FlowBlock::in_if), 3u);
  EXPECT_EQ(field(h, i, &FlowBlock::out_if), 5u);
  EXPECT_EQ(field(h, i, &FlowBlock::bytes), 1'500'000u);
  EXPECT_EQ(field(h, i, &FlowBlock::packets), 1'000u);
  EXPECT_EQ(field(h, i, &FlowBlock::start_ms), kExportMs - 3'000);
  EXPECT_EQ(field(h, i, &FlowBlock::end_ms), kExportMs - 1'000);
  EXPECT_EQ(field(h, i, &FlowBlock::src_mask), 24);
  EXPECT_EQ(field(h, i, &FlowBlock::dst_mask), 16);
  EXPECT_EQ(field(h, i, &FlowBlock::src_as), 64'500u);
  EXPECT_EQ(field(h, i, &FlowBlock::dst_as), 64'501u);
  EXPECT_EQ(field(h, i, &FlowBlock::direction), Direction::kEgress);
  EXPECT_EQ(field(h, i, &FlowBlock::vlan), 0x064);  // the priority bits are not the VLAN
  EXPECT_EQ(field(h, i, &FlowBlock::src_mac), 0x001122334455u);
  EXPECT_EQ(field(h, i, &FlowBlock::dst_mac), 0x66778899aabbu);
  EXPECT_EQ(field(h, i, &FlowBlock::ether_type), 0x0800);
  EXPECT_EQ(field(h, i, &FlowBlock::flow_type), FlowType::kNetflow9);
  EXPECT_EQ(field(h, i, &FlowBlock::observation_domain), kSourceId);
  EXPECT_EQ(field(h, i, &FlowBlock::exporter_addr), ipv4(192, 0, 2, 1));
  EXPECT_EQ(field(h, i, &FlowBlock::exporter_port), 4444);
  EXPECT_EQ(field(h, i, &FlowBlock::listener), 3);
  EXPECT_EQ(field(h, i, &FlowBlock::sampling_rate), 0u);
  EXPECT_EQ(field(h, i, &FlowBlock::port_rollup), 0);
}

TEST(Netflow9Decoder, TemplateAndDataInOneDatagram) {
  DecoderHarness h;
  FlowDatagram d = v9();
  full_template(d).data_set(256, full_records(2));
  ASSERT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  EXPECT_TRUE(h.contract_ok);
  ASSERT_EQ(h.size(), 2u);
  expect_full_record(h, 0);
  expect_full_record(h, 1);
  EXPECT_EQ(field(h, 0, &FlowBlock::src_port), 1000);
  EXPECT_EQ(field(h, 1, &FlowBlock::src_port), 1001);
  EXPECT_EQ(field(h, 0, &FlowBlock::sequence), 9u);
  EXPECT_EQ(h.counters.templates_added, 1u);
  EXPECT_EQ(h.counters.records, 2u);
  EXPECT_EQ(h.counters.pending_buffered, 0u);
}

TEST(Netflow9Decoder, TemplateAndDataInSeparateDatagrams) {
  DecoderHarness h;
  FlowDatagram t = v9();
  ASSERT_EQ(h.netflow9(full_template(t).build()), DecodeStatus::kOk);
  EXPECT_EQ(h.size(), 0u);
  for (uint32_t seq = 10; seq < 13; ++seq) {
    ASSERT_EQ(h.netflow9(v9(kSourceId, seq).data_set(256, full_records(1)).build()),
              DecodeStatus::kOk);
  }
  ASSERT_EQ(h.size(), 3u);
  for (size_t i = 0; i < 3; ++i) expect_full_record(h, i);
  EXPECT_EQ(field(h, 2, &FlowBlock::sequence), 12u);
  EXPECT_EQ(h.counters.templates_added, 1u);
  EXPECT_EQ(h.counters.total_errors(), 0u);
}

TEST(Netflow9Decoder, UptimeTimesSurviveThe32BitWrap) {
  DecoderHarness h;
  // Header uptime just after the wrap; the flow started 3 s earlier, before it.
  FlowDatagram d = FlowDatagram::netflow9(500, kUnixSecs, kSourceId);
  d.template_set(256, {{22, 4}, {21, 4}});
  ByteWriter r;
  r.u32(0xffffffffu - 2'499).u32(200);
  d.data_set(256, r);
  ASSERT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(field(h, 0, &FlowBlock::start_ms), kExportMs - 3'000);
  EXPECT_EQ(field(h, 0, &FlowBlock::end_ms), kExportMs - 300);
}

TEST(Netflow9Decoder, WithoutTimesTheExportTimeIsUsed) {
  DecoderHarness h;
  FlowDatagram d = v9();
  small_template(d).data_set(300, small_records({1}));
  ASSERT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  EXPECT_EQ(field(h, 0, &FlowBlock::start_ms), kExportMs);
  EXPECT_EQ(field(h, 0, &FlowBlock::end_ms), kExportMs);
}

TEST(Netflow9Decoder, OneTimeStandsInForTheOther) {
  DecoderHarness h;
  FlowDatagram d = v9();
  d.template_set(256, {{21, 4}});  // only the last-switched time
  ByteWriter r;
  r.u32(kUptime - 700);
  d.data_set(256, r);
  ASSERT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  EXPECT_EQ(field(h, 0, &FlowBlock::start_ms), kExportMs - 700);
  EXPECT_EQ(field(h, 0, &FlowBlock::end_ms), kExportMs - 700);
}

TEST(Netflow9Decoder, HeaderCountIsIgnored) {
  for (uint16_t count : {0, 1, 2, 1000, 0xffff}) {
    DecoderHarness h;
    FlowDatagram d = v9();
    full_template(d).data_set(256, full_records(3)).count(count);
    EXPECT_EQ(h.netflow9(d.build()), DecodeStatus::kOk) << "count " << count;
    EXPECT_EQ(h.size(), 3u) << "count " << count;
  }
}

TEST(Netflow9Decoder, PaddingInsideAndAfterFlowsetsIsSkipped) {
  DecoderHarness h;
  FlowDatagram d = v9();
  small_template(d);
  // Two 6-byte records padded to a 32-bit boundary (RFC 3954 §5.3), then zero fill after the
  // last flowset (Cisco ACI, PAN-OS pad datagrams).
  ByteWriter r = small_records({1, 2});
  r.zeros(4);
  d.data_set(300, r).zeros(12);
  ASSERT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  EXPECT_TRUE(h.contract_ok);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_EQ(h.counters.padding_bytes, 4u + 12u);
}

TEST(Netflow9Decoder, PaddingAfterATemplateRecordIsSkipped) {
  DecoderHarness h;
  ByteWriter body;
  FlowDatagram::template_record(body, 300, {{8, 4}, {7, 2}});
  body.zeros(4);
  FlowDatagram d = v9();
  d.set(0, body).data_set(300, small_records({7}));
  ASSERT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.templates_added, 1u);
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.counters.padding_bytes, 4u);
}

TEST(Netflow9Decoder, FewerThanFourTrailingBytesAreIgnored) {
  DecoderHarness h;
  FlowDatagram d = v9();
  small_template(d).data_set(300, small_records({1})).raw({0xde, 0xad, 0xbe});
  EXPECT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  EXPECT_EQ(h.size(), 1u);
}

TEST(Netflow9Decoder, VendorFieldsAreSkippedByLengthAndCounted) {
  DecoderHarness h;
  FlowDatagram d = v9();
  d.template_set(256, {{8, 4}, {40000, 3}, {7, 2}, {0x8000 | 7, 2}, {11, 2}});
  ByteWriter r;
  r.ipv4(10, 9, 8, 7).bytes({1, 2, 3}).u16(5555).u16(0x7777).u16(80);
  d.data_set(256, r);
  ASSERT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h.counters.enterprise_fields, 2u);
  EXPECT_EQ(field(h, 0, &FlowBlock::src_addr), ipv4(10, 9, 8, 7));
  EXPECT_EQ(field(h, 0, &FlowBlock::src_port), 5555);  // not vendor field 0x8007
  EXPECT_EQ(field(h, 0, &FlowBlock::dst_port), 80);
}

TEST(Netflow9Decoder, ZeroLengthFieldsCarryNothing) {
  DecoderHarness h;
  FlowDatagram d = v9();
  d.template_set(256, {{8, 0}, {7, 2}, {100, 0}, {11, 2}, {4, 0}});
  ByteWriter r;
  r.u16(53).u16(5353);
  d.data_set(256, r);
  ASSERT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(field(h, 0, &FlowBlock::src_port), 53);
  EXPECT_EQ(field(h, 0, &FlowBlock::dst_port), 5353);
  EXPECT_TRUE(field(h, 0, &FlowBlock::src_addr).is_zero());
}

TEST(Netflow9Decoder, RejectsTemplateOfOnlyZeroLengthFields) {
  // Its records would consume no bytes, so a data set would never end.
  FlowDatagram d = v9();
  d.template_set(256, {{8, 0}, {7, 0}});
  expect_fault(d.build(), DecodeStatus::kBadTemplate);
}

TEST(Netflow9Decoder, UnchangedTemplateIsRefreshedAndChangedOneReplaced) {
  DecoderHarness h;
  FlowDatagram a = v9();
  ASSERT_EQ(h.netflow9(small_template(a).build()), DecodeStatus::kOk);
  ASSERT_EQ(h.netflow9(small_template(a).build()), DecodeStatus::kOk);  // sent again: 2 sets
  EXPECT_EQ(h.counters.templates_added, 1u);
  EXPECT_EQ(h.counters.templates_refreshed, 2u);
  EXPECT_EQ(h.counters.templates_replaced, 0u);

  // Same ID, new definition: destination port first, then source address.
  FlowDatagram b = v9();
  b.template_set(300, {{11, 2}, {8, 4}});
  ASSERT_EQ(h.netflow9(b.build()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.templates_replaced, 1u);
  EXPECT_EQ(h.templates.template_count(), 1u);

  ByteWriter r;
  r.u16(8080).ipv4(172, 16, 0, 1);
  ASSERT_EQ(h.netflow9(v9().data_set(300, r).build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(field(h, 0, &FlowBlock::dst_port), 8080);
  EXPECT_EQ(field(h, 0, &FlowBlock::src_port), 0);
  EXPECT_EQ(field(h, 0, &FlowBlock::src_addr), ipv4(172, 16, 0, 1));
}

TEST(Netflow9Decoder, SameFieldsWithOtherLengthsIsAReplacement) {
  DecoderHarness h;
  FlowDatagram a = v9();
  a.template_set(256, {{1, 4}});
  FlowDatagram b = v9();
  b.template_set(256, {{1, 8}});
  ASSERT_EQ(h.netflow9(a.build()), DecodeStatus::kOk);
  ASSERT_EQ(h.netflow9(b.build()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.templates_replaced, 1u);
  ByteWriter r;
  r.u64(0x1'0000'0001ull);
  ASSERT_EQ(h.netflow9(v9().data_set(256, r).build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(field(h, 0, &FlowBlock::bytes), 0x1'0000'0001ull);
}

TEST(Netflow9Decoder, DataBeforeItsTemplateIsHeldAndDecodedWhenItArrives) {
  DecoderHarness h;
  // The data comes first, with its own header (sequence 5, uptime 100 s).
  ASSERT_EQ(h.netflow9(v9(kSourceId, 5).data_set(256, full_records(2)).build()),
            DecodeStatus::kOk);
  EXPECT_TRUE(h.contract_ok);
  EXPECT_EQ(h.size(), 0u);
  EXPECT_EQ(h.counters.pending_buffered, 1u);
  EXPECT_EQ(h.templates.pending_live(), 1u);

  // The template arrives in a later datagram, whose header differs.
  FlowDatagram t = FlowDatagram::netflow9(kUptime + 60'000, kUnixSecs + 60, kSourceId, 6);
  ASSERT_EQ(h.netflow9(full_template(t).build()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.pending_decoded, 1u);
  EXPECT_EQ(h.templates.pending_live(), 0u);
  ASSERT_EQ(h.size(), 2u);
  expect_full_record(h, 0);  // times relative to the data's own header
  EXPECT_EQ(field(h, 0, &FlowBlock::sequence), 5u);
  EXPECT_EQ(field(h, 1, &FlowBlock::src_port), 1001);

  // Released once: a second copy of the template decodes nothing more.
  ASSERT_EQ(h.netflow9(full_template(t).build()), DecodeStatus::kOk);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_EQ(h.counters.pending_decoded, 1u);
}

TEST(Netflow9Decoder, DataBeforeItsTemplateInTheSameDatagram) {
  DecoderHarness h;
  FlowDatagram d = v9();
  d.data_set(256, full_records(1));
  full_template(d);
  ASSERT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 1u);
  expect_full_record(h, 0);
  EXPECT_EQ(h.counters.pending_buffered, 1u);
  EXPECT_EQ(h.counters.pending_decoded, 1u);
}

TEST(Netflow9Decoder, HeldDataIsKeptPerSourceId) {
  DecoderHarness h;
  ASSERT_EQ(h.netflow9(v9(1).data_set(300, small_records({11})).build()), DecodeStatus::kOk);
  ASSERT_EQ(h.netflow9(v9(2).data_set(300, small_records({22})).build()), DecodeStatus::kOk);
  FlowDatagram t = v9(2);
  ASSERT_EQ(h.netflow9(small_template(t).build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(field(h, 0, &FlowBlock::src_port), 22);
  EXPECT_EQ(h.templates.pending_live(), 1u);  // source 1's set still waits
}

TEST(Netflow9Decoder, HeldDataIsBoundedPerExporter) {
  TemplateCacheLimits limits;
  limits.pending_bytes_per_exporter = 20;
  DecoderHarness h(limits);
  // 12-byte bodies: the first fits, the second would make 24 > 20.
  ASSERT_EQ(h.netflow9(v9().data_set(300, small_records({1, 2})).build()), DecodeStatus::kOk);
  expect_fault(h, v9().data_set(300, small_records({3, 4})).build(),
               DecodeStatus::kUnknownTemplate);
  EXPECT_EQ(h.counters.pending_buffered, 1u);
  EXPECT_EQ(h.counters.error(DecodeStatus::kUnknownTemplate), 1u);

  // Another exporter has its own allowance.
  h.meta.exporter_port = 5555;
  ASSERT_EQ(h.netflow9(v9().data_set(300, small_records({5, 6})).build()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.pending_buffered, 2u);
}

TEST(Netflow9Decoder, OldestHeldDataIsEvictedWhenTheArenaIsFull) {
  TemplateCacheLimits limits;
  limits.pending_bytes = 30;  // room for two 12-byte bodies
  DecoderHarness h(limits);
  for (uint16_t p : {1, 2, 3}) {
    ASSERT_EQ(h.netflow9(v9().data_set(300, small_records({p, p})).build()), DecodeStatus::kOk);
  }
  EXPECT_EQ(h.counters.pending_buffered, 3u);
  EXPECT_EQ(h.counters.pending_dropped, 1u);
  EXPECT_EQ(h.counters.total_errors(), 0u);
  FlowDatagram t = v9();
  ASSERT_EQ(h.netflow9(small_template(t).build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(field(h, 0, &FlowBlock::src_port), 2);  // the first set was evicted
  EXPECT_EQ(field(h, 3, &FlowBlock::src_port), 3);
  EXPECT_EQ(h.counters.pending_decoded, 2u);
}

TEST(Netflow9Decoder, OldestHeldDataIsEvictedWhenTheSetTableIsFull) {
  TemplateCacheLimits limits;
  limits.max_pending_sets = 2;
  DecoderHarness h(limits);
  for (uint16_t p : {1, 2, 3}) {
    ASSERT_EQ(h.netflow9(v9().data_set(300, small_records({p})).build()), DecodeStatus::kOk);
  }
  EXPECT_EQ(h.counters.pending_dropped, 1u);
  FlowDatagram t = v9();
  ASSERT_EQ(h.netflow9(small_template(t).build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(field(h, 0, &FlowBlock::src_port), 2);
  EXPECT_EQ(field(h, 1, &FlowBlock::src_port), 3);
}

TEST(Netflow9Decoder, HeldDataExpiresAfterItsTtl) {
  TemplateCacheLimits limits;
  limits.pending_ttl_ns = 5'000'000'000;
  DecoderHarness h(limits);
  ASSERT_EQ(h.netflow9(v9().data_set(300, small_records({1})).build()), DecodeStatus::kOk);
  h.meta.receive_ns += 3'000'000'000;
  ASSERT_EQ(h.netflow9(v9().data_set(300, small_records({2})).build()), DecodeStatus::kOk);

  EXPECT_EQ(h.templates.expire_pending(DecoderHarness::kReceiveNs + 4'999'999'999), 0u);
  EXPECT_EQ(h.templates.expire_pending(DecoderHarness::kReceiveNs + 5'000'000'000), 1u);
  EXPECT_EQ(h.templates.pending_live(), 1u);

  FlowDatagram t = v9();
  ASSERT_EQ(h.netflow9(small_template(t).build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(field(h, 0, &FlowBlock::src_port), 2);
}

TEST(Netflow9Decoder, UnknownTemplateWhenDataCannotBeHeld) {
  TemplateCacheLimits limits;
  limits.pending_bytes_per_exporter = 0;
  DecoderHarness h(limits);
  FlowDatagram d = v9();
  small_template(d).data_set(300, small_records({1})).data_set(301, small_records({2}));
  d.data_set(300, small_records({3}));
  expect_fault(h, d.build(), DecodeStatus::kUnknownTemplate);
  EXPECT_EQ(h.size(), 2u);  // the known template's records are kept
}

TEST(Netflow9Decoder, EmptyDataSetOfUnknownTemplateIsNotHeld) {
  DecoderHarness h;
  ASSERT_EQ(h.netflow9(v9().data_set(300, ByteWriter{}).build()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.pending_buffered, 0u);
  EXPECT_EQ(h.templates.pending_live(), 0u);
}

TEST(Netflow9Decoder, OptionsSamplingIntervalAppliesToLaterRecordsOfThatSource) {
  DecoderHarness h;
  // Cisco's sampler options: scope System (1), SAMPLING_INTERVAL (34), SAMPLING_ALGORITHM (35).
  FlowDatagram o = v9();
  o.options_template_set(257, {{1, 4}}, {{34, 4}, {35, 1}});
  ByteWriter od;
  od.u32(0).u32(512).u8(2).zeros(3);  // padding after the 9-byte record
  o.data_set(257, od);
  ASSERT_EQ(h.netflow9(o.build()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.options_records, 1u);
  EXPECT_EQ(h.counters.sampling_rates_learned, 1u);
  EXPECT_EQ(h.size(), 0u);  // options data are not flows

  FlowDatagram d = v9();
  small_template(d).data_set(300, small_records({1}));
  ASSERT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(field(h, 0, &FlowBlock::sampling_rate), 512u);

  // Another source ID of the same exporter, and another exporter port, learned nothing.
  FlowDatagram other = v9(kSourceId + 1);
  ASSERT_EQ(h.netflow9(small_template(other).data_set(300, small_records({2})).build()),
            DecodeStatus::kOk);
  h.meta.exporter_port = 4445;
  ASSERT_EQ(h.netflow9(small_template(d).build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(field(h, 1, &FlowBlock::sampling_rate), 0u);
  EXPECT_EQ(field(h, 2, &FlowBlock::sampling_rate), 0u);
}

TEST(Netflow9Decoder, OptionsTemplateWithZeroScopeLength) {
  // Juniper SRX sends options templates without scope fields.
  DecoderHarness h;
  FlowDatagram o = v9();
  o.options_template_set(257, {}, {{34, 4}});
  ByteWriter od;
  od.u32(1000);
  o.data_set(257, od);
  ASSERT_EQ(h.netflow9(o.build()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.sampling_rates_learned, 1u);
}

TEST(Netflow9Decoder, RecordsCarryingASamplerIdGetThatSamplersRate) {
  DecoderHarness h;
  // FLOW_SAMPLER_ID (48), FLOW_SAMPLER_MODE (49), FLOW_SAMPLER_RANDOM_INTERVAL (50).
  FlowDatagram o = v9();
  o.options_template_set(257, {{1, 4}}, {{48, 1}, {49, 1}, {50, 4}});
  ByteWriter od;
  od.u32(0).u8(1).u8(2).u32(100);
  od.u32(0).u8(2).u8(2).u32(1000);
  o.data_set(257, od);
  ASSERT_EQ(h.netflow9(o.build()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.options_records, 2u);
  EXPECT_EQ(h.counters.sampling_rates_learned, 2u);

  FlowDatagram d = v9();
  d.template_set(300, {{7, 2}, {48, 1}});
  ByteWriter r;
  r.u16(1).u8(1).u16(2).u8(2).u16(3).u8(3);  // sampler 3 is unknown
  d.data_set(300, r).template_set(301, {{7, 2}});
  ByteWriter r2;
  r2.u16(4);
  d.data_set(301, r2);
  ASSERT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(field(h, 0, &FlowBlock::sampling_rate), 100u);
  EXPECT_EQ(field(h, 1, &FlowBlock::sampling_rate), 1000u);
  // A record of an unknown sampler, or of none, gets the latest rate learned for its source.
  EXPECT_EQ(field(h, 2, &FlowBlock::sampling_rate), 1000u);
  EXPECT_EQ(field(h, 3, &FlowBlock::sampling_rate), 1000u);
}

TEST(Netflow9Decoder, SamplingIntervalInTheRecordWins) {
  DecoderHarness h;
  FlowDatagram o = v9();
  o.options_template_set(257, {{1, 4}}, {{34, 4}});
  ByteWriter od;
  od.u32(0).u32(64);
  o.data_set(257, od);
  o.template_set(300, {{7, 2}, {34, 2}});
  ByteWriter r;
  r.u16(1).u16(10);
  o.data_set(300, r);
  ASSERT_EQ(h.netflow9(o.build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(field(h, 0, &FlowBlock::sampling_rate), 10u);
}

TEST(Netflow9Decoder, ReservedFlowsetIdsAreSkipped) {
  DecoderHarness h;
  FlowDatagram d = v9();
  small_template(d);
  for (uint16_t id : {2, 3, 10, 255}) d.set(id, small_records({9}));
  d.data_set(300, small_records({1}));
  ASSERT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  EXPECT_EQ(h.size(), 1u);
}

TEST(Netflow9Decoder, TemplatesAreKeyedByExporterAddressPortAndSourceId) {
  DecoderHarness h;
  struct Exporter {
    decode::IpAddress addr;
    uint16_t port;
    uint32_t source_id;
    uint16_t field_id;  // what the template puts in its 2-byte field
  };
  const Exporter exporters[] = {
      {ipv4(192, 0, 2, 1), 4444, 0, 7},      // source port
      {ipv4(192, 0, 2, 2), 4444, 0, 11},     // another address: destination port
      {ipv4(192, 0, 2, 1), 4445, 0, 10},     // another port: input interface
      {ipv4(192, 0, 2, 1), 4444, 1, 14},     // another source ID: output interface
  };
  for (const Exporter& e : exporters) {
    h.meta.exporter = e.addr;
    h.meta.exporter_port = e.port;
    FlowDatagram t = v9(e.source_id);
    ASSERT_EQ(h.netflow9(t.template_set(256, {{e.field_id, 2}}).build()), DecodeStatus::kOk);
  }
  EXPECT_EQ(h.counters.templates_added, 4u);
  EXPECT_EQ(h.counters.templates_replaced, 0u);
  for (const Exporter& e : exporters) {
    h.meta.exporter = e.addr;
    h.meta.exporter_port = e.port;
    ByteWriter r;
    r.u16(99);
    ASSERT_EQ(h.netflow9(v9(e.source_id).data_set(256, r).build()), DecodeStatus::kOk);
  }
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(field(h, 0, &FlowBlock::src_port), 99);
  EXPECT_EQ(field(h, 1, &FlowBlock::dst_port), 99);
  EXPECT_EQ(field(h, 2, &FlowBlock::in_if), 99u);
  EXPECT_EQ(field(h, 3, &FlowBlock::out_if), 99u);
  EXPECT_EQ(field(h, 1, &FlowBlock::exporter_addr), ipv4(192, 0, 2, 2));
  EXPECT_EQ(field(h, 2, &FlowBlock::exporter_port), 4445);
  EXPECT_EQ(field(h, 3, &FlowBlock::observation_domain), 1u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(field(h, i, &FlowBlock::src_port) + field(h, i, &FlowBlock::dst_port) +
                  field(h, i, &FlowBlock::in_if) + field(h, i, &FlowBlock::out_if),
              99u)
        << "record " << i << " decoded through another exporter's template";
  }
}

TEST(Netflow9Decoder, Ipv4AndIpv6FieldsInOneTemplateKeepTheNonZeroAddress) {
  DecoderHarness h;
  FlowDatagram d = v9();
  d.template_set(256, {{8, 4}, {27, 16}, {12, 4}, {28, 16}});
  ByteWriter r;
  r.ipv4(10, 0, 0, 1).zeros(16).ipv4(10, 0, 0, 2).zeros(16);  // an IPv4 flow
  r.zeros(4).bytes({0x20, 0x01, 0x0d, 0xb8}).zeros(11).u8(1);  // an IPv6 flow
  r.zeros(4).bytes({0x20, 0x01, 0x0d, 0xb8}).zeros(11).u8(2);
  d.data_set(256, r);
  ASSERT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(field(h, 0, &FlowBlock::src_addr), ipv4(10, 0, 0, 1));
  EXPECT_EQ(field(h, 0, &FlowBlock::dst_addr), ipv4(10, 0, 0, 2));
  EXPECT_EQ(field(h, 0, &FlowBlock::ether_type), 0x0800);
  EXPECT_FALSE(field(h, 1, &FlowBlock::src_addr).is_v4());
  EXPECT_EQ(field(h, 1, &FlowBlock::src_addr).bytes[15], 1);
  EXPECT_EQ(field(h, 1, &FlowBlock::dst_addr).bytes[15], 2);
  EXPECT_EQ(field(h, 1, &FlowBlock::ether_type), 0x86dd);
}

TEST(Netflow9Decoder, RejectsTruncatedHeader) {
  std::vector<uint8_t> d = v9().build();
  d.resize(19);
  expect_fault(d, DecodeStatus::kTruncated);
  expect_fault({0, 9}, DecodeStatus::kTruncated);
}

TEST(Netflow9Decoder, RejectsOtherVersions) {
  std::vector<uint8_t> d = v9().build();
  d[1] = 10;
  expect_fault(d, DecodeStatus::kBadVersion);
}

TEST(Netflow9Decoder, HeaderAloneIsAnEmptyDatagram) {
  DecoderHarness h;
  EXPECT_EQ(h.netflow9(v9().build()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.datagrams, 1u);
}

TEST(Netflow9Decoder, RejectsFlowsetLongerThanDatagram) {
  DecoderHarness h;
  FlowDatagram d = v9();
  small_template(d).data_set(300, small_records({1})).data_set(300, small_records({2}));
  std::vector<uint8_t> b = d.build();
  b[b.size() - 10 + 3] += 1;  // the last flowset's length, one past the end
  expect_fault(h, b, DecodeStatus::kBadSetLength);
  EXPECT_EQ(h.size(), 1u);  // the flowset before the fault was decoded
}

TEST(Netflow9Decoder, RejectsFlowsetShorterThanItsHeader) {
  for (uint16_t len : {0, 1, 3}) {
    FlowDatagram d = v9();
    d.raw({0x01, 0x00, static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len), 1, 2, 3, 4});
    expect_fault(d.build(), DecodeStatus::kBadSetLength);
  }
}

TEST(Netflow9Decoder, RejectsBadTemplates) {
  {
    SCOPED_TRACE("template ID below 256");
    FlowDatagram d = v9();
    expect_fault(d.template_set(255, {{8, 4}}).build(), DecodeStatus::kBadTemplate);
  }
  {
    SCOPED_TRACE("field count 0");
    ByteWriter body;
    body.u16(256).u16(0).u32(0x00080004);
    FlowDatagram d = v9();
    expect_fault(d.set(0, body).build(), DecodeStatus::kBadTemplate);
  }
  {
    SCOPED_TRACE("fields past the flowset");
    ByteWriter body;
    body.u16(256).u16(3).u16(8).u16(4).u16(7).u16(2);
    FlowDatagram d = v9();
    expect_fault(d.set(0, body).build(), DecodeStatus::kBadTemplate);
  }
  {
    SCOPED_TRACE("more fields than any template may have");
    ByteWriter body;
    body.u16(256).u16(513);
    for (int i = 0; i < 513; ++i) body.u16(7).u16(2);
    FlowDatagram d = v9();
    expect_fault(d.set(0, body).build(), DecodeStatus::kBadTemplate);
  }
  {
    SCOPED_TRACE("options scope length not a multiple of 4");
    ByteWriter body;
    body.u16(257).u16(2).u16(4).u16(1).u16(4).u16(34).u16(4);
    FlowDatagram d = v9();
    expect_fault(d.set(1, body).build(), DecodeStatus::kBadTemplate);
  }
  {
    SCOPED_TRACE("options template without fields");
    ByteWriter body;
    body.u16(257).u16(0).u16(0).u16(0);
    FlowDatagram d = v9();
    expect_fault(d.set(1, body).build(), DecodeStatus::kBadTemplate);
  }
  {
    SCOPED_TRACE("options fields past the flowset");
    ByteWriter body;
    body.u16(257).u16(4).u16(8).u16(1).u16(4).u16(34).u16(4);
    FlowDatagram d = v9();
    expect_fault(d.set(1, body).build(), DecodeStatus::kBadTemplate);
  }
}

TEST(Netflow9Decoder, TemplatesBeforeABadOneAreKept) {
  DecoderHarness h;
  ByteWriter body;
  FlowDatagram::template_record(body, 300, {{8, 4}, {7, 2}});
  FlowDatagram::template_record(body, 12, {{8, 4}});
  FlowDatagram d = v9();
  d.set(0, body).data_set(300, small_records({1}));
  expect_fault(h, d.build(), DecodeStatus::kBadTemplate);
  EXPECT_EQ(h.counters.templates_added, 1u);
  EXPECT_EQ(h.size(), 1u);
}

TEST(Netflow9Decoder, RejectsNewExporterWhenTheExporterTableIsFull) {
  TemplateCacheLimits limits;
  limits.max_exporters = 1;
  DecoderHarness h(limits);
  FlowDatagram d = v9();
  small_template(d).data_set(300, small_records({1}));
  ASSERT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  h.meta.exporter_port = 1;
  expect_fault(h, d.build(), DecodeStatus::kExporterLimit);
  EXPECT_EQ(h.counters.error(DecodeStatus::kExporterLimit), 1u);
  EXPECT_EQ(h.size(), 1u);
  h.meta.exporter_port = 4444;  // the known exporter still decodes
  ASSERT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  EXPECT_EQ(h.size(), 2u);
}

TEST(Netflow9Decoder, RejectsTemplatePastThePerExporterBound) {
  TemplateCacheLimits limits;
  limits.max_templates_per_exporter = 1;
  DecoderHarness h(limits);
  FlowDatagram d = v9();
  small_template(d, 300);
  small_template(d, 301).data_set(300, small_records({1})).data_set(301, small_records({2}));
  expect_fault(h, d.build(), DecodeStatus::kTemplateLimit);
  EXPECT_EQ(h.counters.templates_added, 1u);
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.counters.pending_buffered, 1u);  // 301's data waits for a template it may get
  // A refresh of the stored template is not a new one.
  FlowDatagram again = v9();
  EXPECT_EQ(h.netflow9(small_template(again, 300).build()), DecodeStatus::kOk);
}

TEST(Netflow9Decoder, NoFreeBlockCountsTheRecords) {
  DecoderHarness h({}, /*max_blocks=*/0);
  FlowDatagram d = v9();
  small_template(d).data_set(300, small_records({1, 2, 3}));
  EXPECT_EQ(h.netflow9(d.build()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.block_unavailable, 3u);
  EXPECT_EQ(h.counters.records, 0u);
}

}  // namespace
}  // namespace flowgate
