#include "dataplane/spsc_ring.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace flowgate::dataplane {
namespace {

TEST(SpscRing, RoundsCapacityUpToAPowerOfTwo) {
  EXPECT_EQ(SpscRing<int>(0).capacity(), 2u);
  EXPECT_EQ(SpscRing<int>(1).capacity(), 2u);
  EXPECT_EQ(SpscRing<int>(2).capacity(), 2u);
  EXPECT_EQ(SpscRing<int>(3).capacity(), 4u);
  EXPECT_EQ(SpscRing<int>(32).capacity(), 32u);
  EXPECT_EQ(SpscRing<int>(33).capacity(), 64u);
}

TEST(SpscRing, EmptyRingPopsNothing) {
  SpscRing<int> ring(4);
  int v = -1;
  EXPECT_FALSE(ring.try_pop(v));
  EXPECT_EQ(v, -1);
  EXPECT_EQ(ring.size(), 0u);
}

TEST(SpscRing, FullRingRefusesAPushAndKeepsItsContents) {
  SpscRing<int> ring(4);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(ring.try_push(i));
  EXPECT_EQ(ring.size(), 4u);
  EXPECT_FALSE(ring.try_push(99));
  EXPECT_EQ(ring.size(), 4u);
  int v = -1;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(ring.try_pop(v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(ring.try_pop(v));
  // Room again after the consumer made some.
  EXPECT_TRUE(ring.try_push(5));
  ASSERT_TRUE(ring.try_pop(v));
  EXPECT_EQ(v, 5);
}

TEST(SpscRing, IsFirstInFirstOut) {
  SpscRing<uint64_t> ring(8);
  ASSERT_TRUE(ring.try_push(10));
  ASSERT_TRUE(ring.try_push(20));
  uint64_t v = 0;
  ASSERT_TRUE(ring.try_pop(v));
  EXPECT_EQ(v, 10u);
  ASSERT_TRUE(ring.try_push(30));
  ASSERT_TRUE(ring.try_pop(v));
  EXPECT_EQ(v, 20u);
  ASSERT_TRUE(ring.try_pop(v));
  EXPECT_EQ(v, 30u);
  EXPECT_FALSE(ring.try_pop(v));
}

TEST(SpscRing, WrapsAroundManyTimes) {
  // Indices run far past the slot count; the masks must keep every value in order.
  SpscRing<uint32_t> ring(4);
  uint32_t next_in = 0;
  uint32_t next_out = 0;
  for (int round = 0; round < 1000; ++round) {
    const int fill = 1 + round % 4;  // 1..4: exercises every fill level at every offset
    for (int i = 0; i < fill; ++i) ASSERT_TRUE(ring.try_push(next_in++));
    EXPECT_EQ(ring.size(), static_cast<size_t>(fill));
    if (fill == 4) {
      EXPECT_FALSE(ring.try_push(UINT32_MAX));
    }
    uint32_t v = 0;
    for (int i = 0; i < fill; ++i) {
      ASSERT_TRUE(ring.try_pop(v));
      ASSERT_EQ(v, next_out++);
    }
    EXPECT_FALSE(ring.try_pop(v));
  }
  EXPECT_EQ(next_in, next_out);
}

TEST(SpscRing, CarriesPointers) {
  // The worker's use: FlowBlock pointers out and back.
  int a = 1;
  int b = 2;
  SpscRing<int*> ring(2);
  ASSERT_TRUE(ring.try_push(&a));
  ASSERT_TRUE(ring.try_push(&b));
  int* p = nullptr;
  ASSERT_TRUE(ring.try_pop(p));
  EXPECT_EQ(p, &a);
  ASSERT_TRUE(ring.try_pop(p));
  EXPECT_EQ(p, &b);
}

TEST(SpscRing, TwoThreadsPassEveryItemInOrder) {
  // A small ring, so that both the full and the empty paths are taken often. Bounded: a fixed
  // number of items, and the consumer stops once the producer is done and the ring is empty,
  // so a lost item fails the test instead of hanging it.
  constexpr uint64_t kItems = 200'000;
  SpscRing<uint64_t> ring(16);
  std::atomic<bool> done{false};
  std::thread producer([&] {
    for (uint64_t i = 1; i <= kItems;) {
      if (ring.try_push(i)) {
        ++i;
      } else {
        std::this_thread::yield();
      }
    }
    done.store(true, std::memory_order_release);
  });
  uint64_t received = 0;
  uint64_t out_of_order = 0;
  uint64_t last = 0;
  for (;;) {
    const bool finished = done.load(std::memory_order_acquire);
    uint64_t v = 0;
    if (ring.try_pop(v)) {
      ++received;
      if (v != last + 1) ++out_of_order;
      last = v;
    } else if (finished) {
      break;  // the producer was done before this failed pop: nothing is left
    } else {
      std::this_thread::yield();
    }
  }
  producer.join();
  EXPECT_EQ(received, kItems);
  EXPECT_EQ(out_of_order, 0u);
  EXPECT_EQ(last, kItems);
  EXPECT_EQ(ring.size(), 0u);
}

TEST(SpscRing, TwoThreadsPassPayloadsWrittenBeforeThePush) {
  // Release/acquire: what the producer wrote into an item before pushing its pointer is what
  // the consumer reads after popping it (TSan-visible if the orders were relaxed).
  constexpr size_t kSlots = 64;
  constexpr uint64_t kRounds = 50'000;
  struct Item {
    uint64_t a = 0;
    uint64_t b = 0;
  };
  std::vector<Item> items(kSlots);
  SpscRing<Item*> full(kSlots);
  SpscRing<Item*> free(kSlots);
  for (Item& it : items) ASSERT_TRUE(free.try_push(&it));
  std::atomic<bool> done{false};
  uint64_t produced = 0;
  std::thread producer([&] {
    // A lost item would leave the producer without free ones: bounded by a deadline.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (produced < kRounds && std::chrono::steady_clock::now() < deadline) {
      Item* it = nullptr;
      if (!free.try_pop(it)) {
        std::this_thread::yield();
        continue;
      }
      ++produced;
      it->a = produced;
      it->b = ~produced;
      while (!full.try_push(it)) std::this_thread::yield();
    }
    done.store(true, std::memory_order_release);
  });
  uint64_t next = 1;
  uint64_t torn = 0;
  for (;;) {
    const bool finished = done.load(std::memory_order_acquire);
    Item* it = nullptr;
    if (!full.try_pop(it)) {
      if (finished) break;
      std::this_thread::yield();
      continue;
    }
    if (it->a != next || it->b != ~next) ++torn;
    ++next;
    while (!free.try_push(it)) std::this_thread::yield();
  }
  producer.join();
  EXPECT_EQ(produced, kRounds);
  EXPECT_EQ(next, kRounds + 1);
  EXPECT_EQ(torn, 0u);
}

}  // namespace
}  // namespace flowgate::dataplane
