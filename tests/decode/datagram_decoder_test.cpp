// Protocol detection and dispatch (detect_flow_type, decode_datagram, decode_datagram_as), the
// FlowOutput refill contract, the DecodeStatus table (every status is produced by some input,
// each with exactly one error counter), and the decoders' contract over the whole corpus.

#include "decode/datagram_decoder.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "decode/flow_output.hpp"
#include "tests/support/byte_writer.hpp"
#include "tests/support/corpus.hpp"
#include "tests/support/datagram_split.hpp"
#include "tests/support/decoder_harness.hpp"
#include "tests/support/flow_wire.hpp"

namespace flowgate {
namespace {

using decode::DecodeStatus;
using decode::FlowBlock;
using decode::FlowOutput;
using decode::FlowType;
using decode::TemplateCacheLimits;
using testing::ByteWriter;
using testing::DecoderHarness;
using testing::field;
using testing::FlowDatagram;
using testing::V5Header;
using testing::V5Record;

std::span<const std::byte> bytes(const std::vector<uint8_t>& v) {
  return std::as_bytes(std::span(v));
}

std::vector<uint8_t> v5_datagram() {
  V5Record r;
  r.src = 0x0a000001;
  return testing::netflow5(V5Header{}, {r});
}

std::vector<uint8_t> v9_datagram() {
  ByteWriter r;
  r.u16(9);
  return FlowDatagram::netflow9(0, 1, 0).template_set(256, {{7, 2}}).data_set(256, r).build();
}

std::vector<uint8_t> ipfix_datagram() {
  ByteWriter r;
  r.u16(10);
  return FlowDatagram::ipfix(1, 0).template_set(256, {{7, 2}}).data_set(256, r).build();
}

// sFlow v5 (sflow_version_5.txt): version, IPv4 agent, sub-agent, sequence, uptime, samples.
ByteWriter sflow_header(uint32_t agent_type, uint32_t samples) {
  ByteWriter w;
  w.u32(5).u32(agent_type).ipv4(192, 0, 2, 9).u32(0).u32(1).u32(0).u32(samples);
  return w;
}

TEST(DatagramDecoder, DetectsTheProtocolFromTheVersion) {
  EXPECT_EQ(decode::detect_flow_type(bytes(v5_datagram())), FlowType::kNetflow5);
  EXPECT_EQ(decode::detect_flow_type(bytes(v9_datagram())), FlowType::kNetflow9);
  EXPECT_EQ(decode::detect_flow_type(bytes(ipfix_datagram())), FlowType::kIpfix);
  EXPECT_EQ(decode::detect_flow_type(bytes(sflow_header(1, 0).data())), FlowType::kSflow5);
  EXPECT_EQ(decode::detect_flow_type(bytes({0, 5})), FlowType::kNetflow5);
  EXPECT_EQ(decode::detect_flow_type(bytes({0, 0, 0, 4})), FlowType::kUnknown);  // sFlow v4
  EXPECT_EQ(decode::detect_flow_type(bytes({0, 0, 0})), FlowType::kUnknown);
  EXPECT_EQ(decode::detect_flow_type(bytes({0, 1, 0, 0})), FlowType::kUnknown);
  EXPECT_EQ(decode::detect_flow_type(bytes({5, 0})), FlowType::kUnknown);
  EXPECT_EQ(decode::detect_flow_type(bytes({0})), FlowType::kUnknown);
  EXPECT_EQ(decode::detect_flow_type(bytes({})), FlowType::kUnknown);
}

TEST(DatagramDecoder, DispatchesToTheMatchingDecoder) {
  DecoderHarness h;
  ASSERT_EQ(h.any(v5_datagram()), DecodeStatus::kOk);
  ASSERT_EQ(h.any(v9_datagram()), DecodeStatus::kOk);
  ASSERT_EQ(h.any(ipfix_datagram()), DecodeStatus::kOk);
  ASSERT_EQ(h.any(sflow_header(1, 0).data()), DecodeStatus::kOk);
  EXPECT_EQ(h.counters.datagrams, 4u);
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(field(h, 0, &FlowBlock::flow_type), FlowType::kNetflow5);
  EXPECT_EQ(field(h, 1, &FlowBlock::flow_type), FlowType::kNetflow9);
  EXPECT_EQ(field(h, 1, &FlowBlock::src_port), 9);
  EXPECT_EQ(field(h, 2, &FlowBlock::flow_type), FlowType::kIpfix);
  EXPECT_EQ(field(h, 2, &FlowBlock::src_port), 10);
}

TEST(DatagramDecoder, UnknownVersionIsCountedAsBadVersion) {
  DecoderHarness h;
  EXPECT_EQ(h.any({0, 7, 1, 2, 3, 4}), DecodeStatus::kBadVersion);
  EXPECT_TRUE(h.contract_ok);
  EXPECT_EQ(h.any({}), DecodeStatus::kBadVersion);
  EXPECT_TRUE(h.contract_ok);
  EXPECT_EQ(h.counters.error(DecodeStatus::kBadVersion), 2u);
  EXPECT_EQ(h.counters.datagrams, 2u);
}

TEST(DatagramDecoder, ListenerOfAFixedTypeRejectsOtherProtocols) {
  DecoderHarness h;
  const std::vector<uint8_t> v9 = v9_datagram();
  decode::DecodeCounters& c = h.counters;
  auto as = [&](FlowType t, const std::vector<uint8_t>& d) {
    return decode::decode_datagram_as(t, bytes(d), h.meta, h.templates, h.out.output(), c);
  };
  EXPECT_EQ(as(FlowType::kIpfix, v9), DecodeStatus::kBadVersion);
  EXPECT_EQ(as(FlowType::kNetflow5, v9), DecodeStatus::kBadVersion);
  EXPECT_EQ(as(FlowType::kSflow5, v9), DecodeStatus::kBadVersion);
  EXPECT_EQ(as(FlowType::kUnknown, v9), DecodeStatus::kBadVersion);
  EXPECT_EQ(c.error(DecodeStatus::kBadVersion), 4u);
  EXPECT_EQ(c.datagrams, 4u);
  EXPECT_EQ(as(FlowType::kNetflow9, v9), DecodeStatus::kOk);
  EXPECT_EQ(h.size(), 1u);
}

// ---- every DecodeStatus is reachable, with exactly one error counter ----

struct StatusCase {
  DecodeStatus status;
  TemplateCacheLimits limits;
  std::vector<std::vector<uint8_t>> datagrams;  // the last one yields `status`
  std::vector<uint16_t> ports;                  // exporter port per datagram (default 4444)
};

std::vector<StatusCase> status_cases() {
  std::vector<StatusCase> cases;
  cases.push_back({DecodeStatus::kOk, {}, {v5_datagram()}, {}});
  {
    std::vector<uint8_t> d = v5_datagram();
    d.resize(30);
    cases.push_back({DecodeStatus::kTruncated, {}, {d}, {}});
  }
  cases.push_back({DecodeStatus::kBadVersion, {}, {{0, 8, 0, 0, 0, 0, 0, 0}}, {}});
  {
    V5Header h;
    h.count = 0;
    cases.push_back({DecodeStatus::kBadCount, {}, {testing::netflow5(h, {})}, {}});
  }
  cases.push_back(
      {DecodeStatus::kBadLength, {}, {FlowDatagram::ipfix(1, 0).length(17).build()}, {}});
  cases.push_back({DecodeStatus::kBadSetLength,
                   {},
                   {FlowDatagram::netflow9(0, 1, 0).raw({1, 0, 0, 2, 9, 9}).build()},
                   {}});
  cases.push_back({DecodeStatus::kBadTemplate,
                   {},
                   {FlowDatagram::netflow9(0, 1, 0).template_set(1, {{7, 2}}).build()},
                   {}});
  {
    TemplateCacheLimits l;
    l.max_templates_per_exporter = 0;
    cases.push_back({DecodeStatus::kTemplateLimit,
                     l,
                     {FlowDatagram::ipfix(1, 0).template_set(256, {{7, 2}}).build()},
                     {}});
  }
  {
    TemplateCacheLimits l;
    l.pending_bytes_per_exporter = 0;
    ByteWriter r;
    r.u16(1);
    cases.push_back({DecodeStatus::kUnknownTemplate,
                     l,
                     {FlowDatagram::ipfix(1, 0).data_set(256, r).build()},
                     {}});
  }
  {
    TemplateCacheLimits l;
    l.max_exporters = 1;
    // The first exporter holds a template, so the second one cannot take its place.
    const std::vector<uint8_t> t =
        FlowDatagram::netflow9(0, 1, 0).template_set(256, {{7, 2}}).build();
    const std::vector<uint8_t> d = FlowDatagram::netflow9(0, 1, 0).build();
    cases.push_back({DecodeStatus::kExporterLimit, l, {t, d}, {1, 2}});
  }
  {
    ByteWriter r;
    r.u8(9).u8(1);
    cases.push_back({DecodeStatus::kBadRecord,
                     {},
                     {FlowDatagram::ipfix(1, 0)
                          .template_set(256, {{82, testing::kVariableLength}})
                          .data_set(256, r)
                          .build()},
                     {}});
  }
  {
    ByteWriter s = sflow_header(1, 1);
    s.u32(1).u32(1000).zeros(8);  // a flow sample that says 1000 bytes, 8 remain
    cases.push_back({DecodeStatus::kBadSample, {}, {s.data()}, {}});
  }
  cases.push_back({DecodeStatus::kBadAddress, {}, {sflow_header(3, 0).data()}, {}});
  return cases;
}

TEST(DecodeStatus, EveryStatusIsProducedWithExactlyOneErrorCounter) {
  std::set<DecodeStatus> produced;
  for (const StatusCase& c : status_cases()) {
    SCOPED_TRACE(std::string(decode::decode_status_name(c.status)));
    DecoderHarness h(c.limits);
    DecodeStatus s = DecodeStatus::kOk;
    for (size_t i = 0; i < c.datagrams.size(); ++i) {
      h.meta.exporter_port = i < c.ports.size() ? c.ports[i] : 4444;
      s = h.any(c.datagrams[i]);
      EXPECT_TRUE(h.contract_ok);
    }
    EXPECT_EQ(s, c.status);
    EXPECT_EQ(h.counters.total_errors(), c.status == DecodeStatus::kOk ? 0u : 1u);
    if (c.status != DecodeStatus::kOk) {
      EXPECT_EQ(h.counters.error(c.status), 1u);
    }
    produced.insert(s);
  }
  for (size_t i = 0; i < static_cast<size_t>(DecodeStatus::kCount); ++i) {
    const auto s = static_cast<DecodeStatus>(i);
    EXPECT_TRUE(produced.count(s)) << decode::decode_status_name(s) << " is never produced";
  }
}

TEST(DecodeStatus, NamesAreDistinctAndNonEmpty) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < static_cast<size_t>(DecodeStatus::kCount); ++i) {
    const std::string_view n = decode::decode_status_name(static_cast<DecodeStatus>(i));
    EXPECT_FALSE(n.empty());
    EXPECT_FALSE(decode::kDecodeStatusHelp[i].empty());
    EXPECT_TRUE(names.insert(n).second) << n;
  }
  EXPECT_EQ(decode::decode_status_name(DecodeStatus::kOk), "ok");
}

TEST(DecodeCounters, AddSumsEveryCounter) {
  decode::DecodeCounters a, b;
  a.count(DecodeStatus::kTruncated);
  b.count(DecodeStatus::kTruncated);
  b.count(DecodeStatus::kBadRecord);
  b.count(DecodeStatus::kOk);
  a.records = 3;
  b.records = 4;
  b.pending_dropped = 2;
  a.add(b);
  EXPECT_EQ(a.error(DecodeStatus::kTruncated), 2u);
  EXPECT_EQ(a.error(DecodeStatus::kBadRecord), 1u);
  EXPECT_EQ(a.error(DecodeStatus::kOk), 0u);
  EXPECT_EQ(a.total_errors(), 3u);
  EXPECT_EQ(a.records, 7u);
  EXPECT_EQ(a.pending_dropped, 2u);
}

// ---- FlowOutput ----

struct RefillLog {
  std::vector<FlowBlock*> given;  // blocks handed back by the output
  std::vector<FlowBlock*> spare;  // blocks to hand out, last first
  static FlowBlock* refill(void* ctx, FlowBlock* full) noexcept {
    auto* self = static_cast<RefillLog*>(ctx);
    self->given.push_back(full);
    if (self->spare.empty()) return nullptr;
    FlowBlock* b = self->spare.back();
    self->spare.pop_back();
    return b;
  }
};

TEST(FlowOutput, NextRowAppendsAZeroedRow) {
  auto block = std::make_unique<FlowBlock>();
  block->append_row_uninit();
  block->bytes[1] = 99;  // stale data from an earlier use of the block
  block->flow_type[1] = FlowType::kIpfix;
  block->src_addr[1] = testing::ipv4(1, 2, 3, 4);
  FlowOutput out(block.get(), nullptr, nullptr);
  EXPECT_EQ(out.next_row(), 1u);
  EXPECT_EQ(block->size, 2u);
  EXPECT_EQ(block->bytes[1], 0u);
  EXPECT_EQ(block->flow_type[1], FlowType::kUnknown);
  EXPECT_TRUE(block->src_addr[1].is_zero());
  EXPECT_EQ(out.next_row_uninit(), 2u);
  EXPECT_EQ(block->size, 3u);
}

TEST(FlowOutput, AFullBlockIsHandedToRefillForAnEmptyOne) {
  auto first = std::make_unique<FlowBlock>();
  auto second = std::make_unique<FlowBlock>();
  RefillLog log;
  log.spare = {second.get()};
  FlowOutput out(first.get(), &RefillLog::refill, &log);
  for (uint32_t i = 0; i < FlowBlock::kCapacity; ++i) ASSERT_EQ(out.next_row(), i);
  EXPECT_TRUE(log.given.empty());
  EXPECT_EQ(out.next_row(), 0u);
  ASSERT_EQ(log.given.size(), 1u);
  EXPECT_EQ(log.given[0], first.get());
  EXPECT_EQ(out.block(), second.get());
  EXPECT_EQ(second->size, 1u);
}

TEST(FlowOutput, NoRowWhenRefillHasNoBlock) {
  auto first = std::make_unique<FlowBlock>();
  RefillLog log;
  FlowOutput out(first.get(), &RefillLog::refill, &log);
  for (uint32_t i = 0; i < FlowBlock::kCapacity; ++i) ASSERT_NE(out.next_row(), FlowOutput::kNoRow);
  EXPECT_EQ(out.next_row(), FlowOutput::kNoRow);
  EXPECT_EQ(out.next_row_uninit(), FlowOutput::kNoRow);
  EXPECT_EQ(out.block(), nullptr);
  // The full block was handed over once; later calls ask again with no block.
  ASSERT_EQ(log.given.size(), 2u);
  EXPECT_EQ(log.given[0], first.get());
  EXPECT_EQ(log.given[1], nullptr);
  EXPECT_EQ(first->size, FlowBlock::kCapacity);
}

TEST(FlowOutput, StartsWithoutABlockAndRefusesAFullRefill) {
  auto full = std::make_unique<FlowBlock>();
  full->size = FlowBlock::kCapacity;
  RefillLog log;
  log.spare = {full.get()};
  FlowOutput out(nullptr, &RefillLog::refill, &log);
  EXPECT_EQ(out.next_row(), FlowOutput::kNoRow);
  ASSERT_EQ(log.given.size(), 1u);
  EXPECT_EQ(log.given[0], nullptr);
  FlowOutput none(nullptr, nullptr, nullptr);
  EXPECT_EQ(none.next_row(), FlowOutput::kNoRow);
}

// ---- the corpus: no crash, and the one-counter contract on every capture ----

TEST(DatagramDecoder, EveryCorpusCaptureKeepsTheDecoderContract) {
  const std::filesystem::path dir = testing::corpus_dir();
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << "no corpus at " << dir;
  size_t files = 0, datagrams = 0;
  DecoderHarness shared;  // one shard across files, as a collector sees them
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    const std::string ext = entry.path().extension().string();
    if (!entry.is_regular_file() || (ext != ".dat" && ext != ".bin")) continue;
    ++files;
    const std::vector<uint8_t> content = testing::read_file(entry.path());
    DecoderHarness h;
    for (std::span<const uint8_t> d : testing::split_datagrams(content)) {
      const std::vector<uint8_t> one(d.begin(), d.end());
      h.any(one);
      EXPECT_TRUE(h.contract_ok) << entry.path();
      shared.any(one);
      EXPECT_TRUE(shared.contract_ok) << entry.path();
      ++datagrams;
    }
    EXPECT_EQ(h.counters.records, h.size()) << entry.path();
  }
  EXPECT_GT(files, 100u);
  EXPECT_GE(datagrams, files);
  EXPECT_GT(shared.counters.records, 400u);
}

}  // namespace
}  // namespace flowgate
