#pragma once

#include "decode/datagram.hpp"
#include "decode/decode_counters.hpp"
#include "decode/flow_output.hpp"
#include "decode/template_cache.hpp"

namespace flowgate::decode {

// NetFlow v9 (RFC 3954): template (0), options template (1) and data (≥ 256) flowsets.
DecodeStatus decode_netflow9(Bytes datagram, const DatagramMeta& meta, TemplateCache& templates,
                             FlowOutput& out, DecodeCounters& counters) noexcept;

}  // namespace flowgate::decode
