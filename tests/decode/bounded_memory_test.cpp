// Floods against one shard's caches: whatever an exporter (or a forger of source addresses)
// sends, the template cache and the exporter table stay within their caps, by their own
// accounting (entries and bytes, not RSS), and every refusal or eviction is counted.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "decode/datagram_decoder.hpp"
#include "decode/exporter_stats.hpp"
#include "decode/template_cache.hpp"
#include "tests/support/byte_writer.hpp"
#include "tests/support/collecting_output.hpp"
#include "tests/support/decoder_harness.hpp"
#include "tests/support/flow_wire.hpp"

namespace flowgate {
namespace {

using decode::DecodeStatus;
using testing::ByteWriter;
using testing::FlowDatagram;

constexpr uint32_t kFlood = 100'000;

// A NetFlow v9 datagram announcing `n` templates with IDs from `first` (wrapping within
// 256..65535) in source ID `domain`.
std::vector<uint8_t> templates(uint32_t first, uint32_t n, uint32_t domain) {
  FlowDatagram d = testing::v9::datagram(domain);
  for (uint32_t i = 0; i < n; ++i) {
    const auto id = static_cast<uint16_t>(256 + (first + i) % (65536 - 256));
    d.template_set(id, {{8, 4}, {12, 4}, {1, 4}, {2, 4}});
  }
  return d.build();
}

struct Shard {
  explicit Shard(const decode::TemplateCacheLimits& limits = {}) : cache(limits), stats(1024) {
    meta.exporter = testing::ipv4(192, 0, 2, 1);
    meta.exporter_port = 2055;
    meta.receive_ns = testing::DecoderHarness::kReceiveNs;
  }
  DecodeStatus decode(const std::vector<uint8_t>& d) {
    return decode::decode_datagram(std::as_bytes(std::span(d)), meta, cache, out.output(),
                                   counters, nullptr, &stats);
  }
  decode::TemplateCache cache;
  decode::ExporterStats stats;
  testing::CollectingOutput out;
  decode::DecodeCounters counters;
  decode::DatagramMeta meta;
};

TEST(BoundedMemory, TemplateIdFloodFromOneExporterStaysWithinItsCap) {
  Shard s;
  const uint64_t bytes = s.cache.memory_bytes();
  const uint32_t cap = s.cache.limits().max_templates_per_exporter;
  // 100k distinct (source ID, template ID) pairs, 50 template records per datagram.
  for (uint32_t i = 0; i < kFlood; i += 50) s.decode(templates(i, 50, i / 65000));
  EXPECT_EQ(s.cache.template_count(), cap);
  EXPECT_EQ(s.counters.templates_added, cap);
  // Every datagram past the cap is refused and counted once.
  EXPECT_EQ(s.counters.error(DecodeStatus::kTemplateLimit), kFlood / 50 - cap / 50);
  EXPECT_EQ(s.cache.memory_bytes(), bytes);
}

TEST(BoundedMemory, TemplateFloodFromManyExportersStaysWithinTheCacheCap) {
  Shard s;
  const uint64_t bytes = s.cache.memory_bytes();
  for (uint32_t e = 0; e < 1000; ++e) {
    s.meta.exporter = decode::IpAddress::from_v4(0x0a000000u + e);
    for (uint32_t i = 0; i < 100; i += 50) s.decode(templates(i, 50, 0));
  }
  EXPECT_EQ(s.cache.template_count(), s.cache.limits().max_templates);
  EXPECT_EQ(s.counters.templates_added, s.cache.limits().max_templates);
  EXPECT_GT(s.counters.error(DecodeStatus::kTemplateLimit), 0u);
  EXPECT_EQ(s.cache.memory_bytes(), bytes);
}

TEST(BoundedMemory, ExporterFloodStaysWithinTheExporterTables) {
  Shard s;
  const uint64_t cache_bytes = s.cache.memory_bytes();
  const uint64_t stats_bytes = s.stats.memory_bytes();
  const std::vector<uint8_t> d = templates(0, 1, 0);
  for (uint32_t e = 0; e < kFlood; ++e) {
    s.meta.exporter = decode::IpAddress::from_v4(0x0a000000u + e);
    s.decode(d);
  }
  const uint32_t max = s.cache.limits().max_exporters;
  EXPECT_EQ(s.cache.exporter_count(), max);
  EXPECT_EQ(s.counters.error(DecodeStatus::kExporterLimit), kFlood - max);
  EXPECT_EQ(s.cache.template_count(), max);
  // The stream table keeps its first `capacity` streams and sums the rest into "other".
  EXPECT_EQ(s.stats.size(), s.stats.capacity());
  EXPECT_EQ(s.stats.overflow(), kFlood - s.stats.capacity());
  EXPECT_EQ(s.cache.memory_bytes(), cache_bytes);
  EXPECT_EQ(s.stats.memory_bytes(), stats_bytes);
  RecordProperty("template_cache_bytes", std::to_string(cache_bytes));
  RecordProperty("exporter_stats_bytes", std::to_string(stats_bytes));
}

TEST(BoundedMemory, PendingDataFloodFromManyExportersStaysWithinTheArena) {
  decode::TemplateCacheLimits limits;
  limits.max_exporters = 20'000;
  Shard s(limits);
  const uint64_t bytes = s.cache.memory_bytes();
  ByteWriter records;
  for (int i = 0; i < 50; ++i) records.u32(0x0a000001).u32(0x0a000002).u32(1500).u32(3);
  // Data for templates nobody announced: 10k exporters, 10 data sets of 800 bytes each.
  uint64_t sent = 0;
  for (uint32_t e = 0; e < 10'000; ++e) {
    s.meta.exporter = decode::IpAddress::from_v4(0x0b000000u + e);
    for (uint16_t t = 0; t < 10; ++t, ++sent) {
      s.decode(testing::v9::datagram().data_set(static_cast<uint16_t>(300 + t), records).build());
    }
  }
  EXPECT_LE(s.cache.pending_live(), limits.max_pending_sets);
  uint64_t held = 0;
  for (uint32_t e = 0; e < s.cache.exporter_count(); ++e) held += s.cache.exporter(e).pending_bytes;
  EXPECT_LE(held, limits.pending_bytes);
  EXPECT_GT(s.counters.pending_dropped, 0u);
  // Every data set is held, or was evicted (counted), or is still held: none unaccounted.
  EXPECT_EQ(s.counters.pending_buffered, sent);
  EXPECT_EQ(s.counters.pending_buffered, s.counters.pending_dropped + s.cache.pending_live());
  EXPECT_EQ(s.cache.memory_bytes(), bytes);
}

TEST(BoundedMemory, PendingDataFromOneExporterStopsAtItsShare) {
  Shard s;
  ByteWriter records;
  for (int i = 0; i < 50; ++i) records.u32(0x0a000001).u32(0x0a000002).u32(1500).u32(3);
  for (uint32_t i = 0; i < 1000; ++i) {
    s.decode(testing::v9::datagram().data_set(static_cast<uint16_t>(300 + i), records).build());
  }
  EXPECT_LE(s.cache.exporter(0).pending_bytes, s.cache.limits().pending_bytes_per_exporter);
  EXPECT_EQ(s.counters.pending_buffered + s.counters.error(DecodeStatus::kUnknownTemplate), 1000u);
  EXPECT_GT(s.counters.error(DecodeStatus::kUnknownTemplate), 0u);
}

TEST(BoundedMemory, StaleTemplatesExpireAndFreeTheirSlots) {
  decode::TemplateCacheLimits limits;
  limits.template_ttl_ns = 60ull * 1'000'000'000;
  Shard s(limits);
  for (uint32_t i = 0; i < 500; i += 50) s.decode(templates(i, 50, 0));
  ASSERT_EQ(s.cache.template_count(), 500u);
  const uint64_t t0 = s.meta.receive_ns;
  EXPECT_EQ(s.cache.expire_templates(t0 + limits.template_ttl_ns - 1), 0u);
  s.meta.receive_ns = t0 + limits.template_ttl_ns / 2;
  s.decode(templates(0, 50, 0));  // re-sent: refreshed
  EXPECT_EQ(s.cache.expire_templates(t0 + limits.template_ttl_ns), 450u);
  EXPECT_EQ(s.cache.template_count(), 50u);
  // The freed slots take new templates.
  s.meta.exporter = testing::ipv4(192, 0, 2, 2);
  for (uint32_t i = 0; i < 450; i += 50) s.decode(templates(i, 50, 0));
  EXPECT_EQ(s.cache.template_count(), 500u);
}

}  // namespace
}  // namespace flowgate
