#pragma once

#include "decode/datagram.hpp"
#include "decode/decode_counters.hpp"
#include "decode/exporter_stats.hpp"
#include "decode/flow_output.hpp"
#include "decode/flow_type.hpp"
#include "decode/interface_counter_store.hpp"
#include "decode/template_cache.hpp"

namespace flowgate::decode {

// The protocol of a datagram from its version field: 16-bit 5 / 9 / 10 for NetFlow v5, v9 and
// IPFIX; a 32-bit 5 for sFlow v5 (whose first 16 bits are 0). kUnknown otherwise.
FlowType detect_flow_type(Bytes datagram) noexcept;

// Detects the protocol and decodes with the matching decoder. A datagram of no supported
// protocol counts as kBadVersion. sFlow counter samples update `interface_counters` when it
// is not null; `exporter_stats`, when not null, accounts the datagram to its export stream
// (datagrams, bytes, records, sequence loss).
DecodeStatus decode_datagram(Bytes datagram, const DatagramMeta& meta, TemplateCache& templates,
                             FlowOutput& out, DecodeCounters& counters,
                             InterfaceCounterStore* interface_counters = nullptr,
                             ExporterStats* exporter_stats = nullptr) noexcept;

// Decodes only when the datagram is of `expected` type (a listener with a fixed flow_type);
// otherwise counts kBadVersion.
DecodeStatus decode_datagram_as(FlowType expected, Bytes datagram, const DatagramMeta& meta,
                                TemplateCache& templates, FlowOutput& out,
                                DecodeCounters& counters,
                                InterfaceCounterStore* interface_counters = nullptr,
                                ExporterStats* exporter_stats = nullptr) noexcept;

}  // namespace flowgate::decode
