#pragma once

#include <cstdint>
#include <cstring>

#include "decode/ip_address.hpp"

namespace flowgate::decode {

// splitmix64's finalizer: cheap, and spreads packed keys over open-addressing tables. Every
// hash table in flowgate (templates, exporters, interface counters, aggregation, roll-up)
// uses it.
inline uint64_t mix64(uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

// The 128-bit product of two words folded to 64 bits: every input bit reaches every output bit
// in one multiply, and independent pairs of words fold in parallel (wyhash's construction).
__extension__ typedef unsigned __int128 Uint128;  // GCC and clang; -Wpedantic wants the marker
inline uint64_t fold_multiply(uint64_t a, uint64_t b) noexcept {
  const Uint128 p = static_cast<Uint128>(a) * b;
  return static_cast<uint64_t>(p) ^ static_cast<uint64_t>(p >> 64);
}

// An address folded into a hash chain starting at `seed`.
inline uint64_t hash_address(const IpAddress& a, uint64_t seed) noexcept {
  uint64_t w[2];
  std::memcpy(w, a.bytes.data(), 16);
  return mix64(w[0] ^ mix64(w[1] ^ seed));
}

}  // namespace flowgate::decode
