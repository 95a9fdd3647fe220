#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/decode_shard.hpp"
#include "decode/flow_type.hpp"

namespace flowgate::dataplane {

struct AfPacketOptions {
  std::string interface;
  uint32_t workers = 1;
  std::vector<uint32_t> cpus;          // pin worker i to cpus[i] where given
  uint32_t block_size = 1 << 20;       // bytes per ring block; holds any frame, reassembled too
  uint32_t blocks = 32;                // blocks per worker ring
  uint32_t block_timeout_ms = 10;      // the kernel hands over a block not yet full after this
  std::vector<uint16_t> listener_ports;            // by listener index
  std::vector<decode::FlowType> listener_types;    // by listener index
  uint32_t blocks_per_worker = 128;    // FlowBlocks in each shard's pool
};

// The AF_PACKET packet source: one TPACKET_V3 memory-mapped RX ring per worker thread on one
// interface. A classic BPF socket filter keeps only UDP to the listener ports and fragments,
// so nothing else is copied to user space. With two or more workers the sockets form a fanout
// group (PACKET_FANOUT_CBPF | PACKET_FANOUT_FLAG_DEFRAG) whose program hashes the IP source
// address, so each exporter's datagrams, and so its templates, stay on one worker; the kernel's
// own HASH mode would mix in the ports. Each worker walks its ring's blocks, parses and
// reassembles frames (UdpExtractor), decodes datagrams to a listener port into its DecodeShard,
// and reads the ring's drops (PACKET_STATISTICS) into kernel_drops in housekeeping.
class AfPacketSource {
 public:
  // Opens, maps and binds every ring; nullptr with a message when anything fails (the message
  // names the interface, and the capability when the socket is refused).
  static std::unique_ptr<AfPacketSource> create(const AfPacketOptions& options, std::string& error);
  ~AfPacketSource();
  AfPacketSource(const AfPacketSource&) = delete;
  AfPacketSource& operator=(const AfPacketSource&) = delete;

  // One sentence for the start-up log: interface, workers, ring size, fanout.
  const std::string& description() const noexcept;
  std::vector<DecodeShard*> shards() noexcept;

  void start();
  // Workers take what their rings hold, hand off their last blocks and return.
  void request_stop() noexcept;
  bool finished() const noexcept;
  void join();

 private:
  struct Impl;
  explicit AfPacketSource(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace flowgate::dataplane
