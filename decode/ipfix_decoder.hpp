#pragma once

#include "decode/datagram.hpp"
#include "decode/decode_counters.hpp"
#include "decode/flow_output.hpp"
#include "decode/template_cache.hpp"

namespace flowgate::decode {

// IPFIX (RFC 7011): template (2), options template (3) and data (≥ 256) sets.
DecodeStatus decode_ipfix(Bytes datagram, const DatagramMeta& meta, TemplateCache& templates,
                          FlowOutput& out, DecodeCounters& counters) noexcept;

}  // namespace flowgate::decode
