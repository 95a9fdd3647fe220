// Differential libFuzzer target for exporter::Aggregator with port roll-up on: the same flows,
// blocks and clock steps go to an aggregator whose settled flows skip the roll-up (as shipped)
// and to one where every flow consults it (AggregatorConfig::settle = false). Skipping is only
// allowed where consulting would change nothing, so both must write the same records in the
// same order, field for field with their roll-up marks, and keep the same counts. Tables are
// tiny (8 roll-up pairs, 32 key slots, 1-16 keys) and the trackers rotate every 8 ms of the
// fuzzer's clock, so pairs spill, go untracked, age out and come back, and records are written
// early, all within the few rows a block keeps in flight. Any disagreement traps.
//
// The first byte sets the threshold ({1, 2, 3, 10}[byte & 3]) and max_keys (1 + (byte >> 2)).
// Then one operation is 5 bytes:
//   [op][a][b][c][d]
//   op % 8: 0-4 a flow appended to the pending block, 5 the block added at now (then now += a & 3),
//           6 now += a & 15 and flush_due(now), 7 flush_all
//   a flow: source pool[a & 3], destination pool[a >> 2 & 3], source port 1000 + (b & 7),
//           destination port 80 + (b >> 3 & 7), exporter c & 1, protocol c & 2 ? TCP : UDP,
//           bytes d, TCP flags d.
// What is left of the block at the end is added, then everything is flushed.

#include <array>
#include <cstddef>
#include <cstdint>
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

struct Record {
  std::array<uint8_t, 16> exporter, src, dst;
  uint16_t src_port, dst_port;
  uint8_t protocol, rollup, tcp_flags;
  uint64_t bytes;

  bool operator==(const Record&) const = default;
};

// Collects what one aggregator writes.
struct Written {
  FlowBlock block;
  std::vector<Record> records;

  static FlowBlock* refill(void* ctx, FlowBlock* full) noexcept {
    auto* self = static_cast<Written*>(ctx);
    if (full != nullptr) self->take();
    return &self->block;
  }
  void take() {
    for (uint32_t r = 0; r < block.size; ++r) {
      records.push_back(Record{block.exporter_addr[r].bytes, block.src_addr[r].bytes,
                               block.dst_addr[r].bytes, block.src_port[r], block.dst_port[r],
                               block.protocol[r], block.port_rollup[r], block.tcp_flags[r],
                               block.bytes[r]});
    }
    block.clear();
  }
};

void append_flow(FlowBlock& b, const std::array<IpAddress, 4>& pool, const uint8_t* d) {
  const uint32_t r = b.append_row();
  b.src_addr[r] = pool[d[1] & 3];
  b.dst_addr[r] = pool[d[1] >> 2 & 3];
  b.src_port[r] = static_cast<uint16_t>(1000 + (d[2] & 7));
  b.dst_port[r] = static_cast<uint16_t>(80 + (d[2] >> 3 & 7));
  b.exporter_addr[r] = IpAddress::from_v4(0xc0000200 | (d[3] & 1));
  b.protocol[r] = (d[3] & 2) != 0 ? 6 : 17;
  b.bytes[r] = d[4];
  b.packets[r] = 1;
  b.start_ms[r] = 1000;
  b.end_ms[r] = 2000;
  b.tcp_flags[r] = d[4];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::array<IpAddress, 4> pool = [] {
    const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1};
    return std::array<IpAddress, 4>{IpAddress::from_v4(0x0a000001), IpAddress::from_v4(0x0a000002),
                                    IpAddress::from_v4(0xc0a80001), IpAddress::from_v6_bytes(v6)};
  }();
  static auto* pending = new FlowBlock();
  static auto* settling_out = new Written();
  static auto* consulting_out = new Written();
  if (size < 1) return 0;
  AggregatorConfig c;
  c.flush_interval_ms = 20;
  c.rollup_refresh_ms = 8;
  c.port_rollup_threshold = std::array<uint32_t, 4>{1, 2, 3, 10}[data[0] & 3];
  c.rollup_capacity = 16;
  c.max_keys = 1 + (data[0] >> 2) % 16;
  Aggregator settling(c);
  c.settle = false;
  Aggregator consulting(c);
  pending->clear();
  for (Written* w : {settling_out, consulting_out}) {
    w->block.clear();
    w->records.clear();
  }
  FlowOutput settling_sink(&settling_out->block, &Written::refill, settling_out);
  FlowOutput consulting_sink(&consulting_out->block, &Written::refill, consulting_out);
  uint64_t now = 1'000'000;

  const auto add_pending = [&] {
    settling.add(*pending, now, settling_sink);
    consulting.add(*pending, now, consulting_sink);
    pending->clear();
  };
  const auto agree = [&] {
    settling_out->take();
    consulting_out->take();
    FLOWGATE_FUZZ_CHECK(settling_out->records == consulting_out->records);
    settling_out->records.clear();
    consulting_out->records.clear();
    FLOWGATE_FUZZ_CHECK(settling.live() == consulting.live() &&
                        settling.merged() == consulting.merged() &&
                        settling.flushed() == consulting.flushed() &&
                        settling.flushed_early() == consulting.flushed_early() &&
                        settling.rollup_untracked() == consulting.rollup_untracked() &&
                        consulting.settled() == 0);
  };
  for (size_t p = 1; p + 5 <= size; p += 5) {
    const uint8_t* d = data + p;
    switch (d[0] % 8) {
      case 5:
        add_pending();
        now += d[1] & 3;
        break;
      case 6:
        now += d[1] & 15;
        settling.flush_due(now, settling_sink);
        consulting.flush_due(now, consulting_sink);
        break;
      case 7:
        settling.flush_all(settling_sink);
        consulting.flush_all(consulting_sink);
        break;
      default:
        if (pending->full()) add_pending();
        append_flow(*pending, pool, d);
        continue;  // nothing to compare until the block is added
    }
    agree();
  }
  add_pending();
  settling.flush_all(settling_sink);
  consulting.flush_all(consulting_sink);
  agree();
  FLOWGATE_FUZZ_CHECK(settling.live() == 0);
  return 0;
}
