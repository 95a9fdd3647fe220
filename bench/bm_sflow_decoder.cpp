// sFlow v5 decode throughput on one core, from memory: flow samples/s (items) and bytes/s.
// Datagrams are shaped like what switches and routers send: ~1400-byte datagrams of flow
// samples with 128-byte sampled headers, some with the extended records routers add, and
// counter samples mixed in. Blocks are recycled by the refill function, as the worker's pool
// does, so the figure is the decoder's own cost.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "decode/interface_counter_store.hpp"
#include "decode/sflow_decoder.hpp"
#include "tests/support/byte_writer.hpp"

namespace {

using flowgate::decode::DatagramMeta;
using flowgate::decode::DecodeCounters;
using flowgate::decode::DecodeStatus;
using flowgate::decode::FlowBlock;
using flowgate::decode::FlowOutput;
using flowgate::decode::InterfaceCounterStore;
using flowgate::decode::IpAddress;
using flowgate::testing::ByteWriter;
using Bytes = std::vector<uint8_t>;

FlowBlock* recycle(void* /*ctx*/, FlowBlock* full) noexcept {
  full->clear();
  return full;
}

Bytes record(uint32_t format, const ByteWriter& body) {
  ByteWriter w;
  w.u32(format).u32(static_cast<uint32_t>(body.size())).bytes(body.data());
  return w.data();
}

// A 128-byte sampled header: Ethernet, 802.1Q, IPv4 or IPv6, TCP, payload.
Bytes sampled_header(uint32_t i, bool ipv6) {
  ByteWriter h;
  h.bytes({0x74, 0x83, 0xef, 0x30, 0x65, 0xb7, 0x08, 0xec, 0xf5, 0x2a, 0x8f, 0xbe});
  h.u16(0x8100).u16(static_cast<uint16_t>(100 + i % 50)).u16(ipv6 ? 0x86dd : 0x0800);
  if (ipv6) {
    h.u32(0x60000000).u16(1440).u8(6).u8(64);
    h.u32(0x20010db8).u32(0).u32(0).u32(i);
    h.u32(0x2a001450).u32(0).u32(0).u32(i * 7);
  } else {
    h.u8(0x45).u8(0).u16(1500).u16(static_cast<uint16_t>(i)).u16(0x4000);
    h.u8(63).u8(6).u16(0).u32(0xb93bdc00 + i).u32(0x58ee4e00 + i * 3);
  }
  h.u16(443).u16(static_cast<uint16_t>(40000 + i)).u32(i).u32(i * 2).u8(0x80).u8(0x10);
  h.u16(500).u16(0).u16(0);
  h.bytes({1, 1, 8, 10}).u32(i).u32(i + 1);
  while (h.size() < 128) h.u8(static_cast<uint8_t>(h.size()));
  ByteWriter body;
  body.u32(1).u32(1514).u32(4).u32(128).bytes(h.data());
  return record(1, body);
}

Bytes extended_switch(uint32_t vlan) {
  ByteWriter w;
  w.u32(vlan).u32(0).u32(vlan).u32(0);
  return record(1001, w);
}

Bytes extended_router() {
  ByteWriter w;
  w.u32(1).ipv4(206, 72, 210, 70).u32(24).u32(19);
  return record(1002, w);
}

Bytes extended_gateway() {
  ByteWriter w;
  w.u32(1).ipv4(206, 72, 210, 70).u32(32160).u32(174).u32(174);
  w.u32(1).u32(2).u32(3).u32(3356).u32(2914).u32(15169).u32(0).u32(100);
  return record(1003, w);
}

Bytes flow_sample(uint32_t i, const std::vector<Bytes>& records, bool expanded) {
  ByteWriter w;
  if (expanded) {
    w.u32(i).u32(0).u32(1000100).u32(16383).u32(i * 16383).u32(0);
    w.u32(0).u32(1000100).u32(0).u32(1000018 + i % 8);
  } else {
    w.u32(i).u32(561).u32(4096).u32(i * 4096).u32(0).u32(561).u32(707 + i % 8);
  }
  w.u32(static_cast<uint32_t>(records.size()));
  for (const Bytes& r : records) w.bytes(r);
  return record(expanded ? 3 : 1, w);
}

Bytes counter_sample(uint32_t if_index) {
  ByteWriter g;
  g.u32(if_index).u32(6).u64(10'000'000'000ull).u32(1).u32(3).u64(123456789);
  for (int k = 0; k < 6; ++k) g.u32(1000 + k);
  g.u64(987654321);
  for (int k = 0; k < 6; ++k) g.u32(2000 + k);
  ByteWriter e;
  for (int k = 0; k < 13; ++k) e.u32(k);
  ByteWriter w;
  w.u32(if_index).u32(if_index).u32(2).bytes(record(1, g)).bytes(record(2, e));
  return record(2, w);
}

Bytes datagram(const std::vector<Bytes>& samples) {
  ByteWriter w;
  w.u32(5).u32(1).ipv4(192, 0, 2, 99).u32(1).u32(36195).u32(370955401);
  w.u32(static_cast<uint32_t>(samples.size()));
  for (const Bytes& s : samples) w.bytes(s);
  return w.data();
}

enum class Shape { kSwitchIpv4, kRouterIpv6, kMixed };

// 16 datagrams cycled, so the branch predictor cannot learn a single datagram.
std::vector<Bytes> make(Shape shape, uint64_t& flow_samples) {
  std::vector<Bytes> out;
  flow_samples = 0;
  for (uint32_t d = 0; d < 16; ++d) {
    std::vector<Bytes> samples;
    for (uint32_t s = 0; s < 7; ++s) {
      const uint32_t i = d * 7 + s;
      switch (shape) {
        case Shape::kSwitchIpv4:
          samples.push_back(
              flow_sample(i, {sampled_header(i, false), extended_switch(100)}, false));
          break;
        case Shape::kRouterIpv6:
          samples.push_back(flow_sample(
              i,
              {extended_switch(30), sampled_header(i, true), extended_router(), extended_gateway()},
              true));
          break;
        case Shape::kMixed:
          if (s == 3) {
            samples.push_back(counter_sample(i));
            continue;
          }
          samples.push_back(flow_sample(i, {sampled_header(i, (i & 1) != 0)}, false));
          break;
      }
    }
    flow_samples += shape == Shape::kMixed ? 6 : 7;
    out.push_back(datagram(samples));
  }
  return out;
}

void run(benchmark::State& state, Shape shape) {
  uint64_t samples_per_round = 0;
  const std::vector<Bytes> datagrams = make(shape, samples_per_round);
  uint64_t bytes_per_round = 0;
  for (const Bytes& d : datagrams) bytes_per_round += d.size();
  auto block = std::make_unique<FlowBlock>();
  FlowOutput out(block.get(), recycle, nullptr);
  InterfaceCounterStore store(1024);
  DecodeCounters counters;
  DatagramMeta meta;
  meta.exporter = IpAddress::from_v4(0xc0000263);
  meta.receive_ns = 1'700'000'000'000'000'000ull;
  for (auto _ : state) {
    for (const Bytes& d : datagrams) {
      const DecodeStatus s =
          flowgate::decode::decode_sflow(std::as_bytes(std::span(d)), meta, out, counters, &store);
      benchmark::DoNotOptimize(s);
    }
    benchmark::ClobberMemory();
  }
  if (counters.total_errors() != 0 ||
      counters.records != samples_per_round * static_cast<uint64_t>(state.iterations())) {
    state.SkipWithError("decode failed");
  }
  state.SetItemsProcessed(static_cast<int64_t>(samples_per_round) * state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes_per_round) * state.iterations());
}

void BM_SflowDecoder_SwitchIpv4(benchmark::State& state) { run(state, Shape::kSwitchIpv4); }
void BM_SflowDecoder_RouterIpv6(benchmark::State& state) { run(state, Shape::kRouterIpv6); }
void BM_SflowDecoder_MixedCounters(benchmark::State& state) { run(state, Shape::kMixed); }

BENCHMARK(BM_SflowDecoder_SwitchIpv4);
BENCHMARK(BM_SflowDecoder_RouterIpv6);
BENCHMARK(BM_SflowDecoder_MixedCounters);

}  // namespace
