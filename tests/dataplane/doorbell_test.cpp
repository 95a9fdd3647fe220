// The exporter's doorbell: a sleeper wakes when a producer rings after publishing work, at once
// when the work was already there, and after its timeout otherwise; no ring is ever lost
// between the sleeper's last look and its sleep. A shard rings when its full ring reaches the
// threshold, and only then.
#include "dataplane/doorbell.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#include "dataplane/decode_shard.hpp"
#include "dataplane/spsc_ring.hpp"
#include "tests/support/shard_feed.hpp"

namespace flowgate::dataplane {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kLongNs = 10'000'000'000;  // a wait that only a ring should end

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Waits (on another thread) until `bell` has a sleeper, bounded.
void until_sleeping(const Doorbell& bell) {
  for (int i = 0; i < 10'000 && !bell.sleeping(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(bell.sleeping());
}

TEST(Doorbell, ARingWithNobodyAsleepCostsNoWakeUp) {
  Doorbell bell;
  bell.ring();
  bell.ring();
  EXPECT_EQ(bell.wakes(), 0u);
  EXPECT_FALSE(bell.sleeping());
}

TEST(Doorbell, WorkAlreadyWaitingIsTakenWithoutSleeping) {
  Doorbell bell;
  const Clock::time_point start = Clock::now();
  bell.wait(kLongNs, [] { return true; });
  EXPECT_LT(seconds_since(start), 5.0);
  EXPECT_FALSE(bell.sleeping());
}

TEST(Doorbell, WithoutARingTheSleeperWakesAtItsTimeout) {
  Doorbell bell;
  const Clock::time_point start = Clock::now();
  bell.wait(50'000'000, [] { return false; });
  EXPECT_GE(seconds_since(start), 0.045);
  EXPECT_EQ(bell.wakes(), 0u);
  EXPECT_FALSE(bell.sleeping());
}

TEST(Doorbell, ARingWakesTheSleeperLongBeforeItsTimeout) {
  Doorbell bell;
  std::atomic<bool> work{false};
  const Clock::time_point start = Clock::now();
  std::thread sleeper([&] { bell.wait(kLongNs, [&] { return work.load(); }); });
  until_sleeping(bell);
  work.store(true);
  bell.ring();
  sleeper.join();
  EXPECT_LT(seconds_since(start), 5.0);
  EXPECT_EQ(bell.wakes(), 1u);
}

// A producer pushes items one by one and rings after each; the consumer takes what is there
// and sleeps whenever the ring is empty, with a timeout far longer than the whole run. A ring
// lost between the consumer's last look and its sleep would leave it asleep until then.
TEST(Doorbell, NoRingIsLostBetweenTheLastLookAndTheSleep) {
  constexpr uint64_t kItems = 200'000;
  constexpr uint64_t kTimeoutNs = 3'000'000'000;
  SpscRing<uint64_t> ring(64);
  Doorbell bell;
  std::atomic<bool> stop{false};  // the consumer gave up: the test stays bounded when it fails
  std::thread producer([&] {
    for (uint64_t i = 0; i < kItems && !stop.load(std::memory_order_relaxed);) {
      if (ring.try_push(i)) {
        ++i;
        bell.ring();
      } else if ((i & 7) == 0) {
        std::this_thread::yield();
      }
    }
  });
  uint64_t taken = 0, sum = 0, timeouts = 0;
  while (taken < kItems && timeouts == 0) {
    for (uint64_t v = 0; ring.try_pop(v);) {
      sum += v;
      ++taken;
    }
    if (taken == kItems) break;
    const Clock::time_point slept = Clock::now();
    bell.wait(kTimeoutNs, [&] { return ring.size() > 0; });
    if (seconds_since(slept) >= 2.9) ++timeouts;
  }
  stop.store(true);
  producer.join();
  for (uint64_t v = 0; ring.try_pop(v);) {
    sum += v;
    ++taken;
  }
  EXPECT_EQ(timeouts, 0u) << "a wait ran to its timeout with items waiting";
  EXPECT_EQ(taken, kItems);
  EXPECT_EQ(sum, kItems * (kItems - 1) / 2);
}

class ShardDoorbell : public ::testing::Test {
 protected:
  ShardDoorbell() : shard_(config()), payload_(testing::v5_feed_payload()) {}
  ~ShardDoorbell() override {
    if (sleeper_.joinable()) {
      bell_.ring();
      sleeper_.join();
    }
  }

  static ShardConfig config() {
    ShardConfig c;
    c.listener_types = {decode::FlowType::kNetflow5};
    c.blocks = 16;
    return c;
  }

  // Decodes datagrams until `blocks` more full blocks have gone to the ring.
  void fill(size_t blocks) {
    const uint64_t target = shard_.counters().blocks_sent + blocks;
    testing::feed_blocks(shard_, payload_, blocks);
    ASSERT_EQ(shard_.counters().blocks_sent, target);
  }

  // The exporter asleep: only a ring (or the 10 s timeout) ends its wait.
  void sleep_exporter() {
    sleeper_ = std::thread([this] { bell_.wait(kLongNs, [] { return false; }); });
    until_sleeping(bell_);
  }
  // Whether the sleeper was woken by a ring, waiting for it (bounded by its timeout).
  bool woken() {
    const Clock::time_point start = Clock::now();
    sleeper_.join();
    return seconds_since(start) < 5.0 && bell_.wakes() > 0;
  }

  Doorbell bell_;
  DecodeShard shard_;
  std::vector<uint8_t> payload_;
  std::thread sleeper_;
};

TEST_F(ShardDoorbell, HandOffsRingOnceTheRingHoldsTheThreshold) {
  shard_.set_doorbell(&bell_, 3);
  sleep_exporter();
  fill(2);
  EXPECT_TRUE(bell_.sleeping()) << "two blocks waiting: below the threshold";
  EXPECT_EQ(bell_.wakes(), 0u);
  fill(1);
  EXPECT_TRUE(woken());
  EXPECT_EQ(shard_.full_blocks().size(), 3u);
}

TEST_F(ShardDoorbell, AShardWithoutADoorbellNeverRings) {
  sleep_exporter();
  fill(4);
  EXPECT_TRUE(bell_.sleeping());
  EXPECT_EQ(bell_.wakes(), 0u);
}

}  // namespace
}  // namespace flowgate::dataplane
