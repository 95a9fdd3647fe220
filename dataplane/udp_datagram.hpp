#pragma once

#include <cstdint>

#include "decode/datagram.hpp"
#include "decode/ip_address.hpp"

namespace flowgate::dataplane {

// One UDP datagram as a packet source hands it on: addresses, ports, the UDP payload and when
// it arrived. The payload is borrowed from the source (a capture buffer, a ring slot or the
// reassembler) and is valid only during the callback that receives it.
struct UdpDatagram {
  decode::IpAddress src;
  decode::IpAddress dst;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  decode::Bytes payload;
  uint64_t receive_ns = 0;  // ns since the Unix epoch

  // What a decoder needs to know about this datagram, for the listener it was matched to.
  decode::DatagramMeta meta(uint16_t listener) const noexcept {
    decode::DatagramMeta m;
    m.exporter = src;
    m.exporter_port = src_port;
    m.listener = listener;
    m.receive_ns = receive_ns;
    return m;
  }
};

}  // namespace flowgate::dataplane
