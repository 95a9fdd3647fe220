#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

namespace flowgate::testing {

// Builds wire bytes in tests, big-endian, with patchable lengths.
class ByteWriter {
 public:
  ByteWriter& u8(uint8_t v) {
    buf_.push_back(v);
    return *this;
  }
  ByteWriter& u16(uint16_t v) { return u8(static_cast<uint8_t>(v >> 8)).u8(static_cast<uint8_t>(v)); }
  ByteWriter& u32(uint32_t v) { return u16(static_cast<uint16_t>(v >> 16)).u16(static_cast<uint16_t>(v)); }
  ByteWriter& u64(uint64_t v) { return u32(static_cast<uint32_t>(v >> 32)).u32(static_cast<uint32_t>(v)); }
  ByteWriter& bytes(std::initializer_list<uint8_t> b) {
    buf_.insert(buf_.end(), b.begin(), b.end());
    return *this;
  }
  ByteWriter& bytes(std::span<const uint8_t> b) {
    buf_.insert(buf_.end(), b.begin(), b.end());
    return *this;
  }
  ByteWriter& zeros(size_t n) {
    buf_.insert(buf_.end(), n, 0);
    return *this;
  }
  // IPv4 address from four octets.
  ByteWriter& ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return bytes({a, b, c, d}); }

  size_t size() const { return buf_.size(); }
  // Overwrites a 16-bit big-endian value at `offset` (e.g. a set length once known).
  void patch_u16(size_t offset, uint16_t v) {
    buf_[offset] = static_cast<uint8_t>(v >> 8);
    buf_[offset + 1] = static_cast<uint8_t>(v);
  }
  const std::vector<uint8_t>& data() const { return buf_; }
  std::span<const std::byte> span() const { return std::as_bytes(std::span(buf_)); }

 private:
  std::vector<uint8_t> buf_;
};

}  // namespace flowgate::testing
