// Aggregation throughput on one core, from memory: records/s (items) through Aggregator::add and
// the flush that follows. One iteration is one flush interval of an exporter thread: 64 full
// FlowBlocks (65,536 records) are added, then the clock moves one interval on and every key is
// flushed. The port roll-up trackers are not rotated within a run (the default refresh is 300 s,
// hundreds of millions of records at these rates), so, as in production, they fill up when the
// traffic keeps bringing new address pairs.

#include <benchmark/benchmark.h>

#include <time.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "decode/flow_block.hpp"
#include "decode/flow_output.hpp"
#include "export/aggregator.hpp"
#include "export/huge_page_array.hpp"
#include "export/prefetch.hpp"

namespace {

using flowgate::decode::FlowBlock;
using flowgate::decode::FlowOutput;
using flowgate::decode::FlowType;
using flowgate::decode::IpAddress;
using flowgate::exporter::Aggregator;
using flowgate::exporter::AggregatorConfig;

constexpr uint32_t kBlocks = 64;
constexpr uint64_t kIntervalMs = 300'000;

struct Mix {
  uint64_t state = 0x9e3779b97f4a7c15ull;
  uint64_t next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
};

// The fields of one flow the aggregation key and merge rules look at.
struct Flow {
  uint32_t src;
  uint32_t dst;
  uint16_t src_port;
  uint16_t dst_port;
  uint8_t protocol;
};

void append(FlowBlock& b, const Flow& f, Mix& m) {
  const uint32_t r = b.append_row();
  const uint64_t x = m.next();
  b.exporter_addr[r] = IpAddress::from_v4(0xc0000201);
  b.src_addr[r] = IpAddress::from_v4(f.src);
  b.dst_addr[r] = IpAddress::from_v4(f.dst);
  b.next_hop[r] = IpAddress::from_v4(0x0a0000fe);
  b.src_port[r] = f.src_port;
  b.dst_port[r] = f.dst_port;
  b.protocol[r] = f.protocol;
  b.in_if[r] = 3;
  b.out_if[r] = 7;
  b.packets[r] = 1 + x % 100;
  b.bytes[r] = b.packets[r] * (64 + (x >> 8) % 1400);
  b.start_ms[r] = 1'700'000'000'000 + (x >> 20) % 60'000;
  b.end_ms[r] = b.start_ms[r] + (x >> 40) % 30'000;
  b.tcp_flags[r] = f.protocol == 6 ? static_cast<uint8_t>(0x10 | ((x >> 56) & 0x0f)) : 0;
  b.ether_type[r] = 0x0800;
  b.src_mask[r] = 24;
  b.dst_mask[r] = 24;
  b.flow_type[r] = FlowType::kNetflow9;
}

// Builds `count` full blocks; `flow(i, m)` gives record i.
template <typename F>
std::vector<std::unique_ptr<FlowBlock>> make_blocks(F&& flow, uint32_t count = kBlocks) {
  Mix m;
  std::vector<std::unique_ptr<FlowBlock>> blocks;
  uint32_t i = 0;
  for (uint32_t k = 0; k < count; ++k) {
    blocks.push_back(std::make_unique<FlowBlock>());
    while (!blocks.back()->full()) append(*blocks.back(), flow(i++, m), m);
  }
  return blocks;
}

// Where flushed records go: counted and discarded, as if encoded elsewhere.
struct Sink {
  std::unique_ptr<FlowBlock> block = std::make_unique<FlowBlock>();
  uint64_t records = 0;
  FlowOutput output{block.get(), &Sink::refill, this};

  static FlowBlock* refill(void* ctx, FlowBlock* full) noexcept {
    auto* self = static_cast<Sink*>(ctx);
    if (full != nullptr) {
      self->records += full->size;
      full->clear();
    }
    return full;
  }
  void drain() {
    records += block->size;
    block->clear();
  }
};

// Roll-up threshold 10 and `max_keys` keys; rollup_capacity: the default.
AggregatorConfig keys_config(uint32_t max_keys) {
  AggregatorConfig c;
  c.port_rollup_threshold = 10;
  c.max_keys = max_keys;
  return c;
}

// Adds the blocks, then moves the clock one flush interval on and flushes what is due (timed
// with the adds unless `flush_timed` is false), over and over.
void run(benchmark::State& state, const std::vector<std::unique_ptr<FlowBlock>>& blocks,
         AggregatorConfig c, bool flush_timed = true) {
  c.flush_interval_ms = kIntervalMs;
  c.rollup_refresh_ms = kIntervalMs * 1'000'000;
  Aggregator agg(c);
  Sink sink;
  uint64_t now = 1'700'000'000'000;
  uint64_t records = 0;
  for (auto _ : state) {
    for (const auto& b : blocks) {
      agg.add(*b, now, sink.output);
      records += b->size;
    }
    if (!flush_timed) state.PauseTiming();
    now += kIntervalMs;
    agg.flush_due(now, sink.output);
    sink.drain();
    if (!flush_timed) state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(records));
  state.counters["out_per_in"] = benchmark::Counter(
      records == 0 ? 0.0 : static_cast<double>(sink.records) / static_cast<double>(records));
  state.counters["flushed_early"] = benchmark::Counter(static_cast<double>(agg.flushed_early()),
                                                       benchmark::Counter::kAvgIterations);
}

// Every record a new key (a scan, or a collector behind many NATs): insert and flush only.
void BM_Aggregator_AllDistinct(benchmark::State& state) {
  const auto blocks = make_blocks([](uint32_t i, Mix& m) {
    return Flow{0x0a000000 | i, 0xc6336400 | static_cast<uint32_t>(m.next() & 0xff),
                static_cast<uint16_t>(1024 + i % 60000), 443, 6};
  });
  run(state, blocks, keys_config(1u << 18));
}

// 256 long-lived flows re-exported over and over: almost every record merges.
void BM_Aggregator_HeavyMerging(benchmark::State& state) {
  const auto blocks = make_blocks([](uint32_t i, Mix&) {
    const uint32_t f = i % 256;
    return Flow{0x0a000100 | f, 0xc6336401, static_cast<uint16_t>(40000 + f), 443, 6};
  });
  run(state, blocks, keys_config(1u << 18));
}

// Clients opening connections from fresh ephemeral ports to 64 servers: each pair passes the
// roll-up threshold after 10 ports, and then its flows merge under "*".
void BM_Aggregator_PortRollupChurn(benchmark::State& state) {
  const auto blocks = make_blocks([](uint32_t i, Mix& m) {
    const uint32_t pair = i % 64;
    return Flow{0x0a000200 | pair, 0xc6336500 | pair,
                static_cast<uint16_t>(32768 + m.next() % 28000), 443, 6};
  });
  run(state, blocks, keys_config(1u << 18));
}

// Distinct keys against a key bound of 4,096: every insert beyond it flushes the oldest early.
void BM_Aggregator_KeyBoundEviction(benchmark::State& state) {
  const auto blocks = make_blocks([](uint32_t i, Mix& m) {
    return Flow{0x0a000000 | i, 0xc6336400 | static_cast<uint32_t>(m.next() & 0xff),
                static_cast<uint16_t>(1024 + i % 60000), 443, 6};
  });
  run(state, blocks, keys_config(4096));
}

// One conversation of the ISP-like mixes below: a client, a server picked from the client's
// number, a fresh-looking client port, and DNS for one conversation in five.
Flow conversation(uint32_t conv) {
  return Flow{0x0a000000 | conv, 0x64400000 | (conv * 2654435761u >> 12),
              static_cast<uint16_t>(1024 + conv % 60000),
              static_cast<uint16_t>(conv % 5 == 0 ? 53 : 443),
              static_cast<uint8_t>(conv % 5 == 0 ? 17 : 6)};
}

// Adds the blocks over and over at one time and never moves the clock, so nothing is due:
// only the key bound writes records (when the traffic has more keys than it). With `warm`,
// one untimed pass first, so the timed ones measure a table that already holds the keys.
void run_without_flush(benchmark::State& state,
                       const std::vector<std::unique_ptr<FlowBlock>>& blocks, AggregatorConfig c,
                       bool warm) {
  c.flush_interval_ms = kIntervalMs * 1'000'000;
  c.rollup_refresh_ms = kIntervalMs * 1'000'000;
  Aggregator agg(c);
  Sink sink;
  const uint64_t now = 1'700'000'000'000;
  if (warm) {
    for (const auto& b : blocks) agg.add(*b, now, sink.output);
    sink.drain();
    sink.records = 0;
  }
  uint64_t records = 0;
  for (auto _ : state) {
    for (const auto& b : blocks) {
      agg.add(*b, now, sink.output);
      records += b->size;
    }
    sink.drain();
  }
  state.SetItemsProcessed(static_cast<int64_t>(records));
  state.counters["out_per_in"] = benchmark::Counter(
      records == 0 ? 0.0 : static_cast<double>(sink.records) / static_cast<double>(records));
}

// The shipped defaults under an ISP-like mix: 512 blocks (524,288 records) drawn from 2M
// conversations, a few of them heavy (a quarter of the records come from 4,096 conversations),
// against the default key bound of 200,000 and the default roll-up capacity. The table is full
// after the first pass and stays full: every new key flushes the oldest early, and the tables
// (about 40 MB of records, index and trackers) are far larger than the caches, as in production.
void BM_Aggregator_FullTableMix(benchmark::State& state) {
  const auto blocks = make_blocks(
      [](uint32_t, Mix& m) {
        const uint64_t x = m.next();
        return conversation((x & 3) == 0 ? static_cast<uint32_t>(x >> 8) % 4096
                                         : static_cast<uint32_t>(x >> 8) % 2'000'000);
      },
      512);
  run_without_flush(state, blocks, AggregatorConfig{}, false);  // the shipped defaults
}

// 512 blocks of flows drawn at random from `conversations` conversations.
std::vector<std::unique_ptr<FlowBlock>> random_conversation_blocks(uint32_t conversations) {
  return make_blocks(
      [conversations](uint32_t, Mix& m) {
        return conversation(static_cast<uint32_t>(m.next() >> 8) % conversations);
      },
      512);
}

// A key bound and roll-up capacity of 1,000,000: room for every key of these benchmarks.
AggregatorConfig holding_config() {
  AggregatorConfig c;
  c.max_keys = 1'000'000;
  c.rollup_capacity = 1'000'000;
  return c;
}

// A key bound that holds the whole working set, as an operator sizes it for a busy exporter:
// kConversations drawn at random against `max_keys` 1,000,000, so after the warm-up pass every
// record merges. With 300,000 (peerbench's traffic has ~288,000 keys) the ~60 MB of records,
// their index and the roll-up trackers are far larger than the caches; 20,000 and 2,000 run
// the same code on tables that fit them.
template <uint32_t kConversations>
void BM_Aggregator_LargeTableMerging(benchmark::State& state) {
  run_without_flush(state, random_conversation_blocks(kConversations), holding_config(), true);
}

// LargeTableMerging with port roll-up off (port_rollup_threshold = 0): no roll-up fingerprints,
// pair slots or decision. The difference from LargeTableMerging is what the roll-up costs.
template <uint32_t kConversations>
void BM_Aggregator_LargeTableMergingRollupOff(benchmark::State& state) {
  AggregatorConfig c = holding_config();
  c.port_rollup_threshold = 0;
  run_without_flush(state, random_conversation_blocks(kConversations), c, true);
}

// 300 blocks of new keys (307,200, about peerbench's) into an empty table of 1,000,000: the
// first five minutes of a busy exporter, index growth included. Between passes everything is
// flushed (not timed), so each pass starts from an empty table again.
void BM_Aggregator_FillFromEmpty(benchmark::State& state) {
  const auto blocks = make_blocks([](uint32_t i, Mix&) { return conversation(i); }, 300);
  run(state, blocks, holding_config(), false);
}

// One peerbench trial as a fresh collector meets it: a new aggregator (the shipped "auto" size
// here, 1,000,000 keys, and its roll-up trackers; made and faulted in untimed), then 288 blocks
// of new keys (294,912 conversations, each its own address pair: every one inserted, and a new
// pair for the roll-up), then, with state.range(0) passes, the same blocks again (every flow
// merged). Five passes are peerbench's v9 trial at 25k datagrams/s (21 % of its flows
// inserted); one pass is the inserts alone. state.range(1) = 0 turns the roll-up off
// (port_rollup_threshold = 0): the difference is what it costs a fresh table.
void BM_Aggregator_FreshTrial(benchmark::State& state) {
  const auto blocks = make_blocks([](uint32_t i, Mix&) { return conversation(i); }, 288);
  AggregatorConfig c = holding_config();
  c.flush_interval_ms = kIntervalMs * 1'000'000;
  c.rollup_refresh_ms = kIntervalMs * 1'000'000;
  if (state.range(1) == 0) c.port_rollup_threshold = 0;
  const auto passes = static_cast<uint32_t>(state.range(0));
  Sink sink;
  const uint64_t now = 1'700'000'000'000;
  uint64_t records = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto agg = std::make_unique<Aggregator>(c);
    state.ResumeTiming();
    for (uint32_t p = 0; p < passes; ++p) {
      for (const auto& b : blocks) {
        agg->add(*b, now, sink.output);
        records += b->size;
      }
    }
    state.PauseTiming();
    agg.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(records));
}

// LargeTableMerging<300000> as an exporter thread meets it at a low rate: one block, then a
// pause of state.range(0) microseconds before the next, as the thread waits for the worker.
// state.range(1) says how it waits: 0 asleep in nanosleep (as flowgate does), 1 spinning on
// the clock without touching memory. Only the adds are timed (manual time), so the figure is
// the cost per record of tables that waited that long. On a shared VM a sleep gives the core
// to others, who take the caches with them; a spin keeps it (issue 10's low-rate figures).
void BM_Aggregator_LargeTablePaced(benchmark::State& state) {
  const auto blocks = random_conversation_blocks(300000);
  AggregatorConfig c = holding_config();
  c.flush_interval_ms = kIntervalMs * 1'000'000;
  c.rollup_refresh_ms = kIntervalMs * 1'000'000;
  Aggregator agg(c);
  Sink sink;
  const uint64_t now = 1'700'000'000'000;
  for (const auto& b : blocks) agg.add(*b, now, sink.output);  // every key in the table
  sink.drain();
  const auto pause = std::chrono::microseconds(state.range(0));
  const bool spin = state.range(1) != 0;
  uint64_t records = 0;
  size_t next = 0;
  for (auto _ : state) {
    std::chrono::duration<double> adding{0};
    for (int i = 0; i < 32; ++i, next = (next + 1) % blocks.size()) {
      if (pause.count() != 0 && spin) {
        const auto until = std::chrono::steady_clock::now() + pause;
        while (std::chrono::steady_clock::now() < until) {
        }
      } else if (pause.count() != 0) {
        const timespec t{0, static_cast<long>(pause.count()) * 1000};
        nanosleep(&t, nullptr);
      }
      const auto t0 = std::chrono::steady_clock::now();
      agg.add(*blocks[next], now, sink.output);
      adding += std::chrono::steady_clock::now() - t0;
      records += blocks[next]->size;
    }
    state.SetIterationTime(adding.count());
  }
  state.SetItemsProcessed(static_cast<int64_t>(records));
}

// What the memory allows, for comparison with LargeTableMerging<300000>: the same three regions a
// merge of an IPv4 flow touches there (300,000 records of 192 bytes, an index of 2^21 8-byte
// buckets, the roll-up's 2^20 64-byte pair slots, all on huge pages), one random line in each of
// the first state.range(0) regions a "flow", read and written, and no other work. With
// state.range(1) = 1 each line is prefetched 16 flows ahead, as the aggregator's pipeline does;
// with 0 only the out-of-order core overlaps the misses. Its records/s is the ceiling that cache
// misses alone put on the aggregator on this machine.
void BM_Aggregator_MemoryBound(benchmark::State& state) {
  using flowgate::exporter::HugePageArray;
  struct alignas(64) Line {
    uint64_t words[8];
  };
  const size_t lines[3] = {300'000 * 3, (size_t{1} << 21) / 8, size_t{1} << 20};
  const size_t regions = static_cast<size_t>(state.range(0));
  std::vector<HugePageArray<Line>> memory;
  for (size_t t = 0; t < regions; ++t) memory.emplace_back(lines[t]);
  // Random lines drawn up front: a record's first line (every third), any bucket line, any slot.
  constexpr size_t kFlows = 1 << 20;
  std::vector<uint32_t> picks(kFlows * regions);
  Mix m;
  for (size_t f = 0; f < kFlows; ++f) {
    for (size_t t = 0; t < regions; ++t) {
      const size_t line = (m.next() >> 16) % lines[t];
      picks[f * regions + t] = static_cast<uint32_t>(t == 0 ? line - line % 3 : line);
    }
  }
  constexpr size_t kAhead = 16;
  uint64_t flows = 0;
  for (auto _ : state) {
    for (size_t f = 0; f < kFlows; ++f) {
      if (state.range(1) != 0 && f + kAhead < kFlows) {
        for (size_t t = 0; t < regions; ++t) {
          flowgate::exporter::prefetch(&memory[t][picks[(f + kAhead) * regions + t]]);
        }
      }
      for (size_t t = 0; t < regions; ++t) ++memory[t][picks[f * regions + t]].words[0];
    }
    flows += kFlows;
  }
  state.SetItemsProcessed(static_cast<int64_t>(flows));
}

// What a pause does to a random line, by the size of the region it is drawn from: blocks of
// 1,000 random lines of a state.range(0) MiB region on huge pages (each prefetched 16 ahead,
// read and written, as the aggregator's pipeline touches a table), with a sleep of
// state.range(1) µs before each block, as the exporter thread waits between blocks at low
// rates; only the blocks are timed. Why the lines merges touch are kept together.
void BM_Aggregator_RandomLinesAfterPause(benchmark::State& state) {
  using flowgate::exporter::HugePageArray;
  struct alignas(64) Line {
    uint64_t words[8];
  };
  const size_t lines = (static_cast<size_t>(state.range(0)) << 20) / sizeof(Line);
  HugePageArray<Line> memory(lines);
  constexpr size_t kBlock = 1000;
  constexpr size_t kPickedBlocks = 64;
  std::vector<uint32_t> picks(kBlock * kPickedBlocks);
  Mix m;
  for (uint32_t& p : picks) p = static_cast<uint32_t>((m.next() >> 16) % lines);
  const timespec pause{0, static_cast<long>(state.range(1)) * 1000};
  constexpr size_t kAhead = 16;
  uint64_t touched = 0;
  size_t block = 0;
  for (auto _ : state) {
    if (pause.tv_nsec != 0) nanosleep(&pause, nullptr);
    const uint32_t* p = &picks[block * kBlock];
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < kBlock; ++i) {
      if (i + kAhead < kBlock) flowgate::exporter::prefetch(&memory[p[i + kAhead]]);
      ++memory[p[i]].words[0];
    }
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
                               .count());
    touched += kBlock;
    block = (block + 1) % kPickedBlocks;
  }
  state.SetItemsProcessed(static_cast<int64_t>(touched));
}

BENCHMARK(BM_Aggregator_AllDistinct);
BENCHMARK(BM_Aggregator_MemoryBound)->ArgsProduct({{1, 2, 3}, {0, 1}});
BENCHMARK(BM_Aggregator_RandomLinesAfterPause)
    ->ArgsProduct({{4, 16, 64, 256}, {0, 1500}})
    ->Iterations(2000)  // 3 s of pauses a run: only the blocks count towards the time
    ->UseManualTime();
BENCHMARK(BM_Aggregator_LargeTablePaced)
    ->Args({0, 0})
    ->Args({350, 0})
    ->Args({350, 1})
    ->Args({1500, 0})
    ->Args({1500, 1})
    ->UseManualTime();
BENCHMARK(BM_Aggregator_HeavyMerging);
BENCHMARK(BM_Aggregator_PortRollupChurn);
BENCHMARK(BM_Aggregator_KeyBoundEviction);
BENCHMARK(BM_Aggregator_FullTableMix);
BENCHMARK(BM_Aggregator_FillFromEmpty);
BENCHMARK(BM_Aggregator_FreshTrial)
    ->ArgsProduct({{1, 5}, {0, 1}})
    ->Iterations(6)  // a fresh table each: ~0.4 GB faulted in, untimed
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_Aggregator_LargeTableMerging, 300000);
BENCHMARK_TEMPLATE(BM_Aggregator_LargeTableMerging, 20000);
BENCHMARK_TEMPLATE(BM_Aggregator_LargeTableMerging, 2000);
BENCHMARK_TEMPLATE(BM_Aggregator_LargeTableMergingRollupOff, 300000);
BENCHMARK_TEMPLATE(BM_Aggregator_LargeTableMergingRollupOff, 2000);

}  // namespace
