#include "decode/interface_counter_store.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <utility>

namespace flowgate {
namespace {

using decode::InterfaceCounters;
using decode::InterfaceCounterStore;
using decode::IpAddress;

IpAddress agent(uint32_t n) { return IpAddress::from_v4(0xc0000200u + n); }

TEST(InterfaceCounterStore, UpsertAddsOnceAndFindsTheSameEntry) {
  InterfaceCounterStore store(8);
  InterfaceCounters* a = store.upsert(agent(1), 5);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->agent, agent(1));
  EXPECT_EQ(a->if_index, 5u);
  EXPECT_FALSE(a->has_generic);
  a->generic.in_octets = 1234;
  a->has_generic = true;
  EXPECT_EQ(store.upsert(agent(1), 5), a);
  EXPECT_EQ(store.size(), 1u);
  const InterfaceCounters* f = store.find(agent(1), 5);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->generic.in_octets, 1234u);
  EXPECT_EQ(store.find(agent(1), 6), nullptr);
  EXPECT_EQ(store.find(agent(2), 5), nullptr);
}

TEST(InterfaceCounterStore, AgentAndIfIndexBothKey) {
  InterfaceCounterStore store(8);
  ASSERT_NE(store.upsert(agent(1), 1), nullptr);
  ASSERT_NE(store.upsert(agent(1), 2), nullptr);
  ASSERT_NE(store.upsert(agent(2), 1), nullptr);
  uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
  ASSERT_NE(store.upsert(IpAddress::from_v6_bytes(v6), 1), nullptr);
  EXPECT_EQ(store.size(), 4u);
}

TEST(InterfaceCounterStore, RefusesNewInterfacesWhenFull) {
  InterfaceCounterStore store(2);
  EXPECT_EQ(store.capacity(), 2u);
  ASSERT_NE(store.upsert(agent(1), 1), nullptr);
  ASSERT_NE(store.upsert(agent(1), 2), nullptr);
  EXPECT_EQ(store.upsert(agent(1), 3), nullptr);
  EXPECT_EQ(store.upsert(agent(2), 1), nullptr);
  EXPECT_EQ(store.refused(), 2u);
  // Known interfaces still update.
  EXPECT_NE(store.upsert(agent(1), 2), nullptr);
  EXPECT_EQ(store.refused(), 2u);
  EXPECT_EQ(store.size(), 2u);
}

TEST(InterfaceCounterStore, ForEachVisitsEveryEntry) {
  InterfaceCounterStore store(64);
  for (uint32_t i = 0; i < 40; ++i) store.upsert(agent(i % 4), i)->generic.if_index = i;
  std::map<uint32_t, IpAddress> seen;
  store.for_each([&](const InterfaceCounters& c) { seen.emplace(c.if_index, c.agent); });
  ASSERT_EQ(seen.size(), 40u);
  for (uint32_t i = 0; i < 40; ++i) EXPECT_EQ(seen.at(i), agent(i % 4));
}

TEST(InterfaceCounterStore, ExpireRemovesStaleEntriesAndFreesRoom) {
  InterfaceCounterStore store(4);
  for (uint32_t i = 0; i < 4; ++i) store.upsert(agent(1), i)->updated_ns = 100 + i;
  EXPECT_EQ(store.expire(102), 2u);  // updated at 100 and 101
  EXPECT_EQ(store.size(), 2u);
  EXPECT_EQ(store.find(agent(1), 0), nullptr);
  EXPECT_EQ(store.find(agent(1), 1), nullptr);
  ASSERT_NE(store.find(agent(1), 2), nullptr);
  EXPECT_EQ(store.find(agent(1), 3)->updated_ns, 103u);
  EXPECT_NE(store.upsert(agent(1), 9), nullptr);
  EXPECT_NE(store.upsert(agent(1), 10), nullptr);
  EXPECT_EQ(store.refused(), 0u);
}

TEST(InterfaceCounterStore, RandomUpsertsAndExpiriesMatchAReferenceMap) {
  InterfaceCounterStore store(64);
  std::map<std::pair<uint32_t, uint32_t>, uint64_t> ref;  // (agent, ifIndex) -> updated
  std::mt19937 rng(7);
  for (uint64_t t = 1; t < 20000; ++t) {
    const uint32_t a = rng() % 8;
    const uint32_t i = rng() % 16;
    if (InterfaceCounters* c = store.upsert(agent(a), i)) {
      c->updated_ns = t;
      ref[{a, i}] = t;
    } else {
      EXPECT_EQ(ref.size(), 64u);
      EXPECT_EQ(ref.count({a, i}), 0u);
    }
    if (t % 97 == 0) {
      const uint64_t cutoff = t - 40;
      uint32_t expected = 0;
      for (auto it = ref.begin(); it != ref.end();) {
        if (it->second < cutoff) {
          it = ref.erase(it);
          ++expected;
        } else {
          ++it;
        }
      }
      ASSERT_EQ(store.expire(cutoff), expected);
    }
    ASSERT_EQ(store.size(), ref.size());
  }
  for (const auto& [key, updated] : ref) {
    const InterfaceCounters* c = store.find(agent(key.first), key.second);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->updated_ns, updated);
  }
}

TEST(InterfaceCounterStore, ClearEmptiesTheTable) {
  InterfaceCounterStore store(4);
  store.upsert(agent(1), 1);
  store.upsert(agent(1), 2);
  store.clear();
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.find(agent(1), 1), nullptr);
  InterfaceCounters* c = store.upsert(agent(1), 1);
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->has_generic);
}

}  // namespace
}  // namespace flowgate
