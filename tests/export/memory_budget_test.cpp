#include "export/memory_budget.hpp"

#include <gtest/gtest.h>

#include "config/config.hpp"
#include "export/aggregator.hpp"
#include "export/record_pipeline.hpp"

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
        EXPECT_EQ(Aggregator::table_bytes(c), 96'468'992u) << "the default: 92 MiB";
      }
    }
  }
}

// max_keys = "auto": a machine with memory to spare gets the cap; a smaller one the most keys
// whose tables take an eighth of what is available, so that one more key would not fit; a
// tiny one the floor (which the start-up check may then refuse).
TEST(MemoryBudget, AutoMaxKeysTakesAnEighthOfWhatIsAvailable) {
  config::Config c;  // the shipped aggregation settings
  EXPECT_EQ(auto_max_keys(c, 24ull << 30), kAutoMaxKeys);
  EXPECT_GT(aggregation_table_bytes(c, kAutoMaxKeys), 200ull << 20)
      << "the cap is a few hundred MB";
  EXPECT_LT(aggregation_table_bytes(c, kAutoMaxKeys), 450ull << 20);
  for (const uint64_t available : {256ull << 20, 1ull << 30, 2ull << 30}) {
    const uint32_t keys = auto_max_keys(c, available);
    EXPECT_GT(keys, kAutoMinKeys) << available;
    EXPECT_LT(keys, kAutoMaxKeys) << available;
    EXPECT_LE(aggregation_table_bytes(c, keys), available / 8) << available;
    EXPECT_GT(aggregation_table_bytes(c, keys + 1), available / 8) << available;
  }
  EXPECT_LT(auto_max_keys(c, 256ull << 20), auto_max_keys(c, 1ull << 30));
  EXPECT_EQ(auto_max_keys(c, 1u << 20), kAutoMinKeys);
  // Without the roll-up there is less to hold, so more keys fit the same memory.
  config::Config no_rollup;
  no_rollup.aggregation.port_rollup_threshold = 0;
  EXPECT_GT(auto_max_keys(no_rollup, 1ull << 30), auto_max_keys(c, 1ull << 30));
}

}  // namespace
}  // namespace flowgate::exporter
