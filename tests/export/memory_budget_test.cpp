#include "export/memory_budget.hpp"

#include <gtest/gtest.h>

#include "export/aggregator.hpp"

namespace flowgate::exporter {
namespace {

constexpr const char* kMeminfo =
    "MemTotal:       24576000 kB\n"
    "MemFree:         1000000 kB\n"
    "MemAvailable:   16000000 kB\n"
    "Buffers:           10000 kB\n";

TEST(MemoryBudget, ReadsMemAvailableWithoutACgroupLimit) {
  for (const char* max : {"", "max\n"}) {
    const auto m = memory_available(kMeminfo, max, "123456\n");
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->bytes, 16'000'000ull * 1024);
    EXPECT_EQ(m->source, "MemAvailable");
  }
}

TEST(MemoryBudget, AContainersLimitLeavesWhatItsGroupDoesNotUse) {
  const auto m = memory_available(kMeminfo, "1073741824\n", "268435456\n");  // 1 GiB, 256 MiB used
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->bytes, 805'306'368u);
  EXPECT_EQ(m->source, "cgroup memory.max");
  EXPECT_EQ(memory_available(kMeminfo, "1000\n", "5000\n")->bytes, 0u) << "over its limit";
  // A limit above what the machine has: the machine's figure holds.
  EXPECT_EQ(memory_available(kMeminfo, "99999999999999\n", "0\n")->source, "MemAvailable");
}

TEST(MemoryBudget, NothingWhenMeminfoCannotBeRead) {
  EXPECT_FALSE(memory_available("", "", "").has_value());
  EXPECT_FALSE(memory_available("MemAvailable: lots\n", "", "").has_value());
}

TEST(MemoryBudget, HereReadsThisMachine) {
  const auto m = memory_available_here();
  ASSERT_TRUE(m.has_value()) << "/proc/meminfo has MemAvailable on every Linux since 3.14";
  EXPECT_GT(m->bytes, 0u);
}

// What the start-up check compares is what an aggregator then reserves.
TEST(MemoryBudget, AggregatorTableBytesAreWhatItReserves) {
  for (const uint32_t threshold : {0u, 10u}) {
    for (const uint32_t keys : {1u, 5'000u, 200'000u}) {
      AggregatorConfig c;
      c.port_rollup_threshold = threshold;
      c.max_keys = keys;
      c.rollup_capacity = std::max<uint32_t>(1024, keys);
      const Aggregator a(c);
      const uint64_t scratch = a.memory_bytes() - Aggregator::table_bytes(c);
      EXPECT_LT(scratch, 1u << 20) << "only the per-block scratch and the object itself";
      EXPECT_GT(Aggregator::table_bytes(c), 0u);
      if (keys == 200'000 && threshold == 10) {
        EXPECT_EQ(Aggregator::table_bytes(c), 77'594'624u) << "the default: 74 MiB";
      }
    }
  }
}

}  // namespace
}  // namespace flowgate::exporter
