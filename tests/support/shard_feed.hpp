#pragma once

// Feeding a DecodeShard whole blocks: a NetFlow v5 datagram of 30 flows, decoded again and
// again until enough full blocks have gone to the shard's ring.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "dataplane/decode_shard.hpp"
#include "dataplane/udp_datagram.hpp"
#include "tests/support/flow_wire.hpp"

namespace flowgate::testing {

constexpr uint32_t kShardFeedRecords = 30;  // flows in each datagram of v5_feed_payload()

// A v5 datagram of kShardFeedRecords TCP flows from 10.0.0.1 upward.
inline std::vector<uint8_t> v5_feed_payload() {
  std::vector<V5Record> records(kShardFeedRecords);
  for (uint32_t i = 0; i < kShardFeedRecords; ++i) {
    records[i].src = 0x0a000001u + i;
    records[i].packets = 1;
    records[i].bytes = 100;
    records[i].protocol = 6;
  }
  V5Header h;
  h.unix_secs = v9::kUnixSecs;
  return netflow5(h, std::span<const V5Record>(records));
}

// Decodes `payload` into `shard` until `blocks` more full blocks have gone to its ring
// (bounded: 10,000 datagrams at most).
inline void feed_blocks(dataplane::DecodeShard& shard, const std::vector<uint8_t>& payload,
                        size_t blocks) {
  const uint64_t target = shard.counters().blocks_sent + blocks;
  dataplane::UdpDatagram d;
  d.src = decode::IpAddress::from_v4(0xc0000201);
  d.src_port = 2055;
  d.payload = decode::Bytes(reinterpret_cast<const std::byte*>(payload.data()), payload.size());
  for (int guard = 0; shard.counters().blocks_sent < target && guard < 10'000; ++guard) {
    shard.decode(d, 0);
  }
}

}  // namespace flowgate::testing
