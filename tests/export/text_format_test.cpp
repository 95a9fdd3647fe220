#include "export/text_format.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <limits>
#include <string>

namespace flowgate::exporter {
namespace {

using decode::IpAddress;

IpAddress v4(const char* text) {
  uint8_t b[4];
  EXPECT_EQ(inet_pton(AF_INET, text, b), 1) << text;
  return IpAddress::from_v4_bytes(b);
}

IpAddress v6(const char* text) {
  uint8_t b[16];
  EXPECT_EQ(inet_pton(AF_INET6, text, b), 1) << text;
  return IpAddress::from_v6_bytes(b);
}

std::string decimal(uint64_t v) {
  std::string s;
  append_decimal(s, v);
  return s;
}

std::string ip(const IpAddress& a, AddressFamily f = AddressFamily::kIpv4) {
  std::string s;
  append_ip(s, a, f);
  return s;
}

std::string ipv6_hex(const char* text) {
  char buf[kMaxIpv6Text];
  return std::string(buf, write_ipv6(buf, v6(text).bytes));
}

std::string mac(uint64_t m) {
  std::string s;
  append_mac(s, m);
  return s;
}

std::string cidr(const IpAddress& a, uint8_t prefix, AddressFamily f = AddressFamily::kIpv4) {
  std::string s;
  append_cidr(s, a, prefix, f);
  return s;
}

std::string escaped(std::string_view text) {
  std::string s;
  append_json_escaped(s, text);
  return s;
}

TEST(TextFormat, DecimalAtEveryDigitCountBoundary) {
  EXPECT_EQ(decimal(0), "0");
  uint64_t p = 1;
  for (int digits = 1; digits <= 19; ++digits) {
    EXPECT_EQ(decimal(p), std::to_string(p));
    EXPECT_EQ(decimal(p - 1), std::to_string(p - 1));
    EXPECT_EQ(decimal(p + 1), std::to_string(p + 1));
    EXPECT_EQ(decimal(p * 9 + (p - 1)), std::to_string(p * 9 + (p - 1)));  // 9…9
    p *= 10;
  }
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(decimal(max), "18446744073709551615");
  EXPECT_EQ(decimal(max).size(), kMaxDecimalText);
  // Where the writer changes method (32-bit, two and three 8-digit chunks), and zero chunks.
  for (uint64_t v : {4294967295ull, 4294967296ull, 9999999999999999ull, 10000000000000000ull,
                     10000000000000001ull, 100000000ull * 100000000ull + 100000000ull,
                     1000000000000000001ull, 1692077978547ull, 12345678900000000ull}) {
    EXPECT_EQ(decimal(v), std::to_string(v));
  }
  for (uint64_t v = 0, step = 1; v < max / 3; v += step, step = step * 3 + 1) {
    EXPECT_EQ(decimal(v), std::to_string(v));
  }
}

// The eight-digit word is right for every value it can be given: the multiply-shift divisions
// are exact only within their ranges, so all 10^8 are checked against a decimal odometer.
TEST(TextFormat, EightDigitsForEveryValueBelowTenToTheEighth) {
  char odometer[8] = {'0', '0', '0', '0', '0', '0', '0', '0'};
  uint64_t mismatches = 0, first_bad = 0;
  for (uint32_t v = 0; v < 100'000'000; ++v) {
    uint64_t expected;
    std::memcpy(&expected, odometer, 8);
    if (detail::eight_digits(v) != expected && mismatches++ == 0) first_bad = v;
    for (int i = 7; i >= 0 && ++odometer[i] > '9'; --i) odometer[i] = '0';
  }
  EXPECT_EQ(mismatches, 0u) << "first at " << first_bad;
}

// Every value below 10^6, then values of every length, as std::to_chars writes them; and the
// writer stays within kMaxDecimalText bytes however short the text.
TEST(TextFormat, DecimalAgreesWithToChars) {
  const auto check = [](uint64_t v) {
    char want[32];
    const auto [end, ec] = std::to_chars(want, want + sizeof want, v);
    char got[kMaxDecimalText + 8];
    std::memset(got, '#', sizeof got);
    const char* got_end = write_decimal(got, v);
    EXPECT_EQ(std::string_view(got, static_cast<size_t>(got_end - got)),
              std::string_view(want, static_cast<size_t>(end - want)));
    for (size_t i = kMaxDecimalText; i < sizeof got; ++i) EXPECT_EQ(got[i], '#') << v;
  };
  for (uint64_t v = 0; v < 1'000'000; ++v) check(v);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 200'000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    check(x >> (x % 64));  // lengths from 1 to 20 digits
  }
}

TEST(TextFormat, Ipv4Dotted) {
  EXPECT_EQ(ip(IpAddress::from_v4(0)), "0.0.0.0");  // v4-mapped zero is present, not absent
  EXPECT_EQ(ip(IpAddress::from_v4(0xffffffff)), "255.255.255.255");
  EXPECT_EQ(ip(IpAddress::from_v4(0x0a000001)), "10.0.0.1");
  EXPECT_EQ(ip(v4("130.240.103.204")), "130.240.103.204");
  EXPECT_EQ(ip(v4("1.22.103.4"), AddressFamily::kIpv6), "1.22.103.4");
  for (uint32_t o = 0; o < 256; ++o) {
    EXPECT_EQ(ip(IpAddress::from_v4(o << 24 | o << 16 | o << 8 | o)),
              std::to_string(o) + "." + std::to_string(o) + "." + std::to_string(o) + "." +
                  std::to_string(o));
  }
}

// RFC 5952 §4 and its examples.
TEST(TextFormat, Ipv6FollowsRfc5952) {
  // §4.1 leading zeros suppressed; §4.3 lowercase.
  EXPECT_EQ(ipv6_hex("2001:0DB8:AAAA:000B:0CDE:F000:0001:00FF"), "2001:db8:aaaa:b:cde:f000:1:ff");
  // §4.2.1 the longest run compressed.
  EXPECT_EQ(ipv6_hex("2001:db8:0:0:0:0:2:1"), "2001:db8::2:1");
  // §4.2.2 a single zero group is not compressed.
  EXPECT_EQ(ipv6_hex("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
  // §4.2.3 the longest of several runs, and the first of equal runs.
  EXPECT_EQ(ipv6_hex("2001:0:0:1:0:0:0:1"), "2001:0:0:1::1");
  EXPECT_EQ(ipv6_hex("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  EXPECT_EQ(ipv6_hex("0:0:1:0:0:0:0:0"), "0:0:1::");
  EXPECT_EQ(ipv6_hex("1:0:0:2:0:0:3:4"), "1::2:0:0:3:4");
  EXPECT_EQ(ipv6_hex("::"), "::");
  EXPECT_EQ(ipv6_hex("::1"), "::1");
  EXPECT_EQ(ipv6_hex("1::"), "1::");
  EXPECT_EQ(ipv6_hex("0:1:0:1:0:1:0:1"), "0:1:0:1:0:1:0:1");
  EXPECT_EQ(ipv6_hex("fe80::1:2"), "fe80::1:2");
  EXPECT_EQ(ipv6_hex("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  EXPECT_EQ(ipv6_hex("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").size(), kMaxIpv6Text);
  EXPECT_EQ(ipv6_hex("2001:db8::ab:0"), "2001:db8::ab:0");
  EXPECT_EQ(ipv6_hex("10:200:3000:4::"), "10:200:3000:4::");
}

// Against the C library on many addresses dense in zero groups (glibc's inet_ntop follows RFC
// 5952 too, except that it writes addresses starting with five zero groups in IPv4 notation).
TEST(TextFormat, Ipv6AgreesWithInetNtop) {
  uint64_t state = 0x2545f4914f6cdd1dull;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int compared = 0;
  for (int n = 0; n < 200000; ++n) {
    std::array<uint8_t, 16> b{};
    const uint64_t x = next();
    for (int g = 0; g < 8; ++g) {
      const unsigned kind = (x >> (g * 3)) & 7;
      const uint64_t v = next();
      // Zero half the time; otherwise 1 to 4 significant digits.
      const uint16_t group = kind < 4 ? 0 : static_cast<uint16_t>(v >> (4 * (kind - 3)) | 1);
      b[2 * g] = static_cast<uint8_t>(group >> 8);
      b[2 * g + 1] = static_cast<uint8_t>(group);
    }
    bool five_zero = true;
    for (int i = 0; i < 10; ++i) five_zero = five_zero && b[i] == 0;
    if (five_zero) continue;
    char expected[INET6_ADDRSTRLEN];
    ASSERT_NE(inet_ntop(AF_INET6, b.data(), expected, sizeof expected), nullptr);
    char buf[kMaxIpv6Text];
    ASSERT_EQ(std::string(buf, write_ipv6(buf, b)), expected);
    ++compared;
  }
  EXPECT_GT(compared, 150000);
}

TEST(TextFormat, IpPrintsV4MappedDottedAndAbsentByFamily) {
  EXPECT_EQ(ip(v6("::ffff:192.0.2.1")), "192.0.2.1");
  EXPECT_EQ(ip(v6("::ffff:192.0.2.1"), AddressFamily::kIpv6), "192.0.2.1");
  EXPECT_EQ(ip(v6("2001:db8::1"), AddressFamily::kIpv4), "2001:db8::1");
  EXPECT_EQ(ip(IpAddress{}, AddressFamily::kIpv4), "0.0.0.0");
  EXPECT_EQ(ip(IpAddress{}, AddressFamily::kIpv6), "::");
  // Not v4-mapped: an IPv4-compatible (deprecated, RFC 4291 §2.5.5.1) address stays hex.
  EXPECT_EQ(ip(v6("::c000:201")), "::c000:201");
}

TEST(TextFormat, MacFromTheLow48Bits) {
  EXPECT_EQ(mac(0), "00:00:00:00:00:00");
  EXPECT_EQ(mac(0x0123456789abull), "01:23:45:67:89:ab");
  EXPECT_EQ(mac(0xffffffffffffull), "ff:ff:ff:ff:ff:ff");
  EXPECT_EQ(mac(0xffff001122334455ull), "00:11:22:33:44:55");
  EXPECT_EQ(mac(0xa0b0c0d0e0f0ull), "a0:b0:c0:d0:e0:f0");
  EXPECT_EQ(mac(1).size(), kMacText);
}

TEST(TextFormat, CidrMasksIpv4) {
  EXPECT_EQ(cidr(v4("130.240.103.204"), 20), "130.240.96.0/20");
  EXPECT_EQ(cidr(v4("152.222.36.168"), 8), "152.0.0.0/8");
  EXPECT_EQ(cidr(v4("152.222.36.168"), 0), "0.0.0.0/0");
  EXPECT_EQ(cidr(v4("152.222.36.168"), 32), "152.222.36.168/32");
  EXPECT_EQ(cidr(v4("152.222.36.168"), 31), "152.222.36.168/31");
  EXPECT_EQ(cidr(v4("152.222.36.169"), 31), "152.222.36.168/31");
  EXPECT_EQ(cidr(v4("10.1.2.3"), 1), "0.0.0.0/1");
  EXPECT_EQ(cidr(v4("192.1.128.64"), 26), "192.1.128.64/26");
  EXPECT_EQ(cidr(v4("10.1.2.3"), 33), "10.1.2.3/32");  // clamped
  EXPECT_EQ(cidr(v4("10.1.2.3"), 255), "10.1.2.3/32");
  // The family is the address's, whatever the record says.
  EXPECT_EQ(cidr(v4("130.240.103.204"), 20, AddressFamily::kIpv6), "130.240.96.0/20");
}

TEST(TextFormat, CidrMasksIpv6) {
  EXPECT_EQ(cidr(v6("2001:db8::1"), 32), "2001:db8::/32");
  EXPECT_EQ(cidr(v6("2001:db8::1"), 128), "2001:db8::1/128");
  EXPECT_EQ(cidr(v6("2001:db8::1"), 129), "2001:db8::1/128");
  EXPECT_EQ(cidr(v6("2001:db8::1"), 0), "::/0");
  EXPECT_EQ(cidr(v6("2001:db8:abcd:1234::1"), 52), "2001:db8:abcd:1000::/52");
  EXPECT_EQ(cidr(v6("2001:db8:abcd:1234::1"), 50), "2001:db8:abcd::/50");
  EXPECT_EQ(cidr(v6("2001:db8:abcd:ffff::1"), 63), "2001:db8:abcd:fffe::/63");
  EXPECT_EQ(cidr(v6("fe80::1:2:3:4"), 64), "fe80::/64");
  EXPECT_EQ(cidr(v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 1), "8000::/1");
  EXPECT_EQ(cidr(v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 127),
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127");
}

TEST(TextFormat, CidrOfAnAbsentAddressUsesTheRecordsFamily) {
  EXPECT_EQ(cidr(IpAddress{}, 0, AddressFamily::kIpv4), "0.0.0.0/0");
  EXPECT_EQ(cidr(IpAddress{}, 24, AddressFamily::kIpv4), "0.0.0.0/24");
  EXPECT_EQ(cidr(IpAddress{}, 64, AddressFamily::kIpv4), "0.0.0.0/32");
  EXPECT_EQ(cidr(IpAddress{}, 0, AddressFamily::kIpv6), "::/0");
  EXPECT_EQ(cidr(IpAddress{}, 64, AddressFamily::kIpv6), "::/64");
  EXPECT_EQ(cidr(IpAddress{}, 200, AddressFamily::kIpv6), "::/128");
}

TEST(TextFormat, JsonEscaping) {
  EXPECT_EQ(escaped("plain text-1.2_3"), "plain text-1.2_3");
  EXPECT_EQ(escaped(""), "");
  EXPECT_EQ(escaped("a\"b\\c/d"), "a\\\"b\\\\c/d");
  EXPECT_EQ(escaped("\b\f\n\r\t"), "\\b\\f\\n\\r\\t");
  EXPECT_EQ(escaped(std::string_view("\x00\x01\x1f\x7f", 4)), "\\u0000\\u0001\\u001f\x7f");
  // Valid UTF-8 passes through: 2, 3 and 4-byte sequences.
  EXPECT_EQ(escaped("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80");
  // What is not UTF-8 becomes U+FFFD, one per bad byte, as Go's encoding/json writes it.
  EXPECT_EQ(escaped("a\xff"
                    "b"),
            "a\\ufffdb");
  EXPECT_EQ(escaped("\xc3"), "\\ufffd");                                   // truncated
  EXPECT_EQ(escaped("\xc0\xaf"), "\\ufffd\\ufffd");                        // overlong
  EXPECT_EQ(escaped("\xe0\x80\xaf"), "\\ufffd\\ufffd\\ufffd");             // overlong
  EXPECT_EQ(escaped("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd");             // surrogate
  EXPECT_EQ(escaped("\xf4\x90\x80\x80"), "\\ufffd\\ufffd\\ufffd\\ufffd");  // above U+10FFFF
  EXPECT_EQ(escaped("\xe6\x97"
                    "x"),
            "\\ufffd\\ufffdx");
}

}  // namespace
}  // namespace flowgate::exporter
