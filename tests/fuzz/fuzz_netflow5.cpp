// libFuzzer target for the NetFlow v5 decoder. Seeds: tests/fuzz/seeds/netflow5 (one per fault)
// and the corpus captures (shared/corpus/**/*.dat, *.bin).
//
// Besides memory safety (ASan/UBSan) it checks the decoder's contract: one error counter per
// faulty datagram, one row per record, and every announced record either a row or counted as
// block_unavailable.

#include <cstddef>
#include <cstdint>
#include <span>

#include "decode/netflow5_decoder.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using flowgate::decode::DecodeCounters;
using flowgate::decode::DecodeStatus;
using flowgate::decode::FlowOutput;
using flowgate::decode::FlowType;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* sink = new flowgate::fuzz::BlockSink();
  const flowgate::decode::DatagramMeta meta =
      flowgate::fuzz::exporter_meta(2055, 1'700'000'000'000'000'000ull);

  DecodeCounters counters;
  const DecodeStatus s =
      flowgate::fuzz::decode_checked(*sink, FlowType::kNetflow5, counters, [&](FlowOutput& out) {
        return flowgate::decode::decode_netflow5(std::as_bytes(std::span(data, size)), meta, out,
                                                 counters);
      });
  if (s == DecodeStatus::kOk) {
    const uint32_t count = (uint32_t{data[2]} << 8) | data[3];
    FLOWGATE_FUZZ_CHECK(count >= 1 && count <= 30 && size >= 24 + count * 48u);
    FLOWGATE_FUZZ_CHECK(counters.records + counters.block_unavailable == count);
  } else {
    FLOWGATE_FUZZ_CHECK(counters.records == 0);
  }
  return 0;
}
