#pragma once

// The reference's port roll-up as plainly as it can be written, for checking
// exporter::PortRollup against it: the model tests (tests/export/aggregator_test.cpp) and the
// differential fuzz target (tests/fuzz/fuzz_port_rollup_diff.cpp).

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <tuple>

#include "export/port_rollup.hpp"

namespace flowgate::testing {

// Per generation, maps from (pair, side, port) to the set of peer ports, sets capped at the
// threshold; flows go to both generations (while neither side is at the threshold in that
// generation), queries read the current one, rotation forgets the current one. Pairs are two
// numbers (the tests' IPv4 addresses).
class ModelRollup {
 public:
  using EphemeralPort = exporter::EphemeralPort;

  explicit ModelRollup(uint32_t threshold) : threshold_(threshold) {}
  EphemeralPort add(uint32_t s, uint32_t d, uint16_t sp, uint16_t dp) {
    for (int g = 0; g < 2; ++g) {
      auto& src = gen_[g][{s, d, 0, sp}];
      auto& dst = gen_[g][{s, d, 1, dp}];
      if (src.size() < threshold_ && dst.size() < threshold_) {
        src.insert(dp);
        dst.insert(sp);
      }
    }
    const size_t a = gen_[current_][{s, d, 0, sp}].size();
    const size_t b = gen_[current_][{s, d, 1, dp}].size();
    if (a < threshold_ && b < threshold_) return EphemeralPort::kNone;
    return a >= b ? EphemeralPort::kDestination : EphemeralPort::kSource;
  }
  void rotate() {
    gen_[current_].clear();
    current_ ^= 1;
  }

 private:
  using Key = std::tuple<uint32_t, uint32_t, int, uint16_t>;
  uint32_t threshold_;
  std::map<Key, std::set<uint16_t>> gen_[2];
  int current_ = 0;
};

}  // namespace flowgate::testing
