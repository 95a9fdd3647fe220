#include "export/aggregator.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

#include "tests/support/collecting_output.hpp"
#include "tests/support/model_rollup.hpp"

namespace flowgate::exporter {
namespace {

using decode::FlowBlock;
using decode::IpAddress;

struct Flow {
  uint32_t src = 0x0a000001;
  uint32_t dst = 0xc0a80001;
  uint16_t src_port = 40000;
  uint16_t dst_port = 443;
  uint8_t protocol = 6;
  uint8_t tos = 0;
  uint32_t in_if = 1;
  uint32_t out_if = 2;
  uint64_t bytes = 100;
  uint64_t packets = 1;
  uint64_t start_ms = 1'000'000;
  uint64_t end_ms = 1'000'500;
  uint8_t tcp_flags = 0x02;
  uint32_t exporter = 0xc0000201;
  uint32_t next_hop = 0x0a0000fe;
  uint16_t listener = 0;
};

void append(FlowBlock& b, const Flow& f) {
  const uint32_t r = b.append_row();
  b.src_addr[r] = IpAddress::from_v4(f.src);
  b.dst_addr[r] = IpAddress::from_v4(f.dst);
  b.exporter_addr[r] = IpAddress::from_v4(f.exporter);
  b.next_hop[r] = IpAddress::from_v4(f.next_hop);
  b.src_port[r] = f.src_port;
  b.dst_port[r] = f.dst_port;
  b.protocol[r] = f.protocol;
  b.tos[r] = f.tos;
  b.in_if[r] = f.in_if;
  b.out_if[r] = f.out_if;
  b.bytes[r] = f.bytes;
  b.packets[r] = f.packets;
  b.start_ms[r] = f.start_ms;
  b.end_ms[r] = f.end_ms;
  b.tcp_flags[r] = f.tcp_flags;
  b.listener[r] = f.listener;
  b.ether_type[r] = 0x0800;
  b.flow_type[r] = decode::FlowType::kNetflow9;
}

AggregatorConfig config(uint64_t flush_ms = 300'000, uint32_t threshold = 10) {
  AggregatorConfig c;
  c.flush_interval_ms = flush_ms;
  c.port_rollup_threshold = threshold;
  c.max_keys = 1024;
  c.rollup_capacity = 4096;
  return c;
}

class AggregatorTest : public ::testing::Test {
 protected:
  void add(Aggregator& a, std::initializer_list<Flow> flows, uint64_t now_ms) {
    auto b = std::make_unique<FlowBlock>();
    for (const Flow& f : flows) append(*b, f);
    a.add(*b, now_ms, out.output());
  }
  testing::CollectingOutput out;
};

TEST_F(AggregatorTest, MergesFlowsWithTheSameKey) {
  Aggregator a(config());
  Flow f1;
  Flow f2 = f1;
  f2.bytes = 250;
  f2.packets = 3;
  f2.start_ms = 999'000;
  f2.end_ms = 1'002'000;
  f2.tcp_flags = 0x10;
  f2.out_if = 9;         // not a key field: the first flow's value stays
  f2.next_hop = 0x0a0000fd;
  add(a, {f1, f2}, 10'000);
  EXPECT_EQ(a.live(), 1u);
  EXPECT_EQ(a.merged(), 1u);
  a.flush_all(out.output());
  ASSERT_EQ(out.size(), 1u);
  auto [b, r] = out.at(0);
  EXPECT_EQ(b->bytes[r], 350u);
  EXPECT_EQ(b->packets[r], 4u);
  EXPECT_EQ(b->start_ms[r], 999'000u);
  EXPECT_EQ(b->end_ms[r], 1'002'000u);
  EXPECT_EQ(b->tcp_flags[r], 0x12);
  EXPECT_EQ(b->out_if[r], 2u);
  EXPECT_EQ(b->next_hop[r], IpAddress::from_v4(0x0a0000fe));
  EXPECT_EQ(b->src_port[r], 40000);
  EXPECT_EQ(b->port_rollup[r], 0);
}

TEST_F(AggregatorTest, EveryKeyFieldSeparatesFlows) {
  Aggregator a(config());
  Flow base;
  Flow f[9] = {base, base, base, base, base, base, base, base, base};
  f[1].src = 0x0a000002;
  f[2].dst = 0xc0a80002;
  f[3].src_port = 40001;
  f[4].dst_port = 80;
  f[5].protocol = 17;
  f[6].tos = 0x20;
  f[7].in_if = 7;
  f[8].exporter = 0xc0000202;
  add(a, {f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]}, 0);
  EXPECT_EQ(a.live(), 9u);
  EXPECT_EQ(a.merged(), 0u);
}

TEST_F(AggregatorTest, NamespaceIsPartOfTheKey) {
  AggregatorConfig c = config();
  c.listener_namespace = {0, 0, 1};  // listeners 0 and 1 in one input, 2 in another
  Aggregator a(c);
  Flow l0;
  Flow l1 = l0;
  l1.listener = 1;
  Flow l2 = l0;
  l2.listener = 2;
  add(a, {l0, l1, l2}, 0);
  EXPECT_EQ(a.live(), 2u);
}

// Addresses that end in the same four bytes: IPv4 10.0.0.1 (stored ::ffff:10.0.0.1), the
// IPv4-compatible ::10.0.0.1, and two IPv6 addresses that differ only in their second byte. Each
// as exporter, source and destination, each flow twice: every address is a key of its own, and
// each record is written with its address whole.
TEST_F(AggregatorTest, AddressesThatEndAlikeAreDifferentKeys) {
  const uint8_t v6a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1};
  uint8_t v6b[16];
  std::copy(std::begin(v6a), std::end(v6a), v6b);
  v6b[1] = 0x02;
  const uint8_t compatible[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1};
  const std::array<IpAddress, 4> addresses = {
      IpAddress::from_v4(0x0a000001), IpAddress::from_v6_bytes(compatible),
      IpAddress::from_v6_bytes(v6a), IpAddress::from_v6_bytes(v6b)};
  Aggregator a(config());
  auto b = std::make_unique<FlowBlock>();
  std::vector<std::array<IpAddress, 3>> keys;
  for (int column = 0; column < 3; ++column) {
    for (const IpAddress& x : addresses) {
      std::array<IpAddress, 3> k = {IpAddress::from_v4(0xc0000201), IpAddress::from_v4(0x0a000001),
                                    IpAddress::from_v4(0xc0a80001)};
      k[column] = x;
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    }
  }
  for (int round = 0; round < 2; ++round) {
    for (const auto& k : keys) {
      append(*b, Flow{});
      const uint32_t r = b->size - 1;
      b->exporter_addr[r] = k[0];
      b->src_addr[r] = k[1];
      b->dst_addr[r] = k[2];
    }
  }
  a.add(*b, 0, out.output());
  EXPECT_EQ(a.live(), keys.size());
  EXPECT_EQ(a.merged(), keys.size());
  a.flush_all(out.output());
  ASSERT_EQ(out.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    auto [ob, r] = out.at(i);
    EXPECT_EQ(ob->exporter_addr[r], keys[i][0]) << i;
    EXPECT_EQ(ob->src_addr[r], keys[i][1]) << i;
    EXPECT_EQ(ob->dst_addr[r], keys[i][2]) << i;
    EXPECT_EQ(ob->bytes[r], 200u) << i;
  }
}

// 300,000 IPv6 sources that differ only above their last four bytes: among that many keys a
// few pairs share their 32-bit hash (about ten, by the birthday bound), and only comparing the
// addresses' first twelve bytes keeps such a pair apart.
TEST_F(AggregatorTest, KeysWhoseHashesCollideStayApart) {
  constexpr uint32_t kKeys = 300'000;
  AggregatorConfig c = config(300'000, 0);
  c.max_keys = kKeys;
  Aggregator a(c);
  const auto source = [](uint32_t i) {
    uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, static_cast<uint8_t>(i >> 16),
                     static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), 0, 0, 0, 0, 0,
                     10, 0, 0, 1};
    return IpAddress::from_v6_bytes(b);
  };
  for (int round = 0; round < 2; ++round) {
    for (uint32_t i = 0; i < kKeys;) {
      auto b = std::make_unique<FlowBlock>();
      for (; i < kKeys && b->size < FlowBlock::kCapacity; ++i) {
        append(*b, Flow{});
        b->src_addr[b->size - 1] = source(i);
      }
      a.add(*b, 0, out.output());
    }
  }
  EXPECT_EQ(a.live(), kKeys);
  EXPECT_EQ(a.merged(), kKeys);
}

TEST_F(AggregatorTest, FlushesAKeyFlushIntervalAfterItWasFirstSeen) {
  Aggregator a(config(60'000));
  Flow f1;
  Flow f2 = f1;
  f2.dst_port = 80;
  add(a, {f1}, 1'000);
  add(a, {f2}, 20'000);
  add(a, {f1}, 50'000);  // merges into the first key; does not extend its life
  a.flush_due(60'999, out.output());
  EXPECT_EQ(out.size(), 0u);
  a.flush_due(61'000, out.output());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out.at(0).first->bytes[out.at(0).second], 200u);
  a.flush_due(79'999, out.output());
  EXPECT_EQ(out.size(), 1u);
  a.flush_due(80'000, out.output());
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(a.live(), 0u);
  // A flow after its key flushed starts a new aggregate.
  add(a, {f1}, 90'000);
  EXPECT_EQ(a.live(), 1u);
}

TEST_F(AggregatorTest, KeyBoundFlushesTheOldestEarly) {
  AggregatorConfig c = config();
  c.max_keys = 3;
  Aggregator a(c);
  for (uint16_t p = 1; p <= 5; ++p) {
    Flow f;
    f.dst_port = p;
    add(a, {f}, p);
  }
  EXPECT_EQ(a.live(), 3u);
  EXPECT_EQ(a.flushed_early(), 2u);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out.at(0).first->dst_port[out.at(0).second], 1);
  EXPECT_EQ(out.at(1).first->dst_port[out.at(1).second], 2);
  // The live keys still merge after the early flushes shifted the index.
  Flow f5;
  f5.dst_port = 5;
  add(a, {f5}, 10);
  EXPECT_EQ(a.live(), 3u);
  EXPECT_EQ(a.merged(), 1u);
  a.flush_all(out.output());
  EXPECT_EQ(out.size(), 5u);
}

// A row's record is found and prefetched a few rows ahead; when the rows between fill the table
// and the oldest record (that row's) is written out early and its slot reused, the row must not
// merge into the slot's new key: it starts a record of its own.
TEST_F(AggregatorTest, ARecordWrittenOutEarlyWithinABlockIsNotMergedInto) {
  AggregatorConfig c = config(300'000, 0);
  c.max_keys = 4;
  Aggregator a(c);
  auto flow = [](uint16_t port, uint64_t bytes) {
    Flow f;
    f.dst_port = port;
    f.bytes = bytes;
    return f;
  };
  add(a, {flow(1, 10), flow(2, 20), flow(3, 30), flow(4, 40)}, 1);  // full: 1 is the oldest
  // One block: 5 takes 1's slot (1 written early), then 1 again (prefetched before 5 went in).
  add(a, {flow(5, 50), flow(1, 11)}, 2);
  a.flush_all(out.output());
  std::vector<std::pair<uint16_t, uint64_t>> written;
  out.for_each(
      [&](const FlowBlock& b, uint32_t r) { written.emplace_back(b.dst_port[r], b.bytes[r]); });
  const std::vector<std::pair<uint16_t, uint64_t>> expected = {
      {1, 10}, {2, 20}, {3, 30}, {4, 40}, {5, 50}, {1, 11}};
  EXPECT_EQ(written, expected);
  EXPECT_EQ(a.merged(), 0u);
  EXPECT_EQ(a.flushed_early(), 2u);
}

TEST_F(AggregatorTest, NineClientPortsKeepTheirNumbersTenRollUp) {
  Aggregator a(config());
  for (uint16_t i = 0; i < 9; ++i) {
    Flow f;
    f.src_port = static_cast<uint16_t>(50000 + i);
    add(a, {f}, 0);
  }
  EXPECT_EQ(a.live(), 9u);
  a.flush_all(out.output());
  for (size_t i = 0; i < 9; ++i) {
    auto [b, r] = out.at(i);
    EXPECT_EQ(b->port_rollup[r], 0);
    EXPECT_EQ(b->src_port[r], 50000 + i);
  }
  // The tenth distinct client port reaches the threshold: the client side is ephemeral.
  Flow tenth;
  tenth.src_port = 50009;
  Flow eleventh;
  eleventh.src_port = 50010;
  add(a, {tenth, eleventh}, 1);
  EXPECT_EQ(a.live(), 1u);  // both merge under "*"
  a.flush_all(out.output());
  ASSERT_EQ(out.size(), 10u);
  auto [b, r] = out.at(9);
  EXPECT_EQ(b->port_rollup[r], FlowBlock::kRollupSrcPort);
  EXPECT_EQ(b->dst_port[r], 443);
  EXPECT_EQ(b->bytes[r], 200u);
}

TEST_F(AggregatorTest, ServerSideRollsUpWhenOneClientPortReachesManyServerPorts) {
  Aggregator a(config());
  for (uint16_t i = 0; i < 12; ++i) {
    Flow f;
    f.src_port = 5353;
    f.dst_port = static_cast<uint16_t>(1000 + i);
    add(a, {f}, 0);
  }
  a.flush_all(out.output());
  auto [b, r] = out.at(out.size() - 1);
  EXPECT_EQ(b->port_rollup[r], FlowBlock::kRollupDstPort);
  EXPECT_EQ(b->src_port[r], 5353);
}

TEST_F(AggregatorTest, RollupTrackerRotationForgetsPorts) {
  AggregatorConfig c = config(1'000, 10);
  c.rollup_refresh_ms = 100'000;
  Aggregator a(c);
  for (uint16_t i = 0; i < 10; ++i) {
    Flow f;
    f.src_port = static_cast<uint16_t>(50000 + i);
    add(a, {f}, 0);
  }
  Flow probe;
  probe.src_port = 61000;
  add(a, {probe}, 1);
  a.flush_all(out.output());
  EXPECT_EQ(out.at(out.size() - 1).first->port_rollup[out.at(out.size() - 1).second],
            FlowBlock::kRollupSrcPort);
  // Two rotations with no traffic in between: both generations forget the pair.
  a.flush_due(100'000, out.output());
  a.flush_due(200'000, out.output());
  const size_t before = out.size();
  add(a, {probe}, 200'001);
  a.flush_all(out.output());
  ASSERT_EQ(out.size(), before + 1);
  auto [b, r] = out.at(before);
  EXPECT_EQ(b->port_rollup[r], 0);
  EXPECT_EQ(b->src_port[r], 61000);
}

TEST_F(AggregatorTest, ZeroThresholdTurnsRollupOff) {
  Aggregator a(config(300'000, 0));
  for (uint16_t i = 0; i < 50; ++i) {
    Flow f;
    f.src_port = static_cast<uint16_t>(50000 + i);
    add(a, {f}, 0);
  }
  EXPECT_EQ(a.live(), 50u);
}

TEST_F(AggregatorTest, CountsRecordsThatFindNoOutputBlock) {
  Aggregator a(config());
  add(a, {Flow{}}, 0);
  testing::CollectingOutput none(0);
  a.flush_all(none.output());
  EXPECT_EQ(a.dropped(), 1u);
  EXPECT_EQ(a.live(), 0u);
}

// The reference's aggregation as plainly as it can be written: a map from the key fields to
// the sums and the first flow's other fields, in first-seen order. Flows from IPv4 and IPv6
// exporters with IPv4 and IPv6 addresses, keys repeating, no roll-up and no early flush: every
// written record must be the model's, field for field, in the model's order.
TEST(AggregatorModel, WritesWhatAMapOfTheKeysHolds) {
  using Addr = std::array<uint8_t, 16>;
  using Key = std::tuple<Addr, Addr, Addr, uint32_t, uint16_t, uint16_t, uint8_t, uint8_t>;
  struct Sums {
    uint64_t bytes, packets, start_ms, end_ms;
    uint8_t tcp_flags;
    uint32_t out_if, src_as;
    Addr next_hop;
    uint64_t src_mac;
  };
  std::map<Key, Sums> model;
  std::vector<Key> order;
  std::mt19937_64 rng(7);
  // IPv6 addresses end in the same four bytes as the IPv4 ones (10.0.0.pick) and come in two
  // prefixes, so keys differ above the last four bytes of their addresses too.
  const auto address = [&](bool v6, uint32_t pick) {
    if (!v6) return IpAddress::from_v4(0x0a000000 + pick);
    uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, static_cast<uint8_t>(rng() % 2)};
    b[12] = 10;
    b[15] = static_cast<uint8_t>(pick);
    return IpAddress::from_v6_bytes(b);
  };
  AggregatorConfig c = config(300'000, 0);
  c.max_keys = 1u << 16;
  Aggregator a(c);
  testing::CollectingOutput out;
  for (int block = 0; block < 40; ++block) {
    auto b = std::make_unique<FlowBlock>();
    for (int i = 0; i < 500; ++i) {
      const uint32_t r = b->append_row();
      b->exporter_addr[r] = address(rng() % 3 == 0, static_cast<uint32_t>(rng() % 2));
      b->src_addr[r] = address(rng() % 4 == 0, static_cast<uint32_t>(rng() % 6));
      b->dst_addr[r] = address(rng() % 4 == 0, static_cast<uint32_t>(rng() % 6));
      b->in_if[r] = static_cast<uint32_t>(rng() % 2);
      b->src_port[r] = static_cast<uint16_t>(rng() % 3);
      b->dst_port[r] = static_cast<uint16_t>(443 + rng() % 2);
      b->protocol[r] = rng() % 2 ? 6 : 17;
      b->tos[r] = rng() % 2 ? 0 : 0x20;
      b->bytes[r] = rng() % 100'000;
      b->packets[r] = rng() % 100;
      b->start_ms[r] = 1'000'000 + rng() % 10'000;
      b->end_ms[r] = b->start_ms[r] + rng() % 10'000;
      b->tcp_flags[r] = static_cast<uint8_t>(rng());
      b->out_if[r] = static_cast<uint32_t>(rng());
      b->src_as[r] = static_cast<uint32_t>(rng());
      b->next_hop[r] = address(rng() % 2 == 0, static_cast<uint32_t>(rng()));
      b->src_mac[r] = rng() & 0xffffffffffff;
      const Key k{b->exporter_addr[r].bytes, b->src_addr[r].bytes, b->dst_addr[r].bytes,
                  b->in_if[r], b->src_port[r], b->dst_port[r], b->protocol[r], b->tos[r]};
      auto [it, added] = model.try_emplace(
          k, Sums{b->bytes[r], b->packets[r], b->start_ms[r], b->end_ms[r], b->tcp_flags[r],
                  b->out_if[r], b->src_as[r], b->next_hop[r].bytes, b->src_mac[r]});
      if (added) {
        order.push_back(k);
        continue;
      }
      Sums& m = it->second;
      m.bytes += b->bytes[r];
      m.packets += b->packets[r];
      m.start_ms = std::min(m.start_ms, b->start_ms[r]);
      m.end_ms = std::max(m.end_ms, b->end_ms[r]);
      m.tcp_flags |= b->tcp_flags[r];
    }
    a.add(*b, 1'000 + block, out.output());
  }
  ASSERT_EQ(out.size(), 0u) << "nothing is written before the flush";
  ASSERT_GT(order.size(), 1000u);
  ASSERT_LT(order.size(), 20'000u) << "keys repeat";
  a.flush_all(out.output());
  ASSERT_EQ(out.size(), order.size());
  size_t i = 0;
  size_t mismatches = 0;
  out.for_each([&](const FlowBlock& b, uint32_t r) {
    const Key k{b.exporter_addr[r].bytes, b.src_addr[r].bytes, b.dst_addr[r].bytes, b.in_if[r],
                b.src_port[r], b.dst_port[r], b.protocol[r], b.tos[r]};
    const Sums& m = model.at(order[i++]);
    const bool same = k == order[i - 1] && b.bytes[r] == m.bytes && b.packets[r] == m.packets &&
                      b.start_ms[r] == m.start_ms && b.end_ms[r] == m.end_ms &&
                      b.tcp_flags[r] == m.tcp_flags && b.out_if[r] == m.out_if &&
                      b.src_as[r] == m.src_as && b.next_hop[r].bytes == m.next_hop &&
                      b.src_mac[r] == m.src_mac && b.port_rollup[r] == 0;
    mismatches += !same;
  });
  EXPECT_EQ(mismatches, 0u);
}

// The index grows with the live keys, within a block too, and shrinks once most are flushed;
// every key is found again whatever its size was when the key came.
TEST(AggregatorIndex, FindsEveryKeyWhileItGrowsAndAfterItShrinks) {
  for (const uint32_t threshold : {0u, 10u}) {  // both pipelines: port roll-up off and on
    SCOPED_TRACE(threshold);
    AggregatorConfig c = config(300'000, threshold);
    c.max_keys = 1u << 16;
    Aggregator a(c);
    testing::CollectingOutput out;
    EXPECT_EQ(a.index_buckets(), Aggregator::kMinIndexBuckets);
    // Key i: source 10.0.0.0 + i for the first group, 11.0.0.0 + i for the second; bytes i + 1.
    const auto add = [&](uint32_t base, uint32_t keys, uint64_t now_ms) {
      auto b = std::make_unique<FlowBlock>();
      for (uint32_t i = 0; i < keys; ++i) {
        Flow f;
        f.src = base + i;
        f.bytes = i + 1;
        append(*b, f);
        if (b->size == 997 || i + 1 == keys) {  // blocks that straddle the doublings
          a.add(*b, now_ms, out.output());
          b->clear();
        }
      }
    };
    add(0x0a000000, 20'000, 1'000);
    EXPECT_EQ(a.index_buckets(), 65'536u) << "at most half full, as small as that allows";
    add(0x0a000000, 20'000, 2'000);
    add(0x0b000000, 1'000, 200'000);
    EXPECT_EQ(a.merged(), 20'000u);
    EXPECT_EQ(out.size(), 0u);
    a.flush_due(301'000, out.output());  // the first group is due
    EXPECT_EQ(out.size(), 20'000u);
    EXPECT_EQ(a.index_buckets(), 4'096u) << "1,000 live keys: an eighth to a quarter full";
    add(0x0b000000, 1'000, 250'000);
    EXPECT_EQ(a.merged(), 21'000u);
    a.flush_all(out.output());
    ASSERT_EQ(out.size(), 21'000u);
    size_t wrong = 0;
    out.for_each([&](const FlowBlock& b, uint32_t r) {
      uint32_t src = 0;
      for (int i = 12; i < 16; ++i) src = src << 8 | b.src_addr[r].bytes[i];
      wrong += b.bytes[r] != 2 * ((src & 0xffffff) + 1) || b.packets[r] != 2 ||
               b.port_rollup[r] != 0;
    });
    EXPECT_EQ(wrong, 0u) << "every key merged into its one record";
  }
}

// Runs the same blocks and clock through an aggregator whose settled flows skip the roll-up
// and one where every flow consults it, and counts the written records and counts in which
// they differ (all of them compared field by field, in order, roll-up marks included).
class SettledAgainstConsulting {
 public:
  explicit SettledAgainstConsulting(AggregatorConfig c)
      : settling_(with_settle(c, true)), consulting_(with_settle(c, false)) {}

  void add(const FlowBlock& b, uint64_t now_ms) {
    settling_.add(b, now_ms, settling_out_.output());
    consulting_.add(b, now_ms, consulting_out_.output());
  }
  void flush_due(uint64_t now_ms) {
    settling_.flush_due(now_ms, settling_out_.output());
    consulting_.flush_due(now_ms, consulting_out_.output());
  }
  void flush_all() {
    settling_.flush_all(settling_out_.output());
    consulting_.flush_all(consulting_out_.output());
  }
  // Records written and counts in which the two differ.
  size_t differences() const {
    size_t d = settling_out_.size() != consulting_out_.size();
    d += settling_.merged() != consulting_.merged();
    d += settling_.flushed_early() != consulting_.flushed_early();
    d += settling_.rollup_untracked() != consulting_.rollup_untracked();
    d += settling_.live() != consulting_.live();
    const size_t n = std::min(settling_out_.size(), consulting_out_.size());
    for (size_t i = 0; i < n; ++i) {
      const auto [x, xr] = settling_out_.at(i);
      const auto [y, yr] = consulting_out_.at(i);
      d += !(x->exporter_addr[xr] == y->exporter_addr[yr] && x->src_addr[xr] == y->src_addr[yr] &&
             x->dst_addr[xr] == y->dst_addr[yr] && x->src_port[xr] == y->src_port[yr] &&
             x->dst_port[xr] == y->dst_port[yr] && x->port_rollup[xr] == y->port_rollup[yr] &&
             x->protocol[xr] == y->protocol[yr] && x->bytes[xr] == y->bytes[yr] &&
             x->packets[xr] == y->packets[yr] && x->start_ms[xr] == y->start_ms[yr] &&
             x->end_ms[xr] == y->end_ms[yr] && x->tcp_flags[xr] == y->tcp_flags[yr]);
    }
    return d;
  }
  const Aggregator& settling() const { return settling_; }
  const Aggregator& consulting() const { return consulting_; }
  const testing::CollectingOutput& written() const { return consulting_out_; }

 private:
  static AggregatorConfig with_settle(AggregatorConfig c, bool settle) {
    c.settle = settle;
    return c;
  }
  Aggregator settling_, consulting_;
  testing::CollectingOutput settling_out_, consulting_out_;
};

// Settled flows skip the roll-up only where consulting it would change nothing: on traffic
// where pairs spill and roll up, tables fill (keys written early, pairs untracked) and the
// trackers rotate, in blocks of every size, the records and counts are the same either way.
TEST(AggregatorSettled, WritesWhatConsultingTheRollupForEveryFlowWrites) {
  for (const uint32_t threshold : {1u, 3u, 10u}) {
    AggregatorConfig c = config(40, threshold);
    c.rollup_refresh_ms = 100;
    c.max_keys = 300;
    c.rollup_capacity = 96;  // room for 48 pairs of the 64 drawn
    SettledAgainstConsulting both(c);
    std::mt19937_64 rng(threshold);
    uint64_t now = 1'000;
    for (int block = 0; block < 400; ++block) {
      auto b = std::make_unique<FlowBlock>();
      const uint32_t rows = 1 + static_cast<uint32_t>(rng() % 700);
      for (uint32_t i = 0; i < rows; ++i) {
        Flow f;
        // Most conversations repeat one of two port tuples of their pair; one flow in eight is
        // a scan's, from two of the eight sources.
        const bool scan = rng() % 8 == 0;
        f.src = 0x0a000000 | static_cast<uint32_t>(scan ? rng() % 2 : rng() % 8);
        f.dst = 0xc0a80000 | static_cast<uint32_t>(rng() % 8);
        f.src_port = static_cast<uint16_t>(scan ? 1024 + rng() % 64 : 40000 + (f.src & 0xff));
        f.dst_port = static_cast<uint16_t>(scan ? 80 + rng() % 16 : rng() % 3 == 0 ? 80 : 443);
        f.exporter = 0xc0000200 | static_cast<uint32_t>(rng() % 2);
        f.bytes = rng() % 10'000;
        f.tcp_flags = static_cast<uint8_t>(rng());
        append(*b, f);
      }
      both.add(*b, now);
      now += rng() % 4;
      if (rng() % 4 == 0) both.flush_due(now);
    }
    both.flush_all();
    EXPECT_EQ(both.differences(), 0u) << "threshold " << threshold;
    EXPECT_GT(both.written().size(), 10'000u);
    EXPECT_EQ(both.consulting().settled(), 0u);
    if (threshold > 1) {
      EXPECT_GT(both.settling().settled(), both.settling().merged() / 4)
          << "a good part of the merges skipped the roll-up";
    } else {
      EXPECT_EQ(both.settling().settled(), 0u) << "with threshold 1 every pair spills at once";
    }
    EXPECT_GT(both.settling().rollup_untracked(), 0u);
    EXPECT_GT(both.settling().flushed_early(), 0u);
    size_t rolled = 0;
    both.written().for_each(
        [&](const FlowBlock& b, uint32_t r) { rolled += b.port_rollup[r] != 0; });
    EXPECT_GT(rolled, 100u);
  }
}

// A record's settled stamp names the trackers' generation, and the stamp wraps after 65,535
// rotations: a record kept that long (flush interval far above the refresh interval) must not
// pass for settled in the generation whose stamp it happens to carry. Its tuple was forgotten
// meanwhile, so its next flow counts it again, and with a threshold of 2 a second destination
// port of that source port then rolls up.
TEST(AggregatorSettled, AStampThatWrapsIsNotTakenForTheNewGeneration) {
  AggregatorConfig c = config(1'000'000'000, 2);
  c.rollup_refresh_ms = 1;
  c.rollup_capacity = 16;
  SettledAgainstConsulting both(c);
  Flow kept;
  kept.src_port = 1000;
  kept.dst_port = 80;
  Flow other = kept;
  other.dst_port = 81;
  const auto add = [&](const Flow& f, uint64_t now) {
    auto b = std::make_unique<FlowBlock>();
    append(*b, f);
    both.add(*b, now);
  };
  uint64_t now = 1'000;
  add(kept, now);
  add(kept, now);
  for (int i = 0; i < 65'535; ++i) both.flush_due(++now);
  add(kept, now);
  add(other, now);
  both.flush_all();
  EXPECT_EQ(both.differences(), 0u);
  EXPECT_EQ(both.settling().settled(), 1u) << "the second flow, in the first generation";
  size_t rolled = 0;
  both.written().for_each([&](const FlowBlock& b, uint32_t r) {
    rolled += b.port_rollup[r] == FlowBlock::kRollupDstPort;
  });
  EXPECT_EQ(rolled, 1u);
}

TEST(PortRollup, ATieRollsUpTheDestinationOnly) {
  // As the reference: when both sides reach the threshold, the side with at least as many
  // peers keeps its port, so only one side is ever "*".
  PortRollup p(2, 64);
  const IpAddress s = IpAddress::from_v4(1);
  const IpAddress d = IpAddress::from_v4(2);
  EXPECT_EQ(p.add(s, d, 1, 1), EphemeralPort::kNone);
  EXPECT_EQ(p.add(s, d, 1, 2), EphemeralPort::kDestination);  // port 1 met 2 destination ports
  EXPECT_EQ(p.add(s, d, 2, 1), EphemeralPort::kSource);       // port 1 met 2 source ports
  EXPECT_EQ(p.add(s, d, 1, 1), EphemeralPort::kDestination);  // 2 and 2: tie
}

TEST_F(AggregatorTest, ReportsWhatItsFullRollupTrackerCouldNotTrack) {
  AggregatorConfig c = config();
  c.rollup_capacity = 16;  // the tracker's smallest table
  Aggregator a(c);
  auto b = std::make_unique<FlowBlock>();
  for (uint32_t i = 0; i < 100; ++i) {
    Flow f;
    f.src = 0x0a000000 + i;
    append(*b, f);
  }
  a.add(*b, 1'000, out.output());
  EXPECT_GT(a.rollup_untracked(), 0u);
  EXPECT_EQ(a.live(), 100u) << "untracked flows still aggregate, with their ports";
}

using testing::ModelRollup;

// Runs `flows` flows drawn by `draw` through a PortRollup and the model, rotating both every
// `rotate_every`, and returns how often they disagreed.
template <typename Draw>
uint64_t disagreements(PortRollup& p, ModelRollup& m, int flows, int rotate_every, Draw draw) {
  uint64_t n = 0;
  for (int i = 0; i < flows; ++i) {
    if (i % rotate_every == rotate_every - 1) {
      p.rotate();
      m.rotate();
    }
    const auto [s, d, sp, dp] = draw();
    n += p.add(IpAddress::from_v4(s), IpAddress::from_v4(d), sp, dp) != m.add(s, d, sp, dp);
  }
  return n;
}

TEST(PortRollup, AgreesWithTheReferenceModelAcrossRotations) {
  // Few addresses and ports, so pairs spill, sets fill, sides tie and keys come and go between
  // rotations; the table is small enough that rotations must move keys along their probe runs.
  for (const uint32_t threshold : {1u, 3u, 10u, PortRollup::kMaxThreshold}) {
    PortRollup p(threshold, 4096);
    ModelRollup m(threshold);
    std::mt19937 rng(threshold);
    EXPECT_EQ(disagreements(p, m, 200'000, 20'000, [&] {
                return std::tuple{rng() % 6, rng() % 6, static_cast<uint16_t>(rng() % 40),
                                  static_cast<uint16_t>(rng() % 40)};
              }),
              0u)
        << "threshold " << threshold;
    EXPECT_EQ(p.untracked(), 0u);
  }
}

TEST(PortRollup, AgreesWithTheReferenceModelWhilePairsHaveFewTuples) {
  // Many pairs with a handful of tuples each: most stay in their pair's slot, some reach the
  // threshold and spill (a few of them in a generation where the pair's older tuples are
  // forgotten), and rotations drop tuples, pairs and spilled pairs.
  for (const uint32_t threshold : {2u, 3u, 10u, PortRollup::kMaxThreshold}) {
    PortRollup p(threshold, 1u << 16);
    ModelRollup m(threshold);
    std::mt19937 rng(threshold);
    EXPECT_EQ(disagreements(p, m, 300'000, 30'000, [&] {
                const uint32_t s = rng() % 64, d = rng() % 64;
                // A pair's ports come from a range that grows with its addresses, so some pairs
                // have one tuple and others dozens.
                const uint32_t range = 1 + (s * d) % 24;
                return std::tuple{s, d, static_cast<uint16_t>(1000 + rng() % range),
                                  static_cast<uint16_t>(80 + rng() % 2)};
              }),
              0u)
        << "threshold " << threshold;
    EXPECT_GT(p.tracked_keys(), 0u) << "some pairs spilled to key slots";
    EXPECT_GT(p.tracked_pairs(), 0u);
    EXPECT_EQ(p.untracked(), 0u);
  }
}

TEST(PortRollup, AgreesWithTheReferenceModelWhenPairsCrowdTheirTable) {
  // 512 pairs, as many as the table takes (1,024 pair slots): many are not in their home slot,
  // where add() takes its out-of-line path, and the others take the inline one. Most pairs have
  // fewer tuples than the threshold; 16 hot ones (a quarter of the flows) have more, and spill
  // once a generation has seen enough of them, which it only has if every flow of theirs was
  // marked seen. Rotations forget what a generation did not mark.
  for (const uint32_t threshold : {3u, 10u}) {
    PortRollup p(threshold, 1024);
    ModelRollup m(threshold);
    std::mt19937 rng(threshold);
    EXPECT_EQ(disagreements(p, m, 200'000, 5'000, [&] {
                const bool hot = rng() % 4 == 0;
                const uint32_t s = hot ? rng() % 4 : rng() % 32, d = hot ? rng() % 4 : rng() % 16;
                const uint32_t tuples = s < 4 && d < 4 ? threshold + 2 : threshold - 1;
                return std::tuple{s, d, static_cast<uint16_t>(2000 + rng() % tuples),
                                  static_cast<uint16_t>(443)};
              }),
              0u)
        << "threshold " << threshold;
    EXPECT_GE(p.tracked_pairs(), 500u) << "the table is (nearly) full of pairs";
    EXPECT_GT(p.tracked_keys(), 0u) << "the hot pairs spilled";
    EXPECT_EQ(p.untracked(), 0u);
  }
}

TEST(PortRollup, RotationFreesTheRoomOfPairsNoLongerSeen) {
  PortRollup p(10, 16);  // room for 8 pairs
  const IpAddress d = IpAddress::from_v4(2);
  for (uint32_t i = 0; i < 8; ++i) p.add(IpAddress::from_v4(100 + i), d, 1000, 80);
  EXPECT_EQ(p.tracked_pairs(), 8u);
  EXPECT_EQ(p.tracked_keys(), 0u) << "a pair of one tuple takes no key slots";
  EXPECT_EQ(p.untracked(), 0u);
  p.rotate();
  EXPECT_EQ(p.tracked_pairs(), 8u) << "still in the newer generation, now current";
  p.add(IpAddress::from_v4(100), d, 1000, 80);  // seen again: survives the next rotation
  p.rotate();
  EXPECT_EQ(p.tracked_pairs(), 1u);
  for (uint32_t i = 0; i < 7; ++i) p.add(IpAddress::from_v4(200 + i), d, 1000, 80);
  EXPECT_EQ(p.tracked_pairs(), 8u);
  EXPECT_EQ(p.untracked(), 0u) << "the forgotten pairs' room was reused";
}

TEST(PortRollup, ASpilledPairsKeysAgeWithIt) {
  PortRollup p(3, 64);
  const IpAddress s = IpAddress::from_v4(1);
  const IpAddress d = IpAddress::from_v4(2);
  EXPECT_EQ(p.add(s, d, 1000, 80), EphemeralPort::kNone);
  EXPECT_EQ(p.add(s, d, 1001, 80), EphemeralPort::kNone);
  EXPECT_EQ(p.tracked_keys(), 0u) << "two tuples, below the threshold: in the pair's slot";
  EXPECT_EQ(p.add(s, d, 1002, 80), EphemeralPort::kSource) << "port 80 met 3 source ports";
  EXPECT_EQ(p.tracked_keys(), 4u) << "spilled: three source-port keys and port 80's";
  p.rotate();
  EXPECT_EQ(p.add(s, d, 1003, 80), EphemeralPort::kSource) << "the current generation saw 3";
  p.rotate();
  EXPECT_EQ(p.tracked_keys(), 2u) << "only what the last generation saw: 1003 and 80";
  p.rotate();
  EXPECT_EQ(p.tracked_keys(), 0u);
  EXPECT_EQ(p.tracked_pairs(), 0u) << "a spilled pair not seen for a generation is forgotten";
  EXPECT_EQ(p.add(s, d, 1000, 80), EphemeralPort::kNone) << "and starts again in its own slot";
  EXPECT_EQ(p.tracked_keys(), 0u);
}

TEST(PortRollup, CountsWhatAFullTableCannotTrack) {
  PortRollup p(10, 16);
  const IpAddress d = IpAddress::from_v4(2);
  for (uint32_t i = 0; i < 100; ++i) p.add(IpAddress::from_v4(100 + i), d, 1000, 80);
  EXPECT_GT(p.untracked(), 0u);
}

}  // namespace
}  // namespace flowgate::exporter
