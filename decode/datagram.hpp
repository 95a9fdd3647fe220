#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "decode/ip_address.hpp"

namespace flowgate::decode {

// What a decoder knows about a datagram besides its bytes.
struct DatagramMeta {
  IpAddress exporter;          // UDP source address
  uint16_t exporter_port = 0;  // UDP source port
  uint16_t listener = 0;       // index of the listener it arrived on
  uint64_t receive_ns = 0;     // receive time, ns since the Unix epoch
};

using Bytes = std::span<const std::byte>;

}  // namespace flowgate::decode
