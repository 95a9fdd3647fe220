#pragma once

#include <array>
#include <cstdint>
#include <cstring>

namespace flowgate::decode {

// An IPv4 or IPv6 address in 16 bytes. IPv4 is stored v4-mapped (::ffff:a.b.c.d, RFC 4291
// §2.5.5.2) so that one column holds both families; the all-zero value means "absent".
struct IpAddress {
  std::array<uint8_t, 16> bytes{};

  static IpAddress from_v4(uint32_t host_order) noexcept {
    IpAddress a;
    a.bytes[10] = 0xff;
    a.bytes[11] = 0xff;
    a.bytes[12] = static_cast<uint8_t>(host_order >> 24);
    a.bytes[13] = static_cast<uint8_t>(host_order >> 16);
    a.bytes[14] = static_cast<uint8_t>(host_order >> 8);
    a.bytes[15] = static_cast<uint8_t>(host_order);
    return a;
  }
  // Four bytes in network order.
  static IpAddress from_v4_bytes(const uint8_t* p) noexcept {
    IpAddress a;
    a.bytes[10] = 0xff;
    a.bytes[11] = 0xff;
    std::memcpy(&a.bytes[12], p, 4);
    return a;
  }
  static IpAddress from_v6_bytes(const uint8_t* p) noexcept {
    IpAddress a;
    std::memcpy(a.bytes.data(), p, 16);
    return a;
  }

  bool is_v4() const noexcept {
    static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(bytes.data(), kPrefix, 12) == 0;
  }
  bool is_zero() const noexcept {
    uint64_t w[2];
    std::memcpy(w, bytes.data(), 16);
    return (w[0] | w[1]) == 0;
  }
  uint32_t v4() const noexcept {
    return (uint32_t{bytes[12]} << 24) | (uint32_t{bytes[13]} << 16) |
           (uint32_t{bytes[14]} << 8) | uint32_t{bytes[15]};
  }
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

}  // namespace flowgate::decode
