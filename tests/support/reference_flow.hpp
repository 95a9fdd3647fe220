#pragma once

#include <memory>

#include "decode/flow_block.hpp"

namespace flowgate::testing {

// One TCP flow 130.240.103.204:4627 -> 152.222.36.168:424, 668 bytes, 1588 packets, from
// exporter 10.200.14.142 over NetFlow v5: the record the Datakit log-point tests expect.
inline std::unique_ptr<decode::FlowBlock> reference_flow() {
  auto b = std::make_unique<decode::FlowBlock>();
  const uint32_t r = b->append_row();
  b->src_addr[r] = decode::IpAddress::from_v4(0x82f067cc);
  b->dst_addr[r] = decode::IpAddress::from_v4(0x98de24a8);
  b->exporter_addr[r] = decode::IpAddress::from_v4(0x0ac80e8e);
  b->src_port[r] = 4627;
  b->dst_port[r] = 424;
  b->protocol[r] = 6;
  b->bytes[r] = 668;
  b->packets[r] = 1588;
  b->ether_type[r] = 0x0800;
  b->flow_type[r] = decode::FlowType::kNetflow5;
  return b;
}

}  // namespace flowgate::testing
