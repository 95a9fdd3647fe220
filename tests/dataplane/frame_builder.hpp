#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <vector>

#include "decode/ip_address.hpp"

namespace flowgate::dataplane::testing {

// Builds link, IP and UDP headers for dataplane tests. Checksums are left zero: the parser
// does not verify them (captures of locally sent packets carry offloaded, unset ones).
using Frame = std::vector<uint8_t>;
using V6 = std::array<uint8_t, 16>;

// The addresses test packets go between (documentation ranges, RFC 5737 and RFC 3849).
inline constexpr std::array<uint8_t, 4> kSrc4 = {192, 0, 2, 1};
inline constexpr std::array<uint8_t, 4> kDst4 = {198, 51, 100, 2};
inline constexpr V6 kSrc6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
inline constexpr V6 kDst6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};

// IPv6 Next Header values (IANA protocol numbers) and EtherTypes the tests build frames with.
inline constexpr uint8_t kNhHopByHop = 0;
inline constexpr uint8_t kNhRouting = 43;
inline constexpr uint8_t kNhFragment = 44;
inline constexpr uint8_t kNhEsp = 50;
inline constexpr uint8_t kNhAh = 51;
inline constexpr uint8_t kNhNone = 59;
inline constexpr uint8_t kNhDestOptions = 60;
inline constexpr uint16_t kEtherIpv4 = 0x0800;
inline constexpr uint16_t kEtherIpv6 = 0x86dd;
inline constexpr uint16_t kEtherArp = 0x0806;

inline void put16(Frame& f, uint16_t v) {
  f.push_back(static_cast<uint8_t>(v >> 8));
  f.push_back(static_cast<uint8_t>(v));
}
inline void put32(Frame& f, uint32_t v) {
  put16(f, static_cast<uint16_t>(v >> 16));
  put16(f, static_cast<uint16_t>(v));
}
inline void append(Frame& f, std::span<const uint8_t> b) { f.insert(f.end(), b.begin(), b.end()); }
inline Frame concat(std::initializer_list<std::span<const uint8_t>> parts) {
  Frame f;
  for (auto p : parts) append(f, p);
  return f;
}
inline std::span<const std::byte> as_bytes(const Frame& f) { return std::as_bytes(std::span(f)); }

inline Frame payload_of(size_t n, uint8_t seed = 0) {
  Frame p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(seed + i * 7);
  return p;
}

// UDP header + payload; `length` overrides the UDP length field.
inline Frame udp(uint16_t sport, uint16_t dport, std::span<const uint8_t> payload,
                 int length = -1) {
  Frame f;
  put16(f, sport);
  put16(f, dport);
  put16(f, static_cast<uint16_t>(length >= 0 ? length : static_cast<int>(payload.size() + 8)));
  put16(f, 0);
  append(f, payload);
  return f;
}

struct Ipv4Options {
  uint8_t protocol = 17;
  uint16_t id = 0x1234;
  bool more_fragments = false;
  uint16_t offset = 0;           // bytes, multiple of 8
  std::vector<uint8_t> options;  // padded by the caller to a multiple of 4
  int total_length = -1;         // overrides Total Length
  uint8_t version_ihl = 0;       // overrides the first byte
};

inline Frame ipv4(std::array<uint8_t, 4> src, std::array<uint8_t, 4> dst,
                  std::span<const uint8_t> l4, const Ipv4Options& o = {}) {
  Frame f;
  const size_t header = 20 + o.options.size();
  f.push_back(o.version_ihl ? o.version_ihl : static_cast<uint8_t>(0x40 | (header / 4)));
  f.push_back(0);
  put16(f, static_cast<uint16_t>(o.total_length >= 0 ? o.total_length
                                                     : static_cast<int>(header + l4.size())));
  put16(f, o.id);
  put16(f, static_cast<uint16_t>((o.more_fragments ? 0x2000 : 0) | (o.offset / 8)));
  f.push_back(64);
  f.push_back(o.protocol);
  put16(f, 0);
  append(f, src);
  append(f, dst);
  append(f, o.options);
  append(f, l4);
  return f;
}

// IPv6 header with Payload Length over `rest` (extension headers and upper layer).
inline Frame ipv6(const V6& src, const V6& dst, uint8_t next_header, std::span<const uint8_t> rest,
                  int payload_length = -1) {
  Frame f;
  put32(f, 0x60000000);
  put16(f, static_cast<uint16_t>(payload_length >= 0 ? payload_length
                                                     : static_cast<int>(rest.size())));
  f.push_back(next_header);
  f.push_back(64);
  append(f, src);
  append(f, dst);
  append(f, rest);
  return f;
}

// A generic extension header (Hop-by-Hop, Destination Options, Routing) of 8 * (1 + ext_len)
// bytes, padded with PadN.
inline Frame ipv6_ext(uint8_t next_header, uint8_t ext_len = 0) {
  Frame f(8 + size_t{ext_len} * 8, 0);
  f[0] = next_header;
  f[1] = ext_len;
  f[2] = 1;  // PadN
  f[3] = static_cast<uint8_t>(4 + ext_len * 8);
  return f;
}

inline Frame ipv6_fragment_header(uint8_t next_header, uint16_t offset, bool more, uint32_t id) {
  Frame f{next_header, 0};
  put16(f, static_cast<uint16_t>(offset | (more ? 1 : 0)));
  put32(f, id);
  return f;
}

// An ARP message for IPv4 over Ethernet (RFC 826): operation `op` (1 request, 2 reply) from
// sender_mac / sender_ip about target_ip, the target MAC left zero.
inline Frame arp(const std::array<uint8_t, 6>& sender_mac, const std::array<uint8_t, 4>& sender_ip,
                 const std::array<uint8_t, 4>& target_ip, uint16_t op = 1) {
  Frame a;
  put16(a, 1);           // hardware type: Ethernet
  put16(a, kEtherIpv4);  // protocol type
  a.push_back(6);        // hardware address length
  a.push_back(4);        // protocol address length
  put16(a, op);
  append(a, sender_mac);
  append(a, sender_ip);
  append(a, std::array<uint8_t, 6>{});
  append(a, target_ip);
  return a;
}

// Ethernet II with optional VLAN tags (each a TPID; the TCI is made up).
inline Frame ethernet(uint16_t ethertype, std::span<const uint8_t> payload,
                      std::initializer_list<uint16_t> tags = {}) {
  Frame f{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};
  uint16_t vid = 100;
  for (uint16_t tpid : tags) {
    put16(f, tpid);
    put16(f, vid++);
  }
  put16(f, ethertype);
  append(f, payload);
  return f;
}

inline decode::IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  const uint8_t bytes[4] = {a, b, c, d};
  return decode::IpAddress::from_v4_bytes(bytes);
}
inline decode::IpAddress v6(const V6& a) { return decode::IpAddress::from_v6_bytes(a.data()); }

struct PcapRecord {
  uint64_t ns = 0;
  Frame frame;
  uint32_t original_length = 0;  // 0: the frame's size
};

// Writes a classic pcap file with nanosecond timestamps (magic 0xa1b23c4d), little-endian.
inline void write_pcap(const std::filesystem::path& path, uint32_t linktype,
                       const std::vector<PcapRecord>& records, uint32_t snaplen = 65535) {
  std::ofstream out(path, std::ios::binary);
  auto le32 = [&](uint32_t v) {
    const char b[4] = {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 24)};
    out.write(b, 4);
  };
  auto le16 = [&](uint16_t v) {
    const char b[2] = {static_cast<char>(v), static_cast<char>(v >> 8)};
    out.write(b, 2);
  };
  le32(0xa1b23c4d);
  le16(2);
  le16(4);
  le32(0);
  le32(0);
  le32(snaplen);
  le32(linktype);
  for (const PcapRecord& r : records) {
    le32(static_cast<uint32_t>(r.ns / 1'000'000'000));
    le32(static_cast<uint32_t>(r.ns % 1'000'000'000));
    le32(static_cast<uint32_t>(r.frame.size()));
    le32(r.original_length ? r.original_length : static_cast<uint32_t>(r.frame.size()));
    out.write(reinterpret_cast<const char*>(r.frame.data()),
              static_cast<std::streamsize>(r.frame.size()));
  }
}

}  // namespace flowgate::dataplane::testing
