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
  uint64_t dropped() const noexcept {
    uint64_t d = dispatch_ring_full;
    for (const DpdkPortFigures& p : ports) d += p.imissed + p.rx_nombuf;
    return d;
  }
};

}  // namespace flowgate::dataplane
