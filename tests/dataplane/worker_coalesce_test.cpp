#include <gtest/gtest.h>

#include <cstdint>

#include "dataplane/worker.hpp"

namespace flowgate::dataplane {
namespace {

constexpr uint64_t kMax = 8'000'000;  // the shipped receive_coalesce

// The waits a worker takes while datagrams come at `rate` a second: each wait gathers what
// arrives during it. Returns the wait after `steps` of them.
uint64_t settle(uint64_t wait_ns, uint64_t rate, int steps, uint64_t max_ns = kMax) {
  for (int i = 0; i < steps; ++i) {
    const uint64_t gathered = rate * wait_ns / 1'000'000'000;
    wait_ns = Worker::next_coalesce_ns(wait_ns, gathered, max_ns);
  }
  return wait_ns;
}

TEST(WorkerCoalesce, ATrickleWaitsTheLongestWait) {
  // 25,000 datagrams/s gather 200 in 8 ms: fewer than a wait aims for, so it stays at the most.
  EXPECT_EQ(settle(kMax, 25'000, 20), kMax);
  // From the shortest wait it climbs back, doubling a step.
  EXPECT_EQ(Worker::next_coalesce_ns(1'000'000, 10, kMax), 2'000'000u);
  EXPECT_EQ(settle(Worker::kMinCoalesceNs, 1'000, 20), kMax);
}

TEST(WorkerCoalesce, AHighRateGathersAboutTheSameFewHundredDatagrams) {
  for (const uint64_t rate : {100'000u, 200'000u, 500'000u, 1'000'000u}) {
    const uint64_t wait = settle(kMax, rate, 20);
    const uint64_t gathered = rate * wait / 1'000'000'000;
    EXPECT_GE(gathered, Worker::kCoalesceDatagrams / 2) << rate;
    EXPECT_LE(gathered, Worker::kCoalesceDatagrams * 2) << rate;
    EXPECT_LT(wait, kMax) << rate;
  }
  // 200,000 a second: ~1.3 ms, where a fixed 8 ms wait let 1,600 gather.
  const uint64_t at_200k = settle(kMax, 200'000, 20);
  EXPECT_GT(at_200k, 1'000'000u);
  EXPECT_LT(at_200k, 1'600'000u);
}

TEST(WorkerCoalesce, AJumpInRateHalvesTheWaitEachStep) {
  // From a trickle (8 ms) to 500,000 a second: 4,000 gathered, then 2,000, then 1,000 ...
  uint64_t wait = kMax;
  wait = Worker::next_coalesce_ns(wait, 4'000, kMax);
  EXPECT_EQ(wait, kMax / 2);
  wait = Worker::next_coalesce_ns(wait, 2'000, kMax);
  EXPECT_EQ(wait, kMax / 4);
}

TEST(WorkerCoalesce, StaysWithinItsBounds) {
  // A flood never takes it below the shortest wait, nor a pause above the longest.
  EXPECT_EQ(settle(kMax, 100'000'000, 40), Worker::kMinCoalesceNs);
  EXPECT_EQ(Worker::next_coalesce_ns(kMax, 0, kMax), kMax);
  // A receive buffer that holds only 64 us at 500,000 a second sets a longest wait under the
  // shortest one: the buffer wins.
  EXPECT_EQ(settle(64'000, 1'000, 10, 20'000), 20'000u);
  EXPECT_EQ(Worker::next_coalesce_ns(20'000, 100'000, 20'000), 20'000u);
}

}  // namespace
}  // namespace flowgate::dataplane
