#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "decode/ip_address.hpp"

namespace flowgate::exporter {

// The family an absent (all-zero) address is written in: the record's, from its ether type.
enum class AddressFamily : uint8_t { kIpv4, kIpv6 };

// Room the write_* functions may touch, at most. They write through a raw pointer with no bounds
// checks (the encoder reserves a whole record's worst case once), and return one past the last
// character of the text.
inline constexpr size_t kMaxDecimalText = 20;  // 18446744073709551615
inline constexpr size_t kMaxIpv4Text = 15;     // 255.255.255.255
inline constexpr size_t kMaxIpv6Text = 39;     // ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff
inline constexpr size_t kMaxIpText = kMaxIpv6Text;
inline constexpr size_t kMaxCidrText = kMaxIpText + 4;  // "/128"
inline constexpr size_t kMacText = 17;                  // aa:bb:cc:dd:ee:ff

namespace detail {

// The eight decimal digits of `value` (< 10^8), leading zeros included, as ASCII in memory order
// (first digit in the lowest byte): split into two 4-digit halves, then pairs, then digits, each
// step a multiply-shift division done on all lanes of one 64-bit word at once (x * 10486 >> 20
// is x / 100 below 10^4, x * 103 >> 10 is x / 10 below 100; text_format_test checks every value).
inline uint64_t eight_digits(uint32_t value) noexcept {
  const uint64_t halves = value / 10000 | uint64_t{value % 10000} << 32;
  const uint64_t hundreds = (halves * 10486 >> 20) & 0x0000007f'0000007full;
  const uint64_t pairs = hundreds | (halves - hundreds * 100) << 16;
  const uint64_t tens = (pairs * 103 >> 10) & 0x000f000f'000f000full;
  return (tens | (pairs - tens * 10) << 8) + 0x30303030'30303030ull;
}

// Digits of `value` (1 for 0), from its bit width (1233/4096 ~ log10 2) and one comparison.
inline unsigned decimal_length(uint32_t value) noexcept {
  static constexpr uint32_t kPowersOf10[10] = {1,      10,      100,      1000,      10000,
                                               100000, 1000000, 10000000, 100000000, 1000000000};
  const uint32_t v = value | 1;  // 0 has one digit; no power of ten above 1 is odd
  const unsigned t = static_cast<unsigned>(std::bit_width(v)) * 1233 >> 12;
  return t + 1 - static_cast<unsigned>(v < kPowersOf10[t]);
}

char* write_long_decimal(char* p, uint64_t value) noexcept;  // value >= 10^8

}  // namespace detail

// Below 10^8 (ports, interface indexes, counters, times in seconds): no branch on the length and
// no loop; the eight bytes are stored whole and the pointer advanced by the length, so it may
// touch up to kMaxDecimalText bytes whatever the value's length.
inline char* write_decimal(char* p, uint64_t value) noexcept {
  if (value < 100'000'000) [[likely]] {
    const uint32_t v = static_cast<uint32_t>(value);
    const unsigned length = detail::decimal_length(v);
    const uint64_t digits = detail::eight_digits(v) >> (8 * (8 - length));
    std::memcpy(p, &digits, 8);
    return p + length;
  }
  return detail::write_long_decimal(p, value);
}
char* write_ipv4(char* p, uint32_t host_order) noexcept;
// RFC 5952 §4: lowercase hex, no leading zeros in a group, the longest run of two or more zero
// groups as "::" (the first of equal runs). Always hexadecimal: write_ip is the one that prints
// a v4-mapped address as dotted IPv4.
char* write_ipv6(char* p, const std::array<uint8_t, 16>& bytes) noexcept;
// A v4-mapped address as dotted IPv4 (how IpAddress stores IPv4), any other as IPv6. An absent
// (all-zero) address as "0.0.0.0" or "::" by `absent_family`, as the reference prints the
// zero address of the record's family.
char* write_ip(char* p, const decode::IpAddress& address, AddressFamily absent_family) noexcept;
// The 48-bit MAC in the low bits of `mac`, first octet in bits 40-47: "aa:bb:cc:dd:ee:ff".
char* write_mac(char* p, uint64_t mac) noexcept;
// The network of `address` with `prefix_length` (clamped to 32 or 128): "130.240.96.0/20". The
// family comes from the address; an absent one prints "0.0.0.0/N" or "::/N" by `absent_family`.
char* write_cidr(char* p, const decode::IpAddress& address, uint8_t prefix_length,
                 AddressFamily absent_family) noexcept;

// The same, appended to a string: for tests and the control path.
void append_decimal(std::string& out, uint64_t value);
void append_ip(std::string& out, const decode::IpAddress& address, AddressFamily absent_family);
void append_mac(std::string& out, uint64_t mac);
void append_cidr(std::string& out, const decode::IpAddress& address, uint8_t prefix_length,
                 AddressFamily absent_family);

// Appends `text` as the inside of a JSON string (RFC 8259 §7): quote, backslash and control
// characters escaped; a byte sequence that is not UTF-8 becomes U+FFFD, as Go's encoding/json
// (the reference's) writes it, so the output always parses. Used on configuration strings
// (host, namespace, tags) once, at encoder construction.
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace flowgate::exporter
