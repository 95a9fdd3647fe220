#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/decode_shard.hpp"
#include "dataplane/dpdk_figures.hpp"
#include "dataplane/dpdk_options.hpp"

namespace flowgate::dataplane {

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
