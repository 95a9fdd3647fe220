// libFuzzer target for the sFlow v5 decoder. Seeds: tests/fuzz/seeds/sflow (one per sample and
// record type) and shared/corpus/{goflow2,vflow}/bin/sflow_*.bin.
//
// Besides memory safety (ASan/UBSan) it checks the decoder's contract: one error counter per
// faulty datagram, at most one row per flow sample, and every row attributed to sFlow.

#include <cstddef>
#include <cstdint>
#include <span>

#include "decode/interface_counter_store.hpp"
#include "decode/sflow_decoder.hpp"

namespace {

using flowgate::decode::DatagramMeta;
using flowgate::decode::DecodeCounters;
using flowgate::decode::DecodeStatus;
using flowgate::decode::FlowBlock;
using flowgate::decode::FlowOutput;
using flowgate::decode::FlowType;
using flowgate::decode::InterfaceCounterStore;

struct Sink {
  FlowBlock block;
  uint64_t rows = 0;
  bool bad_row = false;

  void check(const FlowBlock& b) noexcept {
    for (uint32_t r = 0; r < b.size; ++r) {
      bad_row = bad_row || b.flow_type[r] != FlowType::kSflow5 || b.packets[r] != 1;
    }
    rows += b.size;
  }
  static FlowBlock* refill(void* ctx, FlowBlock* full) noexcept {
    auto* self = static_cast<Sink*>(ctx);
    self->check(*full);
    full->clear();
    return full;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Sink* sink = new Sink();
  // Small, so that the fuzzer also reaches the full-table path.
  static InterfaceCounterStore* store = new InterfaceCounterStore(8);
  sink->block.clear();
  sink->rows = 0;
  sink->bad_row = false;

  FlowOutput out(&sink->block, &Sink::refill, sink);
  DecodeCounters counters;
  DatagramMeta meta;
  meta.receive_ns = 1'700'000'000'000'000'000ull;
  const DecodeStatus s = flowgate::decode::decode_sflow(std::as_bytes(std::span(data, size)), meta,
                                                        out, counters, store);
  sink->check(sink->block);

  if (counters.total_errors() != (s == DecodeStatus::kOk ? 0u : 1u)) __builtin_trap();
  if (counters.datagrams != 1) __builtin_trap();
  if (sink->rows != counters.records) __builtin_trap();
  if (counters.records + counters.block_unavailable != counters.sflow_flow_samples) {
    __builtin_trap();
  }
  if (sink->bad_row) __builtin_trap();
  if (store->size() > store->capacity()) __builtin_trap();
  if (store->size() == store->capacity()) store->clear();
  return 0;
}
