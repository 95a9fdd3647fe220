#pragma once

#include <arpa/inet.h>

#include <string>

#include "decode/ip_address.hpp"

namespace flowgate::testing {

// An address as the C library writes it (inet_ntop): dotted quad for a v4-mapped one, else
// IPv6 text. The reference the conformance tests compare decoded addresses with.
inline std::string format_address(const decode::IpAddress& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.is_v4()) {
    inet_ntop(AF_INET, a.bytes.data() + 12, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, a.bytes.data(), buf, sizeof buf);
  }
  return buf;
}

}  // namespace flowgate::testing
