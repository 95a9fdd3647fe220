// libFuzzer target for protocol detection and dispatch over several datagrams per input.
// Seeds: tests/fuzz/seeds/datagram (framed multi-datagram inputs) and the corpus captures.
//
// Two input forms:
//  - Raw (first byte not 0xff): one capture, split where the corpus's `nc -k` files join
//    datagrams (tests/support/datagram_split.hpp), decoded with decode_datagram() against a
//    TemplateCache that lives across inputs.
//  - Framed (first byte 0xff): frames of [control u8][length u16 BE][datagram], decoded in
//    order against a fresh TemplateCache, so that a multi-datagram case (template after data,
//    exporter table full, expiry) reproduces from the one input. Control bits:
//      0-1  exporter UDP port 2055 + n        2  exporter address 192.0.2.1 or .2
//      3    1.5 s pass and held data expires (TTL 2 s) before this datagram
//      4-6  listener: 0 detect, 1 netflow5, 2 netflow9, 3 ipfix, 4 sflow, 5-7 detect
//    A length past the end takes what remains.
// Every datagram checks the decoder's contract, and every input the cache's bounds.

#include <cstddef>
#include <cstdint>
#include <span>

#include "decode/datagram_decoder.hpp"
#include "decode/exporter_stats.hpp"
#include "decode/interface_counter_store.hpp"
#include "decode/template_cache.hpp"
#include "tests/fuzz/fuzz_support.hpp"
#include "tests/support/datagram_split.hpp"

namespace {

using flowgate::decode::DatagramMeta;
using flowgate::decode::DecodeCounters;
using flowgate::decode::DecodeStatus;
using flowgate::decode::FlowType;
using flowgate::decode::InterfaceCounterStore;
using flowgate::decode::IpAddress;
using flowgate::decode::TemplateCache;

constexpr uint8_t kFramed = 0xff;
constexpr uint64_t kTtlStepNs = 1'500'000'000;

struct State {
  flowgate::fuzz::BlockSink sink;
  InterfaceCounterStore interfaces{8};
  flowgate::decode::ExporterStats exporters{4};  // small: the overflow row is reached too
  uint64_t now_ns = 1'700'000'000'000'000'000ull;
};

// Decodes one datagram as `listener` (kUnknown: detect) and checks the contract.
void decode_one(State& st, TemplateCache& templates, std::span<const uint8_t> d,
                const DatagramMeta& meta, FlowType listener) {
  const auto bytes = std::as_bytes(d);
  const FlowType expected =
      listener == FlowType::kUnknown ? flowgate::decode::detect_flow_type(bytes) : listener;
  DecodeCounters counters;
  const DecodeStatus s = flowgate::fuzz::decode_checked(
      st.sink, expected, counters, [&](flowgate::decode::FlowOutput& out) {
        return listener == FlowType::kUnknown
                   ? flowgate::decode::decode_datagram(bytes, meta, templates, out, counters,
                                                       &st.interfaces, &st.exporters)
                   : flowgate::decode::decode_datagram_as(listener, bytes, meta, templates, out,
                                                          counters, &st.interfaces, &st.exporters);
      });
  if (expected == FlowType::kUnknown) FLOWGATE_FUZZ_CHECK(s == DecodeStatus::kBadVersion);
  if (st.interfaces.size() == st.interfaces.capacity()) st.interfaces.clear();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* st = new State();
  static auto* shared = new TemplateCache(flowgate::fuzz::small_limits());
  static uint64_t inputs = 0;
  if (++inputs % 4096 == 0) {
    delete shared;
    shared = new TemplateCache(flowgate::fuzz::small_limits());
  }
  const std::span<const uint8_t> input(data, size);

  DatagramMeta meta = flowgate::fuzz::exporter_meta(2055, 0);

  if (size == 0 || data[0] != kFramed) {
    st->now_ns += 100'000'000;
    meta.receive_ns = st->now_ns;
    for (std::span<const uint8_t> d : flowgate::testing::split_datagrams(input)) {
      decode_one(*st, *shared, d, meta, FlowType::kUnknown);
    }
    if (inputs % 16 == 0) shared->expire_pending(st->now_ns);
    flowgate::fuzz::check_cache(*shared);
    return 0;
  }

  TemplateCache templates(flowgate::fuzz::small_limits());
  size_t p = 1;
  while (p < size) {
    const uint8_t control = data[p++];
    size_t length = 0;
    if (size - p >= 2) {
      length = (size_t{data[p]} << 8) | data[p + 1];
      p += 2;
    } else {
      p = size;
    }
    if (length > size - p) length = size - p;
    const std::span<const uint8_t> d = input.subspan(p, length);
    p += length;

    meta.exporter_port = static_cast<uint16_t>(2055 + (control & 3));
    meta.exporter = IpAddress::from_v4((control & 4) != 0 ? 0xc0000202 : 0xc0000201);
    if ((control & 8) != 0) {
      st->now_ns += kTtlStepNs;
      templates.expire_pending(st->now_ns);
    }
    meta.receive_ns = st->now_ns;
    FlowType listener = FlowType::kUnknown;
    switch ((control >> 4) & 7) {
      case 1: listener = FlowType::kNetflow5; break;
      case 2: listener = FlowType::kNetflow9; break;
      case 3: listener = FlowType::kIpfix; break;
      case 4: listener = FlowType::kSflow5; break;
      default: break;
    }
    decode_one(*st, templates, d, meta, listener);
    flowgate::fuzz::check_cache(templates);
  }
  return 0;
}
