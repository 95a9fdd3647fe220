// The dashboard window's cost per record on the exporter thread: a full FlowBlock summed into
// the current minute's bucket, with few keys (the tables hit) and with more distinct keys than
// the table holds (the tables full, misses going to "other").

#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>

#include "decode/flow_block.hpp"
#include "export/dashboard_window.hpp"

namespace {

using flowgate::decode::FlowBlock;
using flowgate::decode::IpAddress;

void fill(FlowBlock& b, uint32_t distinct) {
  uint64_t x = 0x9e3779b97f4a7c15ull;
  b.clear();
  while (!b.full()) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const uint32_t r = b.append_row();
    b.src_addr[r] = IpAddress::from_v4(0x0a000000 + static_cast<uint32_t>(x % distinct));
    b.dst_addr[r] = IpAddress::from_v4(0x0b000000 + static_cast<uint32_t>((x >> 20) % distinct));
    b.exporter_addr[r] = IpAddress::from_v4(0xc0000201 + static_cast<uint32_t>((x >> 40) % 4));
    b.src_port[r] = static_cast<uint16_t>(x >> 8);
    b.dst_port[r] = static_cast<uint16_t>((x >> 28) % distinct);
    b.protocol[r] = (x & 1) != 0 ? 6 : 17;
    b.bytes[r] = 64 + (x >> 50);
    b.packets[r] = 1;
  }
}

void run(benchmark::State& state, uint32_t distinct) {
  auto b = std::make_unique<FlowBlock>();
  fill(*b, distinct);
  flowgate::exporter::DashboardWindow w(15, 1024);
  uint64_t now_ms = 1'700'000'000'000;
  for (auto _ : state) {
    w.add(*b, now_ms);
    now_ms += 10;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * FlowBlock::kCapacity);
}

void BM_DashboardWindow_FewKeys(benchmark::State& state) { run(state, 200); }
void BM_DashboardWindow_TableFull(benchmark::State& state) { run(state, 50'000); }

BENCHMARK(BM_DashboardWindow_FewKeys);
BENCHMARK(BM_DashboardWindow_TableFull);

}  // namespace
