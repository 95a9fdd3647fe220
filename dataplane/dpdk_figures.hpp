#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace flowgate::dataplane {

// Counters of one DPDK port as the NIC reports them (rte_eth_stats), read by the exporter lcore.
struct DpdkPortFigures {
  std::string name;
  uint64_t ipackets = 0;
  uint64_t ibytes = 0;
  uint64_t imissed = 0;    // dropped by the NIC: no free RX descriptor (the pollers fell behind)
  uint64_t ierrors = 0;
  uint64_t rx_nombuf = 0;  // dropped: no mbuf left in the pool
  uint64_t opackets = 0;
};

struct DpdkFigures {
  std::vector<DpdkPortFigures> ports;
  uint64_t dispatched = 0;          // software RSS: frames handed to a worker ring
  uint64_t dispatch_ring_full = 0;  // software RSS: frames dropped, the worker's ring was full
  // The kernel exception path (exception_tap), summed over the workers. Not in dropped():
  // these frames are the kernel's traffic, not flow data.
  uint64_t to_kernel = 0;        // frames no listener or reply took, written to the TAP
  uint64_t from_kernel = 0;      // frames the kernel wrote to the TAP, sent out of a data port
  uint64_t exception_drops = 0;  // either way, dropped: the TAP or NIC TX queue took no more
  uint64_t exception_rate_limited = 0;  // not handed to the TAP: past exception_rate
  uint64_t dropped() const noexcept {
    uint64_t d = dispatch_ring_full;
    for (const DpdkPortFigures& p : ports) d += p.imissed + p.rx_nombuf;
    return d;
  }
};

}  // namespace flowgate::dataplane
