// libFuzzer target for the IPFIX decoder. Seeds: tests/fuzz/seeds/ipfix (templates,
// options, held data, and one per fault) and the corpus captures.
//
// The harness (fuzz_template_decoder in fuzz_support.hpp) keeps one small TemplateCache across
// inputs, so that a template from one input decodes (or releases held) data of a later one,
// and the limit, eviction and expiry paths are reached. Every input checks the decoder's
// contract and the cache's bounds.

#include <cstddef>
#include <cstdint>

#include "decode/ipfix_decoder.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return flowgate::fuzz::fuzz_template_decoder(data, size, &flowgate::decode::decode_ipfix,
                                               flowgate::decode::FlowType::kIpfix, 4739);
}
