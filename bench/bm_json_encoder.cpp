// JSON encoding throughput on one core, from memory: records/s (items) and output bytes/s. A
// full FlowBlock of varied, realistic rows is encoded into one reused batch buffer, as the
// exporter core does.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <string>

#include "decode/flow_block.hpp"
#include "export/json_encoder.hpp"

namespace {

using flowgate::decode::Direction;
using flowgate::decode::FlowBlock;
using flowgate::decode::FlowType;
using flowgate::decode::IpAddress;
using flowgate::exporter::EncoderConfig;
using flowgate::exporter::JsonEncoder;

// A small deterministic generator, so every run encodes the same rows.
struct Mix {
  uint64_t state = 0x9e3779b97f4a7c15ull;
  uint64_t next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
};

IpAddress v6_address(Mix& m, uint16_t first_group) {
  uint8_t b[16] = {static_cast<uint8_t>(first_group >> 8), static_cast<uint8_t>(first_group), 0x0d,
                   0xb8};
  const uint64_t x = m.next();
  // Mostly-zero interface identifiers, as real hosts have: exercises "::" compression.
  b[6] = static_cast<uint8_t>(x);
  b[7] = static_cast<uint8_t>(x >> 8);
  b[14] = static_cast<uint8_t>(x >> 16);
  b[15] = static_cast<uint8_t>(x >> 24);
  if ((x >> 32) % 3 == 0) {
    for (int i = 8; i < 14; ++i) b[i] = static_cast<uint8_t>(x >> (i * 4));
  }
  return IpAddress::from_v6_bytes(b);
}

void fill(FlowBlock& b, bool ipv6_share_all, int ipv6_every) {
  Mix m;
  b.clear();
  while (!b.full()) {
    const uint32_t r = b.append_row();
    const uint64_t x = m.next();
    const bool v6 =
        ipv6_share_all || (ipv6_every > 0 && r % static_cast<uint32_t>(ipv6_every) == 0);
    b.flow_type[r] = (x & 3) == 0   ? FlowType::kNetflow5
                     : (x & 3) == 1 ? FlowType::kNetflow9
                                    : FlowType::kIpfix;
    b.direction[r] = (x >> 2) % 8 == 0 ? Direction::kEgress : Direction::kIngress;
    b.sampling_rate[r] = (x >> 5) % 2 == 0 ? 0 : 1000;
    b.start_ms[r] = 1692077900'000 + (x >> 8) % 60'000;
    b.end_ms[r] = b.start_ms[r] + (x >> 20) % 30'000;
    b.packets[r] = 1 + (x >> 24) % 2000;
    b.bytes[r] = b.packets[r] * (40 + (x >> 36) % 1460);
    const unsigned proto = (x >> 40) % 10;
    b.protocol[r] = proto < 6 ? 6 : proto < 9 ? 17 : (v6 ? 58 : 1);
    b.tcp_flags[r] = b.protocol[r] == 6 ? static_cast<uint8_t>(0x10 | ((x >> 44) & 0x0f)) : 0;
    b.src_port[r] = static_cast<uint16_t>(
        b.protocol[r] == 6 && (x >> 48) % 2 ? 443 : 32768 + (x >> 48) % 28000);
    b.dst_port[r] = static_cast<uint16_t>((x >> 50) % 2 ? 443 : 1024 + (x >> 52) % 60000);
    b.in_if[r] = 1 + static_cast<uint32_t>(x >> 56) % 48;
    b.out_if[r] = 1 + static_cast<uint32_t>(x >> 58) % 48;
    const uint64_t y = m.next();
    if (v6) {
      b.ether_type[r] = 0x86dd;
      b.exporter_addr[r] = v6_address(m, 0x2001);
      b.src_addr[r] = v6_address(m, 0x2a02);
      b.dst_addr[r] = v6_address(m, 0x2001);
      b.next_hop[r] = (y & 1) ? v6_address(m, 0xfe80) : IpAddress{};
      b.src_mask[r] = 48;
      b.dst_mask[r] = 64;
    } else {
      b.ether_type[r] = 0x0800;
      b.exporter_addr[r] = IpAddress::from_v4(0x0ac80e00 | static_cast<uint32_t>(y & 0x0f));
      b.src_addr[r] = IpAddress::from_v4(static_cast<uint32_t>(y >> 8));
      b.dst_addr[r] = IpAddress::from_v4(0x0a000000 | (static_cast<uint32_t>(y >> 40) & 0xffffff));
      b.next_hop[r] = IpAddress::from_v4(0x0a0000fe);
      b.src_mask[r] = static_cast<uint8_t>(8 + (y >> 4) % 17);
      b.dst_mask[r] = 24;
    }
    b.src_mac[r] = (y >> 1) % 4 == 0 ? 0 : 0x02005e000000ull | ((y >> 16) & 0xffffff);
    b.dst_mac[r] = (y >> 1) % 4 == 0 ? 0 : 0x3c0cdb000000ull | ((y >> 32) & 0xffffff);
  }
}

EncoderConfig config() {
  EncoderConfig c;
  c.host = "collector-1";
  c.device_namespace = "namespace";
  c.tags = {{"site", "fra1"}};
  return c;
}

// `direct`: as RecordPipeline encodes, write() straight into a buffer that only grows, without
// encode()'s zero-filled room per record.
void run(benchmark::State& state, bool all_v6, int v6_every, bool direct = false) {
  auto block = std::make_unique<FlowBlock>();
  fill(*block, all_v6, v6_every);
  const JsonEncoder encoder(config());
  std::string batch;
  const size_t room = static_cast<size_t>(FlowBlock::kCapacity) * encoder.max_record_size();
  if (direct) {
    batch.assign(room, '\0');
  } else {
    batch.reserve(room);
  }
  size_t bytes = 0;
  for (auto _ : state) {
    if (direct) {
      char* p = batch.data();
      for (uint32_t r = 0; r < block->size; ++r) p = encoder.write(p, *block, r, 1692077978547);
      bytes += static_cast<size_t>(p - batch.data());
    } else {
      batch.clear();
      for (uint32_t r = 0; r < block->size; ++r) encoder.encode(*block, r, 1692077978547, batch);
      bytes += batch.size();
    }
    benchmark::DoNotOptimize(batch.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * block->size);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

void BM_JsonEncoder_Ipv4Block(benchmark::State& state) { run(state, false, 0); }
void BM_JsonEncoder_Ipv6Block(benchmark::State& state) { run(state, true, 0); }
// One IPv6 row in eight, as on a dual-stack ISP edge.
void BM_JsonEncoder_MixedBlock(benchmark::State& state) { run(state, false, 8); }
void BM_JsonEncoder_Ipv4BlockDirect(benchmark::State& state) { run(state, false, 0, true); }
void BM_JsonEncoder_MixedBlockDirect(benchmark::State& state) { run(state, false, 8, true); }

BENCHMARK(BM_JsonEncoder_Ipv4Block);
BENCHMARK(BM_JsonEncoder_Ipv4BlockDirect);
BENCHMARK(BM_JsonEncoder_Ipv6Block);
BENCHMARK(BM_JsonEncoder_MixedBlock);
BENCHMARK(BM_JsonEncoder_MixedBlockDirect);

}  // namespace
