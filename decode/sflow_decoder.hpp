#pragma once

#include "decode/datagram.hpp"
#include "decode/decode_counters.hpp"
#include "decode/flow_output.hpp"
#include "decode/interface_counter_store.hpp"

namespace flowgate::decode {

// sFlow version 5 (sflow.org sflow_version_5.txt). Appends one row per flow sample (format 1)
// and expanded flow sample (format 3); the row's L2-L4 fields come from the raw packet header
// record parsed down to TCP/UDP/ICMP, or from the sampled Ethernet/IPv4/IPv6 records, and the
// extended switch/router/gateway records add VLAN, next hop, masks and AS numbers. Counter
// samples (2, 4) update `interface_counters` (when not null) and never become rows. Unknown and
// enterprise samples and records, and discarded-packet samples (5), are skipped by length.
DecodeStatus decode_sflow(Bytes datagram, const DatagramMeta& meta, FlowOutput& out,
                          DecodeCounters& counters,
                          InterfaceCounterStore* interface_counters) noexcept;

}  // namespace flowgate::decode
