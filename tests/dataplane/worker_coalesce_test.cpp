#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/worker.hpp"
#include "tests/support/udp_port_holder.hpp"

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

// A burst read full and then nothing more in the socket is an emptied socket, as a shorter burst
// is: the worker waits for datagrams to gather. (A sender that sends in batches of exactly a
// burst was otherwise read one batch per wake-up in epoll_wait, never waited for.) Exactly one
// burst, 32 datagrams, waits in the socket when the worker starts.
TEST(WorkerCoalesce, AFullBurstAndThenNothingIsAnEmptiedSocket) {
  int held = -1;
  uint16_t port = 0;
  ASSERT_NO_FATAL_FAILURE(testing::hold_loopback_udp_port(false, held, port));
  close(held);
  WorkerConfig wc;
  wc.listeners = {{"127.0.0.1", port, 0}};
  wc.listener_types = {decode::FlowType::kNetflow5};
  wc.blocks = 8;
  Worker worker(wc);
  std::string error;
  ASSERT_TRUE(worker.open(error)) << error;
  ASSERT_EQ(wc.burst, 32u);
  const int sender = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sender, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(port);
  std::vector<uint8_t> v5(24 + 48, 0);  // a NetFlow v5 header and one record
  v5[1] = 5;
  v5[3] = 1;
  for (uint32_t i = 0; i < wc.burst; ++i) {
    ASSERT_EQ(sendto(sender, v5.data(), v5.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                     sizeof to),
              static_cast<ssize_t>(v5.size()));
  }
  close(sender);
  worker.start();
  WorkerCounters c;
  for (int i = 0; i < 500 && (c.datagrams_received < wc.burst || c.coalesce_waits == 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    c = worker.shard().worker_counters();
  }
  worker.request_stop();
  worker.join();
  EXPECT_EQ(c.datagrams_received, wc.burst);
  EXPECT_EQ(c.receive_calls, 1u) << "one full burst";
  EXPECT_EQ(c.coalesce_waits, 1u) << "the emptied socket was waited on";
}

}  // namespace
}  // namespace flowgate::dataplane
