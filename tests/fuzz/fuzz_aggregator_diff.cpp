// Differential libFuzzer target for exporter::Aggregator (port roll-up off): the input is a
// sequence of flows and clock steps applied both to the aggregator and to a plain reference, a
// std::map from the key fields to the sums and the first flow's fields with a std::deque of the
// keys in first-seen order, following the rules aggregator.hpp documents:
//  - flows with the same (namespace, exporter, source, destination, input interface, source
//    port, destination port, protocol, ToS) merge: bytes and packets add, start is the minimum,
//    end the maximum, TCP flags are ORed, every other field keeps the first flow's value;
//  - rows of a block are taken in order; a new key when max_keys are live first writes out the
//    oldest (flushed early);
//  - flush_due(now) writes out, oldest first, every key first seen flush_interval or longer ago.
// Addresses come from a pool built to share their last four bytes (IPv4 10.0.0.1, the
// IPv4-compatible ::10.0.0.1, two IPv6 prefixes over 10.0.0.1, the absent all-zero address and
// ::ffff:0.0.0.0), so keys that differ only above the last four bytes of an address meet. Every
// written record must be the reference's next, field for field, and after each operation the
// counts (live, merged, flushed, flushed early) must agree. Any disagreement traps.
//
// The first byte sets max_keys (1 + byte % 16). Then one operation is 6 bytes:
//   [op][a][b][c][d][e]
//   op % 8: 0-4 a flow appended to the pending block, 5 the block added at now (then now += a),
//           6 now += 4 * a and flush_due(now), 7 flush_all
//   a flow: exporter pool[a & 7], source pool[a >> 3 & 7], destination pool[b & 7], source port
//           b >> 3 & 3, destination port 443 + (c & 1), protocol c & 2 ? TCP : UDP, ToS
//           c & 4 ? 0x20 : 0, input interface c >> 3 & 1, listener c >> 4 & 3 (listeners 0 and
//           1 share a namespace, 2 has its own, 3 is past the list), bytes d, packets d & 15,
//           output interface d >> 4, start 1000 + e, end start + (e >> 4), TCP flags e.
// What is left of the block at the end is added, then everything is flushed.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include "decode/flow_block.hpp"
#include "decode/flow_output.hpp"
#include "decode/ip_address.hpp"
#include "export/aggregator.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using flowgate::decode::FlowBlock;
using flowgate::decode::FlowOutput;
using flowgate::decode::IpAddress;
using flowgate::exporter::Aggregator;
using flowgate::exporter::AggregatorConfig;

constexpr uint64_t kFlushIntervalMs = 100;

std::array<IpAddress, 8> address_pool() {
  const auto v6 = [](uint8_t second, uint8_t last) {
    uint8_t b[16] = {0x20, second, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, last};
    return IpAddress::from_v6_bytes(b);
  };
  const uint8_t compatible[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1};
  return {IpAddress::from_v4(0x0a000001), IpAddress::from_v4(0x0a000002),
          IpAddress::from_v6_bytes(compatible), v6(0x01, 1), v6(0x02, 1), v6(0x01, 2),
          IpAddress{}, IpAddress::from_v4(0)};
}

using Addr = std::array<uint8_t, 16>;
using Key = std::tuple<uint16_t, Addr, Addr, Addr, uint32_t, uint16_t, uint16_t, uint8_t, uint8_t>;

struct Record {
  Addr exporter, src, dst;
  uint32_t in_if;
  uint16_t src_port, dst_port;
  uint8_t protocol, tos;
  uint64_t bytes, packets, start_ms, end_ms;
  uint8_t tcp_flags;
  uint32_t out_if;
  uint16_t listener;
  uint64_t first_seen_ms;
};

Record record_of(const FlowBlock& b, uint32_t r, uint64_t now) {
  return Record{b.exporter_addr[r].bytes, b.src_addr[r].bytes, b.dst_addr[r].bytes, b.in_if[r],
                b.src_port[r], b.dst_port[r], b.protocol[r], b.tos[r], b.bytes[r],
                b.packets[r], b.start_ms[r], b.end_ms[r], b.tcp_flags[r], b.out_if[r],
                b.listener[r], now};
}

class Reference {
 public:
  Reference(uint32_t max_keys, std::vector<uint16_t> listener_namespace)
      : max_keys_(max_keys), namespace_(std::move(listener_namespace)) {}

  void add(const FlowBlock& b, uint64_t now) {
    for (uint32_t r = 0; r < b.size; ++r) {
      const uint16_t l = b.listener[r];
      const Key k{l < namespace_.size() ? namespace_[l] : uint16_t{0}, b.exporter_addr[r].bytes,
                  b.src_addr[r].bytes, b.dst_addr[r].bytes, b.in_if[r], b.src_port[r],
                  b.dst_port[r], b.protocol[r], b.tos[r]};
      auto it = live_.find(k);
      if (it != live_.end()) {
        Record& m = it->second;
        m.bytes += b.bytes[r];
        m.packets += b.packets[r];
        m.start_ms = std::min(m.start_ms, b.start_ms[r]);
        m.end_ms = std::max(m.end_ms, b.end_ms[r]);
        m.tcp_flags |= b.tcp_flags[r];
        ++merged_;
        continue;
      }
      if (live_.size() == max_keys_) {
        emit_oldest();
        ++flushed_early_;
      }
      live_.emplace(k, record_of(b, r, now));
      order_.push_back(k);
    }
  }
  void flush_due(uint64_t now) {
    while (!order_.empty() && live_.at(order_.front()).first_seen_ms + kFlushIntervalMs <= now) {
      emit_oldest();
    }
  }
  void flush_all() {
    while (!order_.empty()) emit_oldest();
  }

  std::deque<Record>& written() { return written_; }
  uint64_t live() const { return live_.size(); }
  uint64_t merged() const { return merged_; }
  uint64_t flushed() const { return flushed_; }
  uint64_t flushed_early() const { return flushed_early_; }

 private:
  void emit_oldest() {
    written_.push_back(live_.at(order_.front()));
    live_.erase(order_.front());
    order_.pop_front();
    ++flushed_;
  }

  uint32_t max_keys_;
  std::vector<uint16_t> namespace_;
  std::map<Key, Record> live_;
  std::deque<Key> order_;
  std::deque<Record> written_;
  uint64_t merged_ = 0, flushed_ = 0, flushed_early_ = 0;
};

// Takes what the aggregator writes and checks each record against the reference's next one.
struct Checker {
  FlowBlock block;
  Reference* ref = nullptr;

  static FlowBlock* refill(void* ctx, FlowBlock* full) noexcept {
    auto* self = static_cast<Checker*>(ctx);
    if (full != nullptr) self->check_and_clear();
    return &self->block;
  }
  void check_and_clear() {
    for (uint32_t r = 0; r < block.size; ++r) {
      FLOWGATE_FUZZ_CHECK(!ref->written().empty());
      const Record& want = ref->written().front();
      const Record got = record_of(block, r, want.first_seen_ms);
      FLOWGATE_FUZZ_CHECK(got.exporter == want.exporter && got.src == want.src &&
                          got.dst == want.dst && got.in_if == want.in_if &&
                          got.src_port == want.src_port && got.dst_port == want.dst_port &&
                          got.protocol == want.protocol && got.tos == want.tos);
      FLOWGATE_FUZZ_CHECK(got.bytes == want.bytes && got.packets == want.packets &&
                          got.start_ms == want.start_ms && got.end_ms == want.end_ms &&
                          got.tcp_flags == want.tcp_flags && got.out_if == want.out_if &&
                          got.listener == want.listener && block.port_rollup[r] == 0);
      ref->written().pop_front();
    }
    block.clear();
  }
};

void append_flow(FlowBlock& b, const std::array<IpAddress, 8>& pool, const uint8_t* d) {
  const uint32_t r = b.append_row();
  b.exporter_addr[r] = pool[d[1] & 7];
  b.src_addr[r] = pool[d[1] >> 3 & 7];
  b.dst_addr[r] = pool[d[2] & 7];
  b.src_port[r] = static_cast<uint16_t>(d[2] >> 3 & 3);
  b.dst_port[r] = static_cast<uint16_t>(443 + (d[3] & 1));
  b.protocol[r] = (d[3] & 2) != 0 ? 6 : 17;
  b.tos[r] = (d[3] & 4) != 0 ? 0x20 : 0;
  b.in_if[r] = d[3] >> 3 & 1;
  b.listener[r] = d[3] >> 4 & 3;
  b.bytes[r] = d[4];
  b.packets[r] = d[4] & 15;
  b.out_if[r] = d[4] >> 4;
  b.start_ms[r] = 1000 + d[5];
  b.end_ms[r] = b.start_ms[r] + (d[5] >> 4);
  b.tcp_flags[r] = d[5];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto pool = address_pool();
  static auto* pending = new FlowBlock();
  static auto* checker = new Checker();
  if (size < 1) return 0;
  AggregatorConfig c;
  c.flush_interval_ms = kFlushIntervalMs;
  c.port_rollup_threshold = 0;
  c.rollup_capacity = 64;
  c.max_keys = 1 + data[0] % 16;
  c.listener_namespace = {0, 0, 1};
  Aggregator agg(c);
  Reference ref(c.max_keys, c.listener_namespace);
  pending->clear();
  checker->block.clear();
  checker->ref = &ref;
  FlowOutput out(&checker->block, &Checker::refill, checker);
  uint64_t now = 1'000'000;

  const auto add_pending = [&] {
    agg.add(*pending, now, out);
    ref.add(*pending, now);
    pending->clear();
  };
  const auto agree = [&] {
    checker->check_and_clear();
    FLOWGATE_FUZZ_CHECK(ref.written().empty());
    FLOWGATE_FUZZ_CHECK(agg.live() == ref.live() && agg.merged() == ref.merged() &&
                        agg.flushed() == ref.flushed() &&
                        agg.flushed_early() == ref.flushed_early() && agg.dropped() == 0);
  };
  for (size_t p = 1; p + 6 <= size; p += 6) {
    const uint8_t* d = data + p;
    switch (d[0] % 8) {
      case 5:
        add_pending();
        now += d[1];
        break;
      case 6:
        now += 4u * d[1];
        agg.flush_due(now, out);
        ref.flush_due(now);
        break;
      case 7:
        agg.flush_all(out);
        ref.flush_all();
        break;
      default:
        if (pending->full()) add_pending();
        append_flow(*pending, pool, d);
        continue;  // nothing to compare until the block is added
    }
    agree();
  }
  add_pending();
  agg.flush_all(out);
  ref.flush_all();
  agree();
  FLOWGATE_FUZZ_CHECK(agg.live() == 0);
  return 0;
}
