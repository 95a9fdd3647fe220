// A DecodeShard's block pool: full blocks go out through the ring, come back through the free
// ring, and the next block filled is the one returned last (still in a cache), not the one idle
// longest; blocks the shard holds count towards its room for another burst.
#include "dataplane/decode_shard.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "dataplane/udp_datagram.hpp"
#include "tests/support/flow_wire.hpp"
#include "tests/support/shard_feed.hpp"

namespace flowgate::dataplane {
namespace {

constexpr uint32_t kPerBlock = decode::FlowBlock::kCapacity;

class ShardPool : public ::testing::Test {
 protected:
  ShardPool() : shard_(config()), payload_(testing::v5_feed_payload()) {}

  static ShardConfig config() {
    ShardConfig c;
    c.listener_types = {decode::FlowType::kNetflow5};
    c.blocks = 8;
    return c;
  }

  // Decodes datagrams until `blocks` more full blocks have gone to the ring.
  void fill(size_t blocks) { testing::feed_blocks(shard_, payload_, blocks); }

  decode::FlowBlock* take_full() {
    decode::FlowBlock* b = nullptr;
    EXPECT_TRUE(shard_.full_blocks().try_pop(b));
    return b;
  }

  DecodeShard shard_;
  std::vector<uint8_t> payload_;
};

TEST_F(ShardPool, TheBlockReturnedLastIsFilledNext) {
  fill(3);
  decode::FlowBlock* first = take_full();
  decode::FlowBlock* second = take_full();
  decode::FlowBlock* third = take_full();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(first->size, kPerBlock);
  // The exporter thread lets go of them in the order it read them.
  for (decode::FlowBlock* b : {first, second, third}) ASSERT_TRUE(shard_.free_blocks().try_push(b));
  // The block being filled now goes out next; the one after it is `third`, then `second`.
  fill(3);
  take_full();
  EXPECT_EQ(take_full(), third);
  EXPECT_EQ(take_full(), second);
}

TEST_F(ShardPool, BlocksItHoldsCountAsRoom) {
  EXPECT_TRUE(shard_.has_room()) << "a fresh pool";
  // 8 blocks: one being filled, the rest out to the ring, none returned.
  fill(7);
  EXPECT_FALSE(shard_.has_room());
  std::vector<decode::FlowBlock*> out;
  for (int i = 0; i < 7; ++i) out.push_back(take_full());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(shard_.free_blocks().try_push(out[static_cast<size_t>(i)]));
  EXPECT_FALSE(shard_.has_room()) << "3 spare is less than a burst's worth";
  ASSERT_TRUE(shard_.free_blocks().try_push(out[3]));
  EXPECT_TRUE(shard_.has_room());
  // The next refill takes the four into the shard's own stack and one of them into use: the
  // three left count as they did in the ring, and one more returned makes room again.
  fill(1);
  take_full();
  EXPECT_EQ(shard_.free_blocks().size(), 0u);
  EXPECT_FALSE(shard_.has_room());
  ASSERT_TRUE(shard_.free_blocks().try_push(out[4]));
  EXPECT_TRUE(shard_.has_room());
  EXPECT_EQ(shard_.counters().ring_full, 0u);
}

// A full template cache makes room for a new exporter in place of one holding nothing, and the
// shard's published decode counters (what /metrics shows) count it.
TEST(DecodeShardExporters, ANewExporterInAFullCacheIsReclaimedAndCounted) {
  ShardConfig c;
  c.listener_types = {decode::FlowType::kNetflow9};
  DecodeShard shard(c);
  decode::TemplateCacheLimits limits;
  limits.max_exporters = 1;
  shard.set_template_limits(limits);
  const std::vector<uint8_t> payload = testing::v9::datagram(1).build();  // data only
  UdpDatagram d;
  d.src = decode::IpAddress::from_v4(0xc0000201);
  d.payload = decode::Bytes(reinterpret_cast<const std::byte*>(payload.data()), payload.size());
  for (const uint16_t port : {2055, 2056, 2055}) {  // the first comes back from a new port
    d.src_port = port;
    shard.decode(d, 0);
  }
  shard.housekeeping(1'000);
  const decode::DecodeCounters counters = shard.decode_counters();
  EXPECT_EQ(counters.exporters_reclaimed, 2u);
  EXPECT_EQ(counters.error(decode::DecodeStatus::kExporterLimit), 0u);
}

}  // namespace
}  // namespace flowgate::dataplane
