#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
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

char* write_decimal(char* p, uint64_t value) noexcept;
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
