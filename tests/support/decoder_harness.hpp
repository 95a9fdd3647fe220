#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "decode/datagram.hpp"
#include "decode/datagram_decoder.hpp"
#include "decode/decode_counters.hpp"
#include "decode/ip_address.hpp"
#include "decode/ipfix_decoder.hpp"
#include "decode/netflow5_decoder.hpp"
#include "decode/netflow9_decoder.hpp"
#include "decode/template_cache.hpp"
#include "tests/support/collecting_output.hpp"

namespace flowgate::testing {

inline decode::IpAddress ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return decode::IpAddress::from_v4((uint32_t{a} << 24) | (uint32_t{b} << 16) |
                                    (uint32_t{c} << 8) | d);
}

// One shard's decoding state for a test: a template cache, the collected records, counters,
// and the UDP source the next datagram comes from. decode_*() check the decoder's contract on
// every call: one datagram counted, and exactly one error counter for a faulty datagram.
class DecoderHarness {
 public:
  static constexpr uint64_t kReceiveNs = 1'700'000'000'000'000'000ull;

  explicit DecoderHarness(const decode::TemplateCacheLimits& limits = {},
                          size_t max_blocks = SIZE_MAX)
      : templates(limits), out(max_blocks) {
    meta.exporter = ipv4(192, 0, 2, 1);
    meta.exporter_port = 4444;
    meta.listener = 3;
    meta.receive_ns = kReceiveNs;
  }

  decode::DecodeStatus netflow5(const std::vector<uint8_t>& d) {
    return checked(d, [&](decode::Bytes b) {
      return decode::decode_netflow5(b, meta, out.output(), counters);
    });
  }
  decode::DecodeStatus netflow9(const std::vector<uint8_t>& d) {
    return checked(d, [&](decode::Bytes b) {
      return decode::decode_netflow9(b, meta, templates, out.output(), counters);
    });
  }
  decode::DecodeStatus ipfix(const std::vector<uint8_t>& d) {
    return checked(d, [&](decode::Bytes b) {
      return decode::decode_ipfix(b, meta, templates, out.output(), counters);
    });
  }
  decode::DecodeStatus any(const std::vector<uint8_t>& d) {
    return checked(d, [&](decode::Bytes b) {
      return decode::decode_datagram(b, meta, templates, out.output(), counters);
    });
  }

  size_t size() const { return out.size(); }
  // The i-th collected record.
  const decode::FlowBlock& block(size_t i) const { return *out.at(i).first; }
  uint32_t row(size_t i) const { return out.at(i).second; }

  decode::TemplateCache templates;
  CollectingOutput out;
  decode::DecodeCounters counters;
  decode::DatagramMeta meta;
  // Set by each decode_*(): whether the contract held for the last datagram.
  bool contract_ok = true;

 private:
  template <typename Fn>
  decode::DecodeStatus checked(const std::vector<uint8_t>& d, Fn&& fn) {
    const uint64_t errors = counters.total_errors();
    const uint64_t datagrams = counters.datagrams;
    const decode::DecodeStatus s = fn(std::as_bytes(std::span(d)));
    const uint64_t want = s == decode::DecodeStatus::kOk ? 0 : 1;
    contract_ok = counters.total_errors() == errors + want &&
                  counters.datagrams == datagrams + 1 &&
                  (s == decode::DecodeStatus::kOk || counters.error(s) > 0);
    return s;
  }
};

// A record field of the collected output, for EXPECT_EQ(field(h, 0, &FlowBlock::bytes), 10u).
template <typename Column>
auto field(const DecoderHarness& h, size_t i, Column decode::FlowBlock::* column) {
  return (h.block(i).*column)[h.row(i)];
}

}  // namespace flowgate::testing
