#pragma once

#include <arpa/inet.h>

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "decode/ip_address.hpp"

namespace flowgate::config {

// An IPv4 or IPv6 literal; false when `text` is neither.
inline bool parse_ip(const std::string& text, decode::IpAddress& out) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) {
    out = decode::IpAddress::from_v4_bytes(buf);
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    out = decode::IpAddress::from_v6_bytes(buf);
    return true;
  }
  return false;
}

// A TCP address written "host:port" (IPv4) or "[host]:port" (IPv6), as [metrics] listen.
struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// False when `text` is not an IPv4 or bracketed IPv6 literal followed by a port 1..65535.
inline bool parse_host_port(std::string_view text, HostPort& out) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return false;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
    return false;
  }
  const std::string h(host);
  unsigned char buf[16];
  const bool v6 = text.front() == '[';
  if (inet_pton(v6 ? AF_INET6 : AF_INET, h.c_str(), buf) != 1) return false;
  out.host = h;
  out.port = static_cast<uint16_t>(value);
  return true;
}

}  // namespace flowgate::config
