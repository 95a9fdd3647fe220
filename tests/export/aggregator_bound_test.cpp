// A flood of distinct flow keys through the aggregator: its table stays at max_keys (entries
// and bytes by its own accounting), the oldest keys are flushed early and counted, and no
// record is lost.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>

#include "decode/flow_block.hpp"
#include "decode/flow_output.hpp"
#include "export/aggregator.hpp"

namespace flowgate {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr uint64_t kKeys = 2'000'000;  // the ASan build is ~5x slower: a fifth, same caps
#else
constexpr uint64_t kKeys = 10'000'000;
#endif

// Counts what the aggregator writes and recycles the block.
struct CountingSink {
  decode::FlowBlock block;
  uint64_t records = 0;
  static decode::FlowBlock* refill(void* ctx, decode::FlowBlock* full) noexcept {
    auto* self = static_cast<CountingSink*>(ctx);
    if (full != nullptr) {
      self->records += full->size;
      full->clear();
    }
    return &self->block;
  }
  uint64_t total() const { return records + block.size; }
};

TEST(AggregatorBound, TenMillionDistinctKeysStayWithinMaxKeys) {
  exporter::AggregatorConfig config;
  config.max_keys = 200'000;  // the default of [aggregation] max_keys
  exporter::Aggregator agg(config);
  const uint64_t bytes = agg.memory_bytes();
  auto in = std::make_unique<decode::FlowBlock>();
  auto sink = std::make_unique<CountingSink>();
  decode::FlowOutput out(&sink->block, &CountingSink::refill, sink.get());
  const auto started = std::chrono::steady_clock::now();
  uint64_t now_ms = 1'700'000'000'000;
  uint32_t peak = 0;
  for (uint64_t k = 0; k < kKeys;) {
    in->clear();
    for (; k < kKeys && !in->full(); ++k) {
      const uint32_t r = in->append_row();
      in->src_addr[r] = decode::IpAddress::from_v4(0x0a000000u + static_cast<uint32_t>(k));
      in->dst_addr[r] = decode::IpAddress::from_v4(0xc0000201u);
      in->src_port[r] = 443;
      in->dst_port[r] = static_cast<uint16_t>(1024 + k % 60000);
      in->protocol[r] = 6;
      in->bytes[r] = 100;
      in->packets[r] = 1;
      in->flow_type[r] = decode::FlowType::kIpfix;
    }
    agg.add(*in, now_ms, out);
    peak = std::max(peak, agg.live());
    ++now_ms;  // well inside the flush interval: only the key cap makes room
  }
  EXPECT_EQ(peak, config.max_keys);
  EXPECT_EQ(agg.live(), config.max_keys);
  EXPECT_EQ(agg.flushed_early(), kKeys - config.max_keys);
  EXPECT_EQ(agg.memory_bytes(), bytes);
  agg.flush_all(out);
  EXPECT_EQ(sink->total(), kKeys) << "every key written once, early or at the end";
  EXPECT_EQ(agg.dropped(), 0u);
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
  RecordProperty("seconds", std::to_string(seconds.count()));
}

}  // namespace
}  // namespace flowgate
