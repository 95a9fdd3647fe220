#pragma once

#include "decode/datagram.hpp"
#include "decode/decode_counters.hpp"
#include "decode/flow_output.hpp"

namespace flowgate::decode {

// NetFlow v5: a 24-byte header and up to 30 fixed 48-byte records (Cisco's NetFlow Export
// Datagram Format). Appends one row per record.
DecodeStatus decode_netflow5(Bytes datagram, const DatagramMeta& meta, FlowOutput& out,
                             DecodeCounters& counters) noexcept;

}  // namespace flowgate::decode
