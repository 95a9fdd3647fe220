#pragma once

// Shared by the NetFlow / IPFIX / datagram fuzz targets: a block sink that survives across
// inputs, the decoder contract every input must keep, and the whole target of a
// template-based decoder (NetFlow v9, IPFIX). A broken contract traps, so the
// fuzzer reports it as a crash with the input that broke it.

#include <cstddef>
#include <cstdint>
#include <span>

#include "decode/datagram.hpp"
#include "decode/decode_counters.hpp"
#include "decode/flow_block.hpp"
#include "decode/flow_output.hpp"
#include "decode/flow_type.hpp"
#include "decode/ip_address.hpp"
#include "decode/template_cache.hpp"

namespace flowgate::fuzz {

#define FLOWGATE_FUZZ_CHECK(cond) \
  do {                            \
    if (!(cond)) __builtin_trap(); \
  } while (0)

// One FlowBlock reused for ever. Its refill hands the full block "downstream" (checks and
// clears it) and every third time reports no free block, so that block_unavailable is reached
// and the next datagram starts without a block.
class BlockSink {
 public:
  // Starts an input: returns the FlowOutput to decode into.
  decode::FlowOutput begin(decode::FlowType expected) noexcept {
    expected_ = expected;
    rows_ = 0;
    base_ = has_block_ ? block_.size : 0;
    return decode::FlowOutput(has_block_ ? &block_ : nullptr, &BlockSink::refill, this);
  }
  // Ends an input; returns the rows appended during it.
  uint64_t end(const decode::FlowOutput& out) noexcept {
    has_block_ = out.block() != nullptr;
    if (has_block_) take(block_);
    return rows_;
  }

 private:
  static decode::FlowBlock* refill(void* ctx, decode::FlowBlock* full) noexcept {
    auto* self = static_cast<BlockSink*>(ctx);
    if (full != nullptr) {
      FLOWGATE_FUZZ_CHECK(full == &self->block_ && full->full());
      self->take(*full);
      full->clear();
      self->base_ = 0;
    }
    if (++self->refills_ % 3 == 0) return nullptr;
    return &self->block_;
  }
  void take(const decode::FlowBlock& b) noexcept {
    FLOWGATE_FUZZ_CHECK(b.size <= decode::FlowBlock::kCapacity && base_ <= b.size);
    for (uint32_t r = base_; r < b.size; ++r) {
      FLOWGATE_FUZZ_CHECK(expected_ == decode::FlowType::kUnknown || b.flow_type[r] == expected_);
      FLOWGATE_FUZZ_CHECK(b.direction[r] == decode::Direction::kIngress ||
                          b.direction[r] == decode::Direction::kEgress);
      FLOWGATE_FUZZ_CHECK(b.port_rollup[r] == 0);
    }
    // The columns the block knows to be zero are, in every row: the decoder skips them.
    FLOWGATE_FUZZ_CHECK(decode::zero_columns_hold(b));
    rows_ += b.size - base_;
    base_ = b.size;
  }

  decode::FlowBlock block_;
  bool has_block_ = true;
  decode::FlowType expected_ = decode::FlowType::kUnknown;
  uint32_t base_ = 0;
  uint64_t rows_ = 0;
  uint64_t refills_ = 0;
};

// The contract of one decoded datagram: one datagram counted, exactly one error counter for a
// fault (the one named by the status), and one row per counted record.
inline void check_datagram(decode::DecodeStatus s, const decode::DecodeCounters& c,
                           uint64_t rows) noexcept {
  FLOWGATE_FUZZ_CHECK(s < decode::DecodeStatus::kCount);
  FLOWGATE_FUZZ_CHECK(c.datagrams == 1);
  FLOWGATE_FUZZ_CHECK(c.total_errors() == (s == decode::DecodeStatus::kOk ? 0u : 1u));
  FLOWGATE_FUZZ_CHECK(s == decode::DecodeStatus::kOk || c.error(s) == 1);
  FLOWGATE_FUZZ_CHECK(rows == c.records);
}

// The template cache's bounds hold whatever the input.
inline void check_cache(decode::TemplateCache& t) noexcept {
  const decode::TemplateCacheLimits& l = t.limits();
  FLOWGATE_FUZZ_CHECK(t.exporter_count() <= l.max_exporters);
  FLOWGATE_FUZZ_CHECK(t.template_count() <= l.max_templates);
  FLOWGATE_FUZZ_CHECK(t.pending_live() <= l.max_pending_sets);
  uint64_t templates = 0, sets = 0, bytes = 0;
  for (uint32_t i = 0; i < t.exporter_count(); ++i) {
    const decode::ExporterState& e = t.exporter(i);
    FLOWGATE_FUZZ_CHECK(e.templates <= l.max_templates_per_exporter);
    FLOWGATE_FUZZ_CHECK(e.pending_bytes <= l.pending_bytes_per_exporter);
    FLOWGATE_FUZZ_CHECK(e.domain_count <= decode::ExporterState::kMaxDomains);
    FLOWGATE_FUZZ_CHECK(e.sampler_count <= decode::ExporterState::kMaxSamplers);
    templates += e.templates;
    sets += e.pending_sets;
    bytes += e.pending_bytes;
  }
  FLOWGATE_FUZZ_CHECK(templates == t.template_count());
  FLOWGATE_FUZZ_CHECK(sets == t.pending_live());
  FLOWGATE_FUZZ_CHECK(bytes <= l.pending_bytes);
}

// Small bounds, so that inputs reach the full-table, eviction and limit paths quickly.
inline decode::TemplateCacheLimits small_limits() noexcept {
  decode::TemplateCacheLimits l;
  l.max_exporters = 4;
  l.max_templates = 24;
  l.max_templates_per_exporter = 16;
  l.pending_bytes = 4096;
  l.pending_bytes_per_exporter = 3000;
  l.max_pending_sets = 8;
  l.pending_ttl_ns = 2'000'000'000;
  return l;
}

// The exporter every single-decoder target pretends an input came from: 192.0.2.1:port.
inline decode::DatagramMeta exporter_meta(uint16_t port, uint64_t receive_ns) noexcept {
  decode::DatagramMeta meta;
  meta.exporter = decode::IpAddress::from_v4(0xc0000201);
  meta.exporter_port = port;
  meta.receive_ns = receive_ns;
  return meta;
}

// Decodes one input into `sink` with `decode(out)` and checks the datagram contract; returns
// the decoder's status.
template <typename Decode>
decode::DecodeStatus decode_checked(BlockSink& sink, decode::FlowType expected,
                                    const decode::DecodeCounters& counters, Decode&& decode) {
  decode::FlowOutput out = sink.begin(expected);
  const decode::DecodeStatus s = decode(out);
  const uint64_t rows = sink.end(out);
  check_datagram(s, counters, rows);
  return s;
}

// A template-based decoder: decode_netflow9 or decode_ipfix.
using TemplateDecoder = decode::DecodeStatus (*)(decode::Bytes, const decode::DatagramMeta&,
                                                 decode::TemplateCache&, decode::FlowOutput&,
                                                 decode::DecodeCounters&);

// The whole fuzz target of a template-based decoder. One TemplateCache with small bounds lives
// across inputs, so that a template from one input decodes (or releases held) data of a later
// one, and the limit, eviction and expiry paths are reached. Every input checks the decoder's
// contract and the cache's bounds.
inline int fuzz_template_decoder(const uint8_t* data, size_t size, TemplateDecoder decoder,
                                 decode::FlowType type, uint16_t port) {
  static auto* sink = new BlockSink();
  static auto* templates = new decode::TemplateCache(small_limits());
  static uint64_t inputs = 0;
  static uint64_t now_ns = 1'700'000'000'000'000'000ull;
  // Time moves 100 ms per input; held data expires after 2 s. A fresh cache now and then
  // keeps a long run from settling into a full one.
  now_ns += 100'000'000;
  if (++inputs % 16 == 0) templates->expire_pending(now_ns);
  if (inputs % 4096 == 0) {
    delete templates;
    templates = new decode::TemplateCache(small_limits());
  }

  const decode::DatagramMeta meta = exporter_meta(port, now_ns);
  decode::DecodeCounters counters;
  const auto bytes = std::as_bytes(std::span(data, size));
  decode_checked(*sink, type, counters, [&](decode::FlowOutput& out) {
    return decoder(bytes, meta, *templates, out, counters);
  });
  check_cache(*templates);
  return 0;
}

}  // namespace flowgate::fuzz
