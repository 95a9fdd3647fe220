// Decode throughput per protocol on one core, from memory: records/s (items) and bytes/s.
// Blocks are recycled by the refill function, as the worker's pool does, so the figure is the
// decoder's own cost.

#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "decode/datagram_decoder.hpp"
#include "tests/support/byte_writer.hpp"

namespace {

using flowgate::decode::DatagramMeta;
using flowgate::decode::DecodeCounters;
using flowgate::decode::FlowBlock;
using flowgate::decode::FlowOutput;
using flowgate::decode::IpAddress;
using flowgate::decode::TemplateCache;
using flowgate::testing::ByteWriter;

FlowBlock* recycle(void* /*ctx*/, FlowBlock* full) noexcept {
  full->clear();
  return full;
}

struct Field {
  uint16_t id;
  uint16_t length;
};

// A typical router template: addresses, ports, protocol, ToS, flags, interfaces, counters,
// times, masks, next hop, direction (18 fields, as Cisco IOS XR and Juniper export).
std::vector<Field> ipv4_fields() {
  return {{8, 4}, {12, 4}, {15, 4}, {7, 2}, {11, 2}, {4, 1}, {5, 1}, {6, 1}, {10, 4},
          {14, 4}, {1, 8}, {2, 8}, {22, 4}, {21, 4}, {9, 1}, {13, 1}, {61, 1}, {60, 1}};
}
std::vector<Field> ipv6_fields() {
  return {{27, 16}, {28, 16}, {62, 16}, {7, 2}, {11, 2}, {4, 1}, {5, 1}, {6, 1}, {10, 4},
          {14, 4}, {1, 8}, {2, 8}, {22, 4}, {21, 4}, {29, 1}, {30, 1}, {61, 1}, {60, 1}};
}

void write_record(ByteWriter& w, const std::vector<Field>& fields, uint32_t i) {
  for (const Field& f : fields) {
    for (uint16_t b = 0; b < f.length; ++b) w.u8(static_cast<uint8_t>((i * 7 + b * 13 + f.id) | 1));
  }
}

// One datagram with a template set followed by one with `records` data records.
std::vector<std::vector<uint8_t>> make_templated(bool ipfix, const std::vector<Field>& fields,
                                                 uint32_t records) {
  auto header = [&](ByteWriter& w) {
    if (ipfix) {
      w.u16(10).u16(0).u32(1700000000).u32(1).u32(0);
    } else {
      w.u16(9).u16(static_cast<uint16_t>(records)).u32(100000).u32(1700000000).u32(1).u32(0);
    }
  };
  ByteWriter t;
  header(t);
  t.u16(ipfix ? 2 : 0).u16(static_cast<uint16_t>(8 + 4 * fields.size()));
  t.u16(256).u16(static_cast<uint16_t>(fields.size()));
  for (const Field& f : fields) t.u16(f.id).u16(f.length);
  if (ipfix) t.patch_u16(2, static_cast<uint16_t>(t.size()));

  ByteWriter d;
  header(d);
  const size_t set_start = d.size();
  d.u16(256).u16(0);
  for (uint32_t i = 0; i < records; ++i) write_record(d, fields, i);
  d.patch_u16(set_start + 2, static_cast<uint16_t>(d.size() - set_start));
  if (ipfix) d.patch_u16(2, static_cast<uint16_t>(d.size()));
  return {t.data(), d.data()};
}

void run_templated(benchmark::State& state, bool ipfix, const std::vector<Field>& fields) {
  const uint32_t records = static_cast<uint32_t>(state.range(0));
  const auto datagrams = make_templated(ipfix, fields, records);
  auto templates = std::make_unique<TemplateCache>();
  auto block = std::make_unique<FlowBlock>();
  FlowOutput out(block.get(), &recycle, nullptr);
  DecodeCounters counters;
  DatagramMeta meta;
  meta.exporter = IpAddress::from_v4(0xc0000201);
  meta.exporter_port = 2055;
  flowgate::decode::decode_datagram(std::as_bytes(std::span(datagrams[0])), meta, *templates, out,
                                    counters);
  const auto data = std::as_bytes(std::span(datagrams[1]));
  for (auto _ : state) {
    flowgate::decode::decode_datagram(data, meta, *templates, out, counters);
    benchmark::DoNotOptimize(out.block()->size);
  }
  if (counters.total_errors() != 0) state.SkipWithError("decode errors");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * records);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}

void BM_Netflow9_DecodeIpv4(benchmark::State& s) { run_templated(s, false, ipv4_fields()); }
void BM_Netflow9_DecodeIpv6(benchmark::State& s) { run_templated(s, false, ipv6_fields()); }
void BM_Ipfix_DecodeIpv4(benchmark::State& s) { run_templated(s, true, ipv4_fields()); }
void BM_Ipfix_DecodeIpv6(benchmark::State& s) { run_templated(s, true, ipv6_fields()); }
// 24 records of 56 bytes fill a 1400-byte datagram, as exporters size them for a 1500 MTU.
BENCHMARK(BM_Netflow9_DecodeIpv4)->Arg(24);
BENCHMARK(BM_Netflow9_DecodeIpv6)->Arg(14);
BENCHMARK(BM_Ipfix_DecodeIpv4)->Arg(24);
BENCHMARK(BM_Ipfix_DecodeIpv6)->Arg(14);

void BM_Netflow5_Decode(benchmark::State& state) {
  ByteWriter w;
  w.u16(5).u16(30).u32(100000).u32(1700000000).u32(0).u32(1).u8(0).u8(0).u16(0x4064);
  for (uint32_t i = 0; i < 30; ++i) {
    w.u32(0x0a000001 + i).u32(0xc0a80001 + i).u32(0x0a0000fe).u16(1).u16(2).u32(10 + i)
        .u32(1500 * (10 + i)).u32(90000).u32(99000).u16(static_cast<uint16_t>(1024 + i)).u16(443)
        .u8(0).u8(0x1b).u8(6).u8(0).u16(65001).u16(65002).u8(24).u8(16).u16(0);
  }
  auto block = std::make_unique<FlowBlock>();
  FlowOutput out(block.get(), &recycle, nullptr);
  auto templates = std::make_unique<TemplateCache>();
  DecodeCounters counters;
  DatagramMeta meta;
  const auto data = w.span();
  for (auto _ : state) {
    flowgate::decode::decode_datagram(data, meta, *templates, out, counters);
    benchmark::DoNotOptimize(out.block()->size);
  }
  if (counters.total_errors() != 0) state.SkipWithError("decode errors");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 30);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_Netflow5_Decode);

}  // namespace
