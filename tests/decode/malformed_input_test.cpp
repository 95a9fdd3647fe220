// Malformed datagrams of every protocol, one per length a sender controls: each is dropped
// with the one reason counter that names its fault, and the next valid datagram through the
// same decoder state (template cache, counters) still decodes. The reasons are the
// DecodeStatus values of decode/decode_counters.hpp (README "Hardening").

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "decode/decode_counters.hpp"
#include "tests/support/byte_writer.hpp"
#include "tests/support/decoder_harness.hpp"
#include "tests/support/flow_wire.hpp"

namespace flowgate {
namespace {

using decode::DecodeStatus;
using testing::ByteWriter;
using testing::DecoderHarness;
using testing::FlowDatagram;
using testing::kVariableLength;
using testing::V5Header;
using testing::V5Record;
using Bytes = std::vector<uint8_t>;
using Decode = DecodeStatus (DecoderHarness::*)(const Bytes&);

// Decodes `bad` and expects it dropped as `want` (that counter, and no other, up by one), then
// decodes `good` in the same harness and expects `records` more records.
void drop_then_recover(DecoderHarness& h, Decode decode, const Bytes& bad, DecodeStatus want,
                       const Bytes& good, uint64_t records) {
  const decode::DecodeCounters before = h.counters;
  EXPECT_EQ((h.*decode)(bad), want) << "wanted " << decode::decode_status_name(want);
  EXPECT_TRUE(h.contract_ok);
  EXPECT_EQ(h.counters.error(want), before.error(want) + 1);
  EXPECT_EQ(h.counters.total_errors(), before.total_errors() + 1);
  const uint64_t rows = h.size();
  EXPECT_EQ((h.*decode)(good), DecodeStatus::kOk);
  EXPECT_EQ(h.size(), rows + records);
}

// ---- NetFlow v5 ----

Bytes v5(uint16_t records, int32_t count = -1) {
  V5Header h;
  h.count = count;
  h.unix_secs = 1'700'000'000;
  std::vector<V5Record> rs(records);
  for (V5Record& r : rs) {
    r.src = 0x0a000001;
    r.dst = 0x0a000002;
    r.packets = 1;
    r.bytes = 60;
  }
  return testing::netflow5(h, rs);
}

TEST(MalformedInput, Netflow5TruncatedHeader) {
  DecoderHarness h;
  Bytes d = v5(1);
  d.resize(23);  // the header is 24 bytes
  drop_then_recover(h, &DecoderHarness::netflow5, d, DecodeStatus::kTruncated, v5(2), 2);
}

TEST(MalformedInput, Netflow5CountPastTheDatagram) {
  DecoderHarness h;
  drop_then_recover(h, &DecoderHarness::netflow5, v5(2, 5), DecodeStatus::kTruncated, v5(1), 1);
  Bytes cut = v5(2);
  cut.pop_back();  // the second record one byte short
  drop_then_recover(h, &DecoderHarness::netflow5, cut, DecodeStatus::kTruncated, v5(1), 1);
}

TEST(MalformedInput, Netflow5CountZeroOrOverThirty) {
  DecoderHarness h;
  drop_then_recover(h, &DecoderHarness::netflow5, v5(0), DecodeStatus::kBadCount, v5(1), 1);
  drop_then_recover(h, &DecoderHarness::netflow5, v5(31), DecodeStatus::kBadCount, v5(1), 1);
  drop_then_recover(h, &DecoderHarness::netflow5, v5(1, 0xffff), DecodeStatus::kBadCount, v5(1),
                    1);
}

// ---- NetFlow v9 ----

FlowDatagram v9() { return testing::v9::datagram(); }

// A valid template (source address, source port) and two records of it.
Bytes v9_good() {
  ByteWriter r;
  r.ipv4(10, 0, 0, 1).u16(1000).ipv4(10, 0, 0, 2).u16(1001);
  return v9().template_set(300, {{8, 4}, {7, 2}}).data_set(300, r).build();
}

TEST(MalformedInput, Netflow9TruncatedHeader) {
  DecoderHarness h;
  Bytes d = v9_good();
  d.resize(19);  // the header is 20 bytes
  drop_then_recover(h, &DecoderHarness::netflow9, d, DecodeStatus::kTruncated, v9_good(), 2);
}

TEST(MalformedInput, Netflow9FlowsetLengthZeroUnderFourOrPastTheEnd) {
  DecoderHarness h;
  for (uint16_t length : {0, 3, 200}) {
    SCOPED_TRACE(length);
    // A flowset header whose length is wrong, followed by non-zero bytes (zeros are padding).
    Bytes d = v9().raw({0x01, 0x2c, static_cast<uint8_t>(length >> 8),
                        static_cast<uint8_t>(length), 1, 2, 3, 4})
                  .build();
    drop_then_recover(h, &DecoderHarness::netflow9, d, DecodeStatus::kBadSetLength, v9_good(), 2);
  }
}

TEST(MalformedInput, Netflow9TemplateWithZeroFields) {
  DecoderHarness h;
  ByteWriter t;
  t.u16(301).u16(0);
  drop_then_recover(h, &DecoderHarness::netflow9, v9().set(0, t).build(),
                    DecodeStatus::kBadTemplate, v9_good(), 2);
}

TEST(MalformedInput, Netflow9TemplateFieldsOfLengthZeroOnly) {
  // Zero-length fields carry nothing; a template of only those would make a record of 0 bytes
  // and a data set that never ends.
  DecoderHarness h;
  drop_then_recover(h, &DecoderHarness::netflow9,
                    v9().template_set(301, {{8, 0}, {7, 0}}).build(), DecodeStatus::kBadTemplate,
                    v9_good(), 2);
}

TEST(MalformedInput, Netflow9TemplateFieldCountPastTheFlowset) {
  DecoderHarness h;
  ByteWriter t;
  t.u16(301).u16(40).u16(8).u16(4);  // 40 fields announced, one present
  drop_then_recover(h, &DecoderHarness::netflow9, v9().set(0, t).build(),
                    DecodeStatus::kBadTemplate, v9_good(), 2);
}

TEST(MalformedInput, Netflow9FieldLength65535IsAVariableLengthFieldRunningPastItsSet) {
  // NetFlow v9 has no variable-length encoding, but 65535 is read as IPFIX's (exporters that
  // reuse an IPFIX template builder send it): a length prefix past the set is a bad record.
  DecoderHarness h;
  ByteWriter r;
  r.u8(200).u8(1);  // says 200 bytes, carries 1
  const Bytes d =
      v9().template_set(302, {{82, kVariableLength}}).data_set(302, r).build();
  drop_then_recover(h, &DecoderHarness::netflow9, d, DecodeStatus::kBadRecord, v9_good(), 2);
}

// ---- IPFIX ----

FlowDatagram ipfix() { return FlowDatagram::ipfix(1'700'000'000, 7, 1); }

Bytes ipfix_good() {
  ByteWriter r;
  r.ipv4(10, 0, 0, 1).u16(1000).ipv4(10, 0, 0, 2).u16(1001);
  return ipfix().template_set(300, {{8, 4}, {7, 2}}).data_set(300, r).build();
}

TEST(MalformedInput, IpfixTruncatedHeader) {
  DecoderHarness h;
  Bytes d = ipfix_good();
  d.resize(15);  // the header is 16 bytes
  drop_then_recover(h, &DecoderHarness::ipfix, d, DecodeStatus::kTruncated, ipfix_good(), 2);
}

TEST(MalformedInput, IpfixMessageLengthPastOrShortOfTheDatagram) {
  DecoderHarness h;
  for (uint16_t length : {0, 15, 0xffff}) {
    SCOPED_TRACE(length);
    Bytes d = ipfix_good();
    d[2] = static_cast<uint8_t>(length >> 8);
    d[3] = static_cast<uint8_t>(length);
    drop_then_recover(h, &DecoderHarness::ipfix, d, DecodeStatus::kBadLength, ipfix_good(), 2);
  }
}

TEST(MalformedInput, IpfixSetLengthZeroUnderFourOrPastTheMessage) {
  DecoderHarness h;
  for (uint16_t length : {0, 2, 300}) {
    SCOPED_TRACE(length);
    const Bytes d = ipfix()
                        .raw({0x01, 0x2c, static_cast<uint8_t>(length >> 8),
                              static_cast<uint8_t>(length), 1, 2, 3, 4})
                        .build();
    drop_then_recover(h, &DecoderHarness::ipfix, d, DecodeStatus::kBadSetLength, ipfix_good(), 2);
  }
}

TEST(MalformedInput, IpfixTemplateFieldsOfLengthZeroOnly) {
  DecoderHarness h;
  drop_then_recover(h, &DecoderHarness::ipfix,
                    ipfix().template_set(301, {{8, 0}, {7, 0}, {4, 0}}).build(),
                    DecodeStatus::kBadTemplate, ipfix_good(), 2);
}

TEST(MalformedInput, IpfixTemplateIdUnder256) {
  // Field count 0 is a withdrawal (RFC 7011 §8.1), so "zero fields" is only malformed with an
  // ID that no template may have.
  DecoderHarness h;
  ByteWriter t;
  t.u16(17).u16(0);
  drop_then_recover(h, &DecoderHarness::ipfix, ipfix().set(2, t).build(),
                    DecodeStatus::kBadTemplate, ipfix_good(), 2);
}

TEST(MalformedInput, IpfixVariableLength255WithA16BitLengthPastTheSet) {
  // RFC 7011 §7: 255 in the first length byte means a 16-bit length follows.
  DecoderHarness h;
  ByteWriter r;
  r.u16(1000).u8(255).u16(0xffff).bytes({1, 2, 3});
  const Bytes d =
      ipfix().template_set(303, {{7, 2}, {82, kVariableLength}}).data_set(303, r).build();
  drop_then_recover(h, &DecoderHarness::ipfix, d, DecodeStatus::kBadRecord, ipfix_good(), 2);
  ByteWriter cut;  // 255, then the set ends inside the 16-bit length
  cut.u16(1000).u8(255).u8(0);
  drop_then_recover(h, &DecoderHarness::ipfix, ipfix().data_set(303, cut).build(),
                    DecodeStatus::kBadRecord, ipfix_good(), 2);
}

TEST(MalformedInput, IpfixFixedFieldLength65534MakesARecordNoSetCanHold) {
  // The template is legal; a data set too short for one record is padding (RFC 7011 §3.3.1),
  // so nothing decodes and nothing is an error — until a set has bytes of a record it cannot
  // hold, which cannot happen below 65535 bytes. What matters here: no record, no crash.
  DecoderHarness h;
  ByteWriter r;
  r.zeros(64);
  const Bytes d = ipfix().template_set(304, {{82, 65534}}).data_set(304, r).build();
  EXPECT_EQ(h.ipfix(d), DecodeStatus::kOk);
  EXPECT_EQ(h.size(), 0u);
  EXPECT_EQ(h.ipfix(ipfix_good()), DecodeStatus::kOk);
  EXPECT_EQ(h.size(), 2u);
}

// ---- sFlow v5 ----

// A flow_record of a raw packet header: Ethernet, IPv4, UDP.
Bytes sflow_raw_header() {
  ByteWriter pkt;
  pkt.bytes({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00});
  pkt.u8(0x45).u8(0).u16(28).u16(1).u16(0).u8(64).u8(17).u16(0);
  pkt.ipv4(10, 0, 0, 1).ipv4(10, 0, 0, 2);
  pkt.u16(1000).u16(53).u16(8).u16(0);
  ByteWriter body;
  body.u32(1).u32(64).u32(0).u32(static_cast<uint32_t>(pkt.size())).bytes(pkt.data());
  while (body.size() % 4 != 0) body.u8(0);
  ByteWriter rec;
  rec.u32(1).u32(static_cast<uint32_t>(body.size())).bytes(body.data());
  return rec.data();
}

// A flow_sample (format 1) holding `records`.
Bytes sflow_flow_sample(const std::vector<Bytes>& records) {
  ByteWriter body;
  body.u32(1).u32(3).u32(100).u32(1).u32(0).u32(3).u32(7);
  body.u32(static_cast<uint32_t>(records.size()));
  for (const Bytes& r : records) body.bytes(r);
  ByteWriter s;
  s.u32(1).u32(static_cast<uint32_t>(body.size())).bytes(body.data());
  return s.data();
}

Bytes sflow(const std::vector<Bytes>& samples, uint32_t count = UINT32_MAX) {
  ByteWriter w;
  w.u32(5).u32(1).ipv4(192, 0, 2, 99).u32(0).u32(1).u32(1000);
  w.u32(count != UINT32_MAX ? count : static_cast<uint32_t>(samples.size()));
  for (const Bytes& s : samples) w.bytes(s);
  return w.data();
}

Bytes sflow_good() { return sflow({sflow_flow_sample({sflow_raw_header()})}); }

void put32(Bytes& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

// Offsets in sflow_good(): the sample's length word, the first record's length word, and the
// raw header's header-length word.
constexpr size_t kSampleLength = 28 + 4;
constexpr size_t kRecordLength = kSampleLength + 4 + 32 + 4;
constexpr size_t kHeaderLength = kRecordLength + 4 + 12;

TEST(MalformedInput, SflowTruncatedHeader) {
  DecoderHarness h;
  Bytes d = sflow_good();
  d.resize(27);
  drop_then_recover(h, &DecoderHarness::any, d, DecodeStatus::kTruncated, sflow_good(), 1);
}

TEST(MalformedInput, SflowSampleCountPastTheDatagram) {
  DecoderHarness h;
  drop_then_recover(h, &DecoderHarness::any, sflow({}, 0xffffffffu - 1), DecodeStatus::kTruncated,
                    sflow_good(), 1);
}

TEST(MalformedInput, SflowSampleLengthPastTheDatagramOrWrapping) {
  DecoderHarness h;
  for (uint32_t length : {200u, 0xffffffffu, 0xfffffffcu, 0x80000000u}) {
    SCOPED_TRACE(length);
    Bytes d = sflow_good();
    put32(d, kSampleLength, length);
    drop_then_recover(h, &DecoderHarness::any, d, DecodeStatus::kBadSample, sflow_good(), 1);
  }
}

TEST(MalformedInput, SflowRecordLengthPastTheSampleOrWrapping) {
  DecoderHarness h;
  for (uint32_t length : {100u, 0xffffffffu, 0xfffffffcu, 0xffffffe0u}) {
    SCOPED_TRACE(length);
    Bytes d = sflow_good();
    put32(d, kRecordLength, length);
    drop_then_recover(h, &DecoderHarness::any, d, DecodeStatus::kBadSample, sflow_good(), 1);
  }
}

TEST(MalformedInput, SflowHeaderLengthPastTheRecordOrWrapping) {
  DecoderHarness h;
  for (uint32_t length : {64u, 0xffffffffu, 0xfffffff0u}) {
    SCOPED_TRACE(length);
    Bytes d = sflow_good();
    put32(d, kHeaderLength, length);
    drop_then_recover(h, &DecoderHarness::any, d, DecodeStatus::kBadSample, sflow_good(), 1);
  }
}

TEST(MalformedInput, SflowRecordCountPastTheSample) {
  DecoderHarness h;
  Bytes d = sflow_good();
  put32(d, kSampleLength + 4 + 28, 0xffffffffu);
  drop_then_recover(h, &DecoderHarness::any, d, DecodeStatus::kBadSample, sflow_good(), 1);
}

TEST(MalformedInput, SflowUnknownAgentAddressType) {
  DecoderHarness h;
  Bytes d = sflow_good();
  put32(d, 4, 7);
  drop_then_recover(h, &DecoderHarness::any, d, DecodeStatus::kBadAddress, sflow_good(), 1);
}

}  // namespace
}  // namespace flowgate
