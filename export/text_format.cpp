#include "export/text_format.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#if defined(__SSSE3__)
#include <tmmintrin.h>
#endif

namespace flowgate::exporter {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// Exactly eight digits, leading zeros included.
char* write_8_digits(char* p, uint32_t value) noexcept {
  const uint64_t digits = detail::eight_digits(value);
  std::memcpy(p, &digits, 8);
  return p + 8;
}

// Each octet's decimal text in the first three bytes, its length in the fourth; written as
// three bytes and advanced by the length, so an octet costs no branch.
struct OctetText {
  char text[256][4]{};
  constexpr OctetText() {
    for (int i = 0; i < 256; ++i) {
      int n = 0;
      if (i >= 100) text[i][n++] = static_cast<char>('0' + i / 100);
      if (i >= 10) text[i][n++] = static_cast<char>('0' + i / 10 % 10);
      text[i][n++] = static_cast<char>('0' + i % 10);
      text[i][3] = static_cast<char>(n);
    }
  }
};
constexpr OctetText kOctets;

char* write_octet(char* p, uint32_t octet) noexcept {
  const char* t = kOctets.text[octet & 0xff];
  std::memcpy(p, t, 3);
  return p + t[3];
}

template <size_t N>
char* put(char* p, const char (&literal)[N]) noexcept {
  std::memcpy(p, literal, N - 1);
  return p + N - 1;
}

// "00".."ff" per byte.
struct HexPairs {
  char text[256][2]{};
  constexpr HexPairs() {
    for (int i = 0; i < 256; ++i) {
      text[i][0] = kHexDigits[i >> 4];
      text[i][1] = kHexDigits[i & 0xf];
    }
  }
};
constexpr HexPairs kHexPairs;

char* write_hex_pair(char* p, uint32_t byte) noexcept {
  std::memcpy(p, kHexPairs.text[byte & 0xff], 2);
  return p + 2;
}

// The 32 hex digits of an IPv6 address into `digits`, most significant nibble first, and a mask
// with bit k set when digit k is 0. With SSSE3 (the project's x86-64-v2 baseline has it) a
// table shuffle makes all 32 at once; elsewhere one at a time.
uint32_t hex_digits(const std::array<uint8_t, 16>& bytes, char* digits) noexcept {
#if defined(__SSSE3__)
  const __m128i in = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes.data()));
  const __m128i low_nibble = _mm_set1_epi8(0x0f);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(in, 4), low_nibble);
  const __m128i lo = _mm_and_si128(in, low_nibble);
  const __m128i first = _mm_unpacklo_epi8(hi, lo);  // nibbles of bytes 0-7, in digit order
  const __m128i second = _mm_unpackhi_epi8(hi, lo);
  const __m128i table =
      _mm_setr_epi8('0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f');
  _mm_storeu_si128(reinterpret_cast<__m128i*>(digits), _mm_shuffle_epi8(table, first));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(digits + 16), _mm_shuffle_epi8(table, second));
  const __m128i zero = _mm_setzero_si128();
  return static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(first, zero))) |
         static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(second, zero))) << 16;
#else
  uint32_t zero_digits = 0;
  for (int k = 0; k < 32; ++k) {
    const unsigned nibble = (bytes[k / 2] >> (k % 2 == 0 ? 4 : 0)) & 0xf;
    digits[k] = kHexDigits[nibble];
    zero_digits |= static_cast<uint32_t>(nibble == 0) << k;
  }
  return zero_digits;
#endif
}

// Leading zero digits to skip in a group, from its four "digit is 0" bits (first digit lowest);
// at most three, so that a zero group prints as "0".
constexpr uint8_t kSkippedDigits[16] = {0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0, 3};

// For each set of zero groups (bit i = group i is zero): where the "::" goes, as RFC 5952
// §4.2 says: the longest run of two or more zero groups, the first of equal runs.
struct ZeroRuns {
  int8_t start[256]{};
  uint8_t length[256]{};
  constexpr ZeroRuns() {
    for (int zeros = 0; zeros < 256; ++zeros) {
      int best_start = -1, best_length = 1;
      for (int i = 0; i < 8;) {
        if ((zeros & (1 << i)) == 0) {
          ++i;
          continue;
        }
        int j = i;
        while (j < 8 && (zeros & (1 << j)) != 0) ++j;
        if (j - i > best_length) {
          best_start = i;
          best_length = j - i;
        }
        i = j;
      }
      start[zeros] = static_cast<int8_t>(best_start);
      length[zeros] = static_cast<uint8_t>(best_start < 0 ? 0 : best_length);
    }
  }
};
constexpr ZeroRuns kZeroRuns;

// Length of the UTF-8 sequence at s[i] (RFC 3629 §4 syntax: no overlong forms, no surrogates,
// nothing above U+10FFFF), or 0 when it is not one.
size_t utf8_sequence_length(std::string_view s, size_t i) noexcept {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // range of the first continuation byte
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (s.size() - i < n) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

char* detail::write_long_decimal(char* p, uint64_t value) noexcept {
  // Eight digits at a time in 32-bit arithmetic: millisecond timestamps, large counters.
  constexpr uint64_t kE8 = 100'000'000;
  const uint64_t high = value / kE8;
  if (high < 100) {  // ten digits at most: times in seconds (until 2286), most byte counters
    p = write_octet(p, static_cast<uint32_t>(high));
  } else if (high < kE8) {
    p = write_decimal(p, high);
  } else {
    p = write_decimal(p, high / kE8);
    p = write_8_digits(p, static_cast<uint32_t>(high % kE8));
  }
  return write_8_digits(p, static_cast<uint32_t>(value % kE8));
}

char* write_ipv4(char* p, uint32_t host_order) noexcept {
  p = write_octet(p, host_order >> 24);
  *p++ = '.';
  p = write_octet(p, host_order >> 16);
  *p++ = '.';
  p = write_octet(p, host_order >> 8);
  *p++ = '.';
  return write_octet(p, host_order);
}

char* write_ipv6(char* p, const std::array<uint8_t, 16>& bytes) noexcept {
  // All 32 digits first; a group is then one 4-byte copy that starts past its leading zeros
  // (the copy may carry up to three bytes past the group's text, which the next write
  // overwrites; within the address that never passes kMaxIpv6Text). `digits` has room for the
  // last group's copy to read past the 32 digits.
  char digits[36];
  std::memset(digits + 32, 0, 4);
  const uint32_t zero_digits = hex_digits(bytes, digits);
  unsigned skip[8];
  for (int i = 0; i < 8; ++i) skip[i] = kSkippedDigits[zero_digits >> (4 * i) & 0xf];
  // Bit i: group i is zero (all four of its digit bits set), gathered from every fourth bit.
  uint32_t zeros = zero_digits & zero_digits >> 1;
  zeros = zeros & zeros >> 2 & 0x11111111u;
  zeros = (zeros | zeros >> 3) & 0x03030303u;
  zeros = (zeros | zeros >> 6) & 0x000f000fu;
  zeros = (zeros | zeros >> 12) & 0xffu;
  const auto write_group = [&](int i) {
    std::memcpy(p, digits + 4 * i + skip[i], 4);
    p += 4 - skip[i];
  };
  const int run_start = kZeroRuns.start[zeros];
  const int run_end = run_start + kZeroRuns.length[zeros];

  // Groups before the run, "::", groups after it; with no run, all eight.
  const int head_end = run_start < 0 ? 8 : run_start;
  for (int i = 0; i < head_end; ++i) {
    if (i > 0) *p++ = ':';
    write_group(i);
  }
  if (run_start < 0) return p;
  p = put(p, "::");
  for (int i = run_end; i < 8; ++i) {
    if (i > run_end) *p++ = ':';
    write_group(i);
  }
  return p;
}

char* write_ip(char* p, const decode::IpAddress& address, AddressFamily absent_family) noexcept {
  if (address.is_v4()) return write_ipv4(p, address.v4());
  if (address.is_zero())
    return absent_family == AddressFamily::kIpv4 ? put(p, "0.0.0.0") : put(p, "::");
  return write_ipv6(p, address.bytes);
}

char* write_mac(char* p, uint64_t mac) noexcept {
  p = write_hex_pair(p, static_cast<uint32_t>(mac >> 40));
  for (int shift = 32; shift >= 0; shift -= 8) {
    *p++ = ':';
    p = write_hex_pair(p, static_cast<uint32_t>(mac >> shift));
  }
  return p;
}

char* write_cidr(char* p, const decode::IpAddress& address, uint8_t prefix_length,
                 AddressFamily absent_family) noexcept {
  unsigned length = prefix_length;
  if (address.is_v4()) {
    length = std::min(length, 32u);
    const uint32_t mask = length == 0 ? 0 : ~uint32_t{0} << (32 - length);
    p = write_ipv4(p, address.v4() & mask);
  } else if (address.is_zero()) {
    if (absent_family == AddressFamily::kIpv4) {
      length = std::min(length, 32u);
      p = put(p, "0.0.0.0");
    } else {
      length = std::min(length, 128u);
      p = put(p, "::");
    }
  } else {
    length = std::min(length, 128u);
    std::array<uint8_t, 16> network{};
    const unsigned whole = length / 8;
    std::memcpy(network.data(), address.bytes.data(), whole);
    if (whole < 16 && length % 8 != 0) {
      network[whole] = static_cast<uint8_t>(address.bytes[whole] & (0xff00u >> (length % 8)));
    }
    p = write_ipv6(p, network);
  }
  *p++ = '/';
  return write_octet(p, length);  // three bytes at most: within kMaxCidrText
}

void append_decimal(std::string& out, uint64_t value) {
  char buf[kMaxDecimalText];
  out.append(buf, write_decimal(buf, value));
}

void append_ip(std::string& out, const decode::IpAddress& address, AddressFamily absent_family) {
  char buf[kMaxIpText];
  out.append(buf, write_ip(buf, address, absent_family));
}

void append_mac(std::string& out, uint64_t mac) {
  char buf[kMacText];
  out.append(buf, write_mac(buf, mac));
}

void append_cidr(std::string& out, const decode::IpAddress& address, uint8_t prefix_length,
                 AddressFamily absent_family) {
  char buf[kMaxCidrText];
  out.append(buf, write_cidr(buf, address, prefix_length, absent_family));
}

void append_json_escaped(std::string& out, std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t n = utf8_sequence_length(text, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(text.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHexDigits[c >> 4];
          out += kHexDigits[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
}

}  // namespace flowgate::exporter
