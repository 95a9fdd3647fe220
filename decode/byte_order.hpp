#pragma once

#include <cstdint>
#include <cstring>

namespace flowgate::decode {

// Big-endian loads from unaligned wire bytes. Callers check bounds first.
inline uint16_t load_be16(const uint8_t* p) noexcept {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return __builtin_bswap16(v);
}
inline uint32_t load_be32(const uint8_t* p) noexcept {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}
inline uint64_t load_be64(const uint8_t* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}

// An unsigned big-endian integer of 1..8 bytes (RFC 7011 §6.2 reduced-size encoding).
inline uint64_t load_be_uint(const uint8_t* p, uint16_t width) noexcept {
  switch (width) {
    case 1: return p[0];
    case 2: return load_be16(p);
    case 4: return load_be32(p);
    case 8: return load_be64(p);
    default: {
      uint64_t v = 0;
      for (uint16_t i = 0; i < width && i < 8; ++i) v = (v << 8) | p[i];
      return v;
    }
  }
}

}  // namespace flowgate::decode
