#pragma once

// gtest expectations over a DecoderHarness, shared by the template-based decoder tests.

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/support/decoder_harness.hpp"

namespace flowgate::testing {

// One of DecoderHarness's decode calls: &DecoderHarness::netflow9, &DecoderHarness::ipfix, ...
using HarnessDecode = decode::DecodeStatus (DecoderHarness::*)(const std::vector<uint8_t>&);

// Decodes d in h and expects the fault `want`: the contract held and one more error counted.
inline void expect_fault(DecoderHarness& h, HarnessDecode decode, const std::vector<uint8_t>& d,
                         decode::DecodeStatus want) {
  const uint64_t before = h.counters.total_errors();
  EXPECT_EQ((h.*decode)(d), want);
  EXPECT_TRUE(h.contract_ok);
  EXPECT_EQ(h.counters.total_errors(), before + 1);
}

// The same in a fresh harness, where the one error counted is the one `want` names.
inline void expect_fault(HarnessDecode decode, const std::vector<uint8_t>& d,
                         decode::DecodeStatus want) {
  DecoderHarness h;
  expect_fault(h, decode, d, want);
  EXPECT_EQ(h.counters.error(want), 1u);
}

}  // namespace flowgate::testing
