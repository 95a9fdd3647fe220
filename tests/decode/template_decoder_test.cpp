// The template machinery NetFlow v9 and IPFIX share: compile_template() (definition hash,
// record length, skip merging, which templates decode column by column), and the equivalence of
// the two data paths: a fixed-layout template is decoded column by column (decode_columnar),
// any other record by record. Random templates over every mapped field are decoded both ways
// (the same template plus one empty variable-length field forces the record path) and every
// column of every row must agree.

#include "decode/template_decoder.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "decode/flow_block.hpp"
#include "tests/support/byte_writer.hpp"
#include "tests/support/decoder_harness.hpp"
#include "tests/support/flow_wire.hpp"

namespace flowgate {
namespace {

using decode::CompiledTemplate;
using decode::DecodeCounters;
using decode::DecodeStatus;
using decode::FlowBlock;
using decode::RawField;
using testing::ByteWriter;
using testing::DecoderHarness;
using testing::FlowDatagram;
using testing::WireField;

DecodeStatus compile(std::vector<RawField> fields, CompiledTemplate& out, bool options = false) {
  DecodeCounters c;
  return decode::compile_template(256, fields, options, false, out, c);
}

TEST(CompileTemplate, SameDefinitionSameHashAnyChangeAnother) {
  CompiledTemplate a, b;
  ASSERT_EQ(compile({{8, 4}, {7, 2}}, a), DecodeStatus::kOk);
  ASSERT_EQ(compile({{8, 4}, {7, 2}}, b), DecodeStatus::kOk);
  EXPECT_EQ(a.definition_hash, b.definition_hash);
  const std::vector<std::vector<RawField>> others = {
      {{7, 2}, {8, 4}},                // order
      {{8, 4}, {7, 4}},                // a length
      {{8, 4}, {7, 2}, {1000, 0}},     // a zero-length field is still part of the definition
      {{8, 4}, {7, 2, true, false}},   // the enterprise bit
      {{8, 4}},                        // a field fewer
  };
  for (const auto& f : others) {
    ASSERT_EQ(compile(f, b), DecodeStatus::kOk);
    EXPECT_NE(a.definition_hash, b.definition_hash);
  }
  ASSERT_EQ(compile({{8, 4}, {7, 2}}, b, /*options=*/true), DecodeStatus::kOk);
  EXPECT_NE(a.definition_hash, b.definition_hash);
}

TEST(CompileTemplate, RecordLengthAndSkipMerging) {
  CompiledTemplate t;
  // Three unknown fields in a row become one skip step; the zero-length one adds nothing.
  ASSERT_EQ(compile({{8, 4}, {1000, 3}, {1001, 5}, {1002, 0}, {1003, 1}, {7, 2}}, t),
            DecodeStatus::kOk);
  EXPECT_EQ(t.min_record_length, 15u);
  EXPECT_EQ(t.step_count, 3u);
  EXPECT_FALSE(t.has_variable);
  EXPECT_FALSE(t.is_options);

  ASSERT_EQ(compile({{8, 4}, {82, 0xffff}, {7, 2}}, t), DecodeStatus::kOk);
  EXPECT_EQ(t.min_record_length, 7u);  // a variable-length field counts as its 1-byte prefix
  EXPECT_TRUE(t.has_variable);
  EXPECT_EQ(t.step_count, 3u);
}

TEST(CompileTemplate, RefusesTemplatesThatCannotDecode) {
  CompiledTemplate t;
  EXPECT_EQ(compile({{8, 0}, {7, 0}}, t), DecodeStatus::kBadTemplate);
  EXPECT_EQ(compile({}, t), DecodeStatus::kBadTemplate);
  std::vector<RawField> many(CompiledTemplate::kMaxSteps + 1, RawField{8, 4});
  EXPECT_EQ(compile(many, t), DecodeStatus::kTemplateLimit);
  many.pop_back();
  EXPECT_EQ(compile(many, t), DecodeStatus::kOk);
}

TEST(CompileTemplate, EnterpriseFieldsAreCounted) {
  CompiledTemplate t;
  DecodeCounters c;
  const std::vector<RawField> fields = {{1, 4, true, false}, {7, 2}, {2, 0xffff, true, false}};
  ASSERT_EQ(decode::compile_template(300, fields, false, false, t, c), DecodeStatus::kOk);
  EXPECT_EQ(c.enterprise_fields, 2u);
}

// ---- column-by-column and record-by-record decoding agree ----

struct PoolField {
  uint16_t id;
  std::vector<uint16_t> widths;
};

// Every mapped field at its usual widths plus reduced-size and unusable ones, and unknown ones.
const std::vector<PoolField>& field_pool() {
  static const std::vector<PoolField> pool = {
      {8, {4, 4, 2}}, {12, {4}}, {27, {16}}, {28, {16}}, {15, {4}}, {18, {4}}, {62, {16}},
      {63, {16}}, {7, {2, 1, 4}}, {11, {2, 3}}, {4, {1, 2}}, {5, {1}}, {6, {1, 2}},
      {10, {2, 4, 3}}, {14, {2, 4}}, {252, {4}}, {253, {4}}, {1, {4, 8, 5}}, {2, {4, 8, 2}},
      {85, {8}}, {86, {8}}, {23, {8, 4}}, {24, {8}}, {9, {1}}, {13, {1}}, {29, {1}}, {30, {1, 2}},
      {56, {6, 4}}, {80, {6}}, {81, {6}}, {57, {6}}, {61, {1, 2}}, {58, {2}}, {243, {2, 4}},
      {60, {1}}, {16, {2, 4}}, {17, {4}}, {21, {4, 8}}, {22, {4}}, {150, {4}}, {151, {4}},
      {152, {8}}, {153, {8, 6}}, {154, {8}}, {155, {8}}, {156, {8}}, {157, {8}}, {158, {4}},
      {159, {4}}, {160, {8}}, {34, {4, 2}}, {50, {4}}, {48, {1, 2}}, {302, {4}}, {305, {4}},
      {306, {4}}, {309, {4}}, {310, {4}}, {1000, {3}}, {200, {2}}, {0, {1}},
  };
  return pool;
}

struct RandomTemplate {
  std::vector<WireField> fields;
  uint32_t record_length = 0;
};

RandomTemplate random_template(std::mt19937& rng) {
  const auto& pool = field_pool();
  RandomTemplate t;
  const size_t n = 1 + rng() % 14;
  for (size_t i = 0; i < n; ++i) {
    const PoolField& f = pool[rng() % pool.size()];
    const uint16_t w = f.widths[rng() % f.widths.size()];
    t.fields.push_back({f.id, w, 0});
    t.record_length += w;
  }
  return t;
}

// Field values: often zero (absent addresses, unset times), often small, otherwise random.
void random_value(std::mt19937& rng, ByteWriter& w, uint16_t width) {
  const uint32_t kind = rng() % 4;
  for (uint16_t i = 0; i < width; ++i) {
    uint8_t b = 0;
    if (kind == 1) b = i + 1 == width ? static_cast<uint8_t>(rng() % 8) : 0;
    if (kind >= 2) b = static_cast<uint8_t>(rng());
    w.u8(b);
  }
}

// Initializer lists cannot be built at run time: the builders take them, so sets are written
// by hand here.
ByteWriter template_body(uint16_t id, const std::vector<WireField>& fields, bool ipfix,
                         bool extra_variable) {
  ByteWriter b;
  b.u16(id).u16(static_cast<uint16_t>(fields.size() + (extra_variable ? 1 : 0)));
  for (const WireField& f : fields) FlowDatagram::field(b, f);
  if (extra_variable) {
    // IPFIX: an enterprise field; v9: a vendor field of length 65535 (H3C's variable strings).
    if (ipfix) {
      FlowDatagram::field(b, {82, testing::kVariableLength, 9});
    } else {
      FlowDatagram::field(b, {0x8000 | 82, testing::kVariableLength, 0});
    }
  }
  return b;
}

decode::TemplateCacheLimits small_cache() {
  decode::TemplateCacheLimits l;
  l.max_exporters = 4;
  l.max_templates = 8;
  l.pending_bytes = 4096;
  return l;
}

// Options data both harnesses learn first: per-selector rates, a domain rate and a system
// init time, so that every sampling and time source is in play.
std::vector<uint8_t> options_datagram(bool ipfix, uint32_t domain) {
  ByteWriter o;
  for (uint32_t sel = 0; sel < 4; ++sel) {
    o.u32(domain).u32(sel).u32(10 * (sel + 1)).u64(1'600'000'000'000ull);
  }
  if (ipfix) {
    FlowDatagram d = FlowDatagram::ipfix(1'700'000'000, domain);
    d.options_template_set(400, {{149, 4}}, {{302, 4}, {34, 4}, {160, 8}});
    return d.data_set(400, o).build();
  }
  FlowDatagram d = FlowDatagram::netflow9(3'000'000, 1'700'000'000, domain);
  d.options_template_set(400, {{1, 4}}, {{48, 4}, {34, 4}, {160, 8}});
  return d.data_set(400, o).build();
}

std::string describe(const RandomTemplate& t) {
  std::string s;
  for (const WireField& f : t.fields) {
    s += std::to_string(f.id) + ":" + std::to_string(f.length) + " ";
  }
  return s;
}

void expect_same_rows(const DecoderHarness& a, const DecoderHarness& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto* ra = reinterpret_cast<const uint8_t*>(&a.block(i));
    const auto* rb = reinterpret_cast<const uint8_t*>(&b.block(i));
    for (size_t c = 0; c < decode::kFlowColumns.size(); ++c) {
      const decode::FlowColumn& col = decode::kFlowColumns[c];
      const size_t off_a = col.offset + size_t{a.row(i)} * col.size;
      const size_t off_b = col.offset + size_t{b.row(i)} * col.size;
      ASSERT_EQ(std::memcmp(ra + off_a, rb + off_b, col.size), 0)
          << what << "record " << i << ", column " << c << " (offset " << col.offset << ")";
    }
  }
}

void run_equivalence(bool ipfix, uint32_t seed, int trials) {
  std::mt19937 rng(seed);
  for (int trial = 0; trial < trials; ++trial) {
    const RandomTemplate t = random_template(rng);
    const uint32_t domain = rng() % 2;
    const bool learn_options = rng() % 2 == 0;
    const uint16_t records = static_cast<uint16_t>(1 + rng() % 30);
    ByteWriter fixed, variable;
    for (uint16_t r = 0; r < records; ++r) {
      ByteWriter rec;
      for (const WireField& f : t.fields) random_value(rng, rec, f.length);
      fixed.bytes(rec.data());
      variable.bytes(rec.data()).u8(0);  // the extra variable-length field, empty
    }
    const uint32_t uptime = rng();
    const uint32_t export_secs = 1'700'000'000 + rng() % 1000;

    DecoderHarness columnar(small_cache()), per_record(small_cache());
    for (DecoderHarness* h : {&columnar, &per_record}) {
      const bool extra = h == &per_record;
      if (learn_options) {
        const auto o = options_datagram(ipfix, domain);
        ASSERT_EQ(ipfix ? h->ipfix(o) : h->netflow9(o), DecodeStatus::kOk);
      }
      FlowDatagram d = ipfix ? FlowDatagram::ipfix(export_secs, domain, 5)
                             : FlowDatagram::netflow9(uptime, export_secs, domain, 5);
      d.set(ipfix ? 2 : 0, template_body(300, t.fields, ipfix, extra));
      d.data_set(300, extra ? variable : fixed);
      const std::vector<uint8_t> bytes = d.build();
      ASSERT_EQ(ipfix ? h->ipfix(bytes) : h->netflow9(bytes), DecodeStatus::kOk)
          << describe(t);
    }
    ASSERT_EQ(columnar.size(), records) << describe(t);
    expect_same_rows(columnar, per_record,
                     std::string(ipfix ? "IPFIX " : "v9 ") + "template " + describe(t));
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(TemplateDecoder, ColumnarAndRecordDecodingAgreeForIpfix) { run_equivalence(true, 1, 1000); }

TEST(TemplateDecoder, ColumnarAndRecordDecodingAgreeForNetflow9) {
  run_equivalence(false, 2, 1000);
}

TEST(TemplateDecoder, ColumnarDecodingAcrossABlockBoundaryAgrees) {
  // 1000 records already in the block: a 60-record set is split 24 + 36 over two blocks.
  const std::vector<WireField> fields = {{8, 4}, {27, 16}, {7, 2}, {1, 4}, {22, 4}, {21, 4},
                                         {48, 1}, {60, 1}, {61, 1}};
  std::mt19937 rng(3);
  ByteWriter fixed, variable;
  for (int r = 0; r < 60; ++r) {
    ByteWriter rec;
    for (const WireField& f : fields) random_value(rng, rec, f.length);
    fixed.bytes(rec.data());
    variable.bytes(rec.data()).u8(0);
  }
  DecoderHarness columnar, per_record;
  for (DecoderHarness* h : {&columnar, &per_record}) {
    const bool extra = h == &per_record;
    ByteWriter filler;
    for (int i = 0; i < 1000; ++i) filler.u16(static_cast<uint16_t>(i));
    ASSERT_EQ(h->ipfix(FlowDatagram::ipfix(1, 0).template_set(256, {{7, 2}}).data_set(256, filler)
                           .build()),
              DecodeStatus::kOk);
    FlowDatagram d = FlowDatagram::netflow9(123'456, 1'700'000'000, 0);
    d.set(0, template_body(300, fields, false, extra)).data_set(300, extra ? variable : fixed);
    ASSERT_EQ(h->netflow9(d.build()), DecodeStatus::kOk);
    ASSERT_EQ(h->size(), 1060u);
  }
  EXPECT_NE(&columnar.block(1023), &columnar.block(1024));
  expect_same_rows(columnar, per_record, "across blocks ");
}

}  // namespace
}  // namespace flowgate
