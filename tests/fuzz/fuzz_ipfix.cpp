// libFuzzer target for the IPFIX decoder. Seeds: tests/fuzz/seeds/ipfix (templates,
// options, held data, and one per fault) and the corpus captures.
//
// One TemplateCache with small bounds lives across inputs, so that a template from one input
// decodes (or releases held) data of a later one, and the limit, eviction and expiry paths are
// reached. Every input checks the decoder's contract and the cache's bounds.

#include <cstddef>
#include <cstdint>
#include <span>

#include "decode/ipfix_decoder.hpp"
#include "decode/template_cache.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using flowgate::decode::DatagramMeta;
using flowgate::decode::DecodeCounters;
using flowgate::decode::DecodeStatus;
using flowgate::decode::FlowType;
using flowgate::decode::IpAddress;
using flowgate::decode::TemplateCache;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* sink = new flowgate::fuzz::BlockSink();
  static auto* templates = new TemplateCache(flowgate::fuzz::small_limits());
  static uint64_t inputs = 0;
  static uint64_t now_ns = 1'700'000'000'000'000'000ull;
  // Time moves 100 ms per input; held data expires after 2 s. A fresh cache now and then
  // keeps a long run from settling into a full one.
  now_ns += 100'000'000;
  if (++inputs % 16 == 0) templates->expire_pending(now_ns);
  if (inputs % 4096 == 0) {
    delete templates;
    templates = new TemplateCache(flowgate::fuzz::small_limits());
  }

  DatagramMeta meta;
  meta.exporter = IpAddress::from_v4(0xc0000201);
  meta.exporter_port = 4739;
  meta.receive_ns = now_ns;

  DecodeCounters counters;
  flowgate::decode::FlowOutput out = sink->begin(FlowType::kIpfix);
  const auto bytes = std::as_bytes(std::span(data, size));
  const DecodeStatus s =
      flowgate::decode::decode_ipfix(bytes, meta, *templates, out, counters);
  const uint64_t rows = sink->end(out);
  flowgate::fuzz::check_datagram(s, counters, rows);
  flowgate::fuzz::check_cache(*templates);
  return 0;
}
