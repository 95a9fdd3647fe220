#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/decode_shard.hpp"
#include "dataplane/dpdk_options.hpp"

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

// The DPDK packet source: EAL, one mbuf pool, the ports, and one pinned worker lcore per
// DecodeShard. Each worker polls its RX queues in bursts (hardware RSS on the IP source, or a
// ring filled by a dispatch lcore that hashes the exporter address), parses and reassembles
// frames, answers ARP/ICMP/ND for the configured addresses, decodes datagrams to a listener
// port and hands FlowBlocks to the exporter, which runs on the EAL main lcore (the caller).
// No DPDK header leaks out of this file's .cpp: DPDK defines likely/unlikely/typeof as macros.
class DpdkRuntime {
 public:
  // Initialises EAL (once per process), the pool and the ports; nullptr with a message when
  // anything fails (the message names the device, queue or setting).
  static std::unique_ptr<DpdkRuntime> create(const DpdkOptions& options, std::string& error);
  ~DpdkRuntime();
  DpdkRuntime(const DpdkRuntime&) = delete;
  DpdkRuntime& operator=(const DpdkRuntime&) = delete;

  // One sentence for the start-up log: ports, queues, the RSS mode in force and the lcores.
  const std::string& description() const noexcept;
  std::vector<DecodeShard*> shards() noexcept;

  // Starts the worker (and dispatch) lcores.
  bool launch(std::string& error);
  // Workers drain their queues and rings, hand off their last blocks and return.
  void request_stop() noexcept;
  bool finished() const noexcept;
  // Waits for the lcores, stops and closes the ports, and cleans up EAL.
  void shutdown() noexcept;

  // Reads the ports' statistics (the exporter lcore calls this about once a second) and
  // returns what was last read; safe to call from another thread.
  void refresh_port_figures() noexcept;
  DpdkFigures figures() const;

 private:
  struct Impl;
  explicit DpdkRuntime(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace flowgate::dataplane
