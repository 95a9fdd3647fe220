#include "dataplane/control_responder.hpp"

#include <cstring>

namespace flowgate::dataplane {
namespace {

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherArp = 0x0806;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88a8;
constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoIcmp6 = 58;

uint16_t get16(const uint8_t* p) noexcept { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
void put16(uint8_t* p, uint16_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// Copies the request's L2 header into the reply with the addresses swapped: to the requester,
// from us, with the same VLAN tags.
void l2_reply(const uint8_t* f, size_t l2, const std::array<uint8_t, 6>& mac, uint8_t* out) noexcept {
  std::memcpy(out, f, l2);
  std::memcpy(out, f + 6, 6);
  std::memcpy(out + 6, mac.data(), 6);
}

// ICMPv6 checksum over the IPv6 pseudo-header (RFC 8200 §8.1) and the message.
uint16_t icmp6_checksum(const uint8_t* ip6, const uint8_t* msg, size_t len) noexcept {
  uint32_t sum = checksum_add(0, ip6 + 8, 32);  // source and destination
  sum += static_cast<uint32_t>(len >> 16) + static_cast<uint32_t>(len & 0xffff);
  sum += kProtoIcmp6;
  return checksum_fold(checksum_add(sum, msg, len));
}

}  // namespace

uint32_t checksum_add(uint32_t sum, const uint8_t* data, size_t n) noexcept {
  size_t i = 0;
  for (; i + 1 < n; i += 2) sum += get16(data + i);
  if (i < n) sum += static_cast<uint32_t>(data[i]) << 8;
  return sum;
}

uint16_t checksum_fold(uint32_t sum) noexcept {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

bool ControlResponder::owns(const uint8_t* address, bool v6) const noexcept {
  const decode::IpAddress a =
      v6 ? decode::IpAddress::from_v6_bytes(address) : decode::IpAddress::from_v4_bytes(address);
  for (const decode::IpAddress& mine : addresses_) {
    if (mine.bytes == a.bytes) return true;
  }
  return false;
}

ControlReply ControlResponder::respond(decode::Bytes frame, std::span<uint8_t> out,
                                       size_t& length) const noexcept {
  length = 0;
  if (addresses_.empty() || out.size() < kMaxReply) return ControlReply::kNone;
  const auto* f = reinterpret_cast<const uint8_t*>(frame.data());
  const size_t n = frame.size();
  if (n < 14) return ControlReply::kNone;
  size_t l2 = 12;
  uint16_t type = get16(f + l2);
  for (int tags = 0; (type == kEtherVlan || type == kEtherQinQ) && tags < 2; ++tags) {
    l2 += 4;
    if (n < l2 + 2) return ControlReply::kNone;
    type = get16(f + l2);
  }
  l2 += 2;
  switch (type) {
    case kEtherArp:
      return arp(f, l2, n, out.data(), length);
    case kEtherIpv4:
      return ipv4(f, l2, n, out.data(), length);
    case kEtherIpv6:
      return ipv6(f, l2, n, out.data(), length);
    default:
      return ControlReply::kNone;
  }
}

// RFC 826 for Ethernet/IPv4: a request whose target protocol address is ours gets a reply
// with our hardware address, sent to the requester.
ControlReply ControlResponder::arp(const uint8_t* f, size_t l2, size_t n, uint8_t* out,
                                   size_t& length) const noexcept {
  constexpr size_t kArpLen = 28;
  if (n < l2 + kArpLen) return ControlReply::kNone;
  const uint8_t* a = f + l2;
  if (get16(a) != 1 || get16(a + 2) != kEtherIpv4 || a[4] != 6 || a[5] != 4 || get16(a + 6) != 1) {
    return ControlReply::kNone;  // not an Ethernet/IPv4 request
  }
  if (!owns(a + 24, false)) return ControlReply::kNone;
  l2_reply(f, l2, mac_, out);
  uint8_t* r = out + l2;
  std::memcpy(r, a, 6);
  put16(r + 6, 2);                    // reply
  std::memcpy(r + 8, mac_.data(), 6);  // sender: us
  std::memcpy(r + 14, a + 24, 4);
  std::memcpy(r + 18, a + 8, 10);     // target: the requester's hardware and protocol address
  length = l2 + kArpLen;
  // Ethernet minimum frame (without FCS): pad with zeros.
  if (length < 60) {
    std::memset(out + length, 0, 60 - length);
    length = 60;
  }
  return ControlReply::kArp;
}

// RFC 792 echo: the reply carries the request's identifier, sequence and data back.
ControlReply ControlResponder::ipv4(const uint8_t* f, size_t l2, size_t n, uint8_t* out,
                                    size_t& length) const noexcept {
  if (n < l2 + 20) return ControlReply::kNone;
  const uint8_t* ip = f + l2;
  const size_t ihl = static_cast<size_t>(ip[0] & 0x0f) * 4;
  const size_t total = get16(ip + 2);
  if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl + 8 || n < l2 + total) return ControlReply::kNone;
  if (ip[9] != kProtoIcmp || (get16(ip + 6) & 0x3fff) != 0) return ControlReply::kNone;  // fragments
  const uint8_t* icmp = ip + ihl;
  if (icmp[0] != 8 || icmp[1] != 0 || !owns(ip + 16, false)) return ControlReply::kNone;
  if (l2 + 20 + (total - ihl) > kMaxReply) return ControlReply::kNone;
  if (checksum_fold(checksum_add(0, icmp, total - ihl)) != 0) return ControlReply::kNone;
  l2_reply(f, l2, mac_, out);
  uint8_t* rip = out + l2;
  // A fresh 20-byte header: options of the request are not echoed (RFC 1122 §3.2.2.6 allows it).
  const size_t icmp_len = total - ihl;
  rip[0] = 0x45;
  rip[1] = ip[1];
  put16(rip + 2, static_cast<uint16_t>(20 + icmp_len));
  std::memcpy(rip + 4, ip + 4, 2);  // identification
  put16(rip + 6, 0);
  rip[8] = 64;
  rip[9] = kProtoIcmp;
  put16(rip + 10, 0);
  std::memcpy(rip + 12, ip + 16, 4);
  std::memcpy(rip + 16, ip + 12, 4);
  put16(rip + 10, checksum_fold(checksum_add(0, rip, 20)));
  uint8_t* ricmp = rip + 20;
  std::memcpy(ricmp, icmp, icmp_len);
  ricmp[0] = 0;  // echo reply
  put16(ricmp + 2, 0);
  put16(ricmp + 2, checksum_fold(checksum_add(0, ricmp, icmp_len)));
  length = l2 + 20 + icmp_len;
  if (length < 60) {
    std::memset(out + length, 0, 60 - length);
    length = 60;
  }
  return ControlReply::kIcmpEcho;
}

// ICMPv6 echo (RFC 4443 §4) and neighbour solicitation (RFC 4861 §7.2.3-4) for our addresses.
// Extension headers before ICMPv6 are not followed: neither message carries any in practice.
ControlReply ControlResponder::ipv6(const uint8_t* f, size_t l2, size_t n, uint8_t* out,
                                    size_t& length) const noexcept {
  if (n < l2 + 40 + 8) return ControlReply::kNone;
  const uint8_t* ip = f + l2;
  const size_t payload = get16(ip + 4);
  if ((ip[0] >> 4) != 6 || ip[6] != kProtoIcmp6 || payload < 8 || n < l2 + 40 + payload) {
    return ControlReply::kNone;
  }
  const uint8_t* icmp = ip + 40;
  if (icmp6_checksum(ip, icmp, payload) != 0) return ControlReply::kNone;
  l2_reply(f, l2, mac_, out);
  uint8_t* rip = out + l2;
  uint8_t* ricmp = rip + 40;
  std::memcpy(rip, ip, 4);  // version, traffic class, flow label
  rip[6] = kProtoIcmp6;

  if (icmp[0] == 128 && icmp[1] == 0) {  // echo request
    if (!owns(ip + 24, true) || l2 + 40 + payload > kMaxReply) return ControlReply::kNone;
    put16(rip + 4, static_cast<uint16_t>(payload));
    rip[7] = 64;
    std::memcpy(rip + 8, ip + 24, 16);
    std::memcpy(rip + 24, ip + 8, 16);
    std::memcpy(ricmp, icmp, payload);
    ricmp[0] = 129;
    put16(ricmp + 2, 0);
    put16(ricmp + 2, icmp6_checksum(rip, ricmp, payload));
    length = l2 + 40 + payload;
    return ControlReply::kIcmp6Echo;
  }
  if (icmp[0] != 135 || icmp[1] != 0 || payload < 24 || ip[7] != 255) {
    return ControlReply::kNone;  // RFC 4861 §7.1.1: hop limit 255, code 0, at least 24 octets
  }
  const uint8_t* target = icmp + 8;
  if (!owns(target, true)) return ControlReply::kNone;
  static constexpr uint8_t kUnspecified[16] = {};
  const bool dad = std::memcmp(ip + 8, kUnspecified, 16) == 0;
  constexpr size_t kNaLen = 32;  // header, flags, target, target link-layer address option
  put16(rip + 4, kNaLen);
  rip[7] = 255;
  std::memcpy(rip + 8, target, 16);
  if (dad) {
    // §7.2.4: a solicitation from the unspecified address is answered to all-nodes, unsolicited.
    static constexpr uint8_t kAllNodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    std::memcpy(rip + 24, kAllNodes, 16);
    static constexpr uint8_t kAllNodesMac[6] = {0x33, 0x33, 0, 0, 0, 1};
    std::memcpy(out, kAllNodesMac, 6);
  } else {
    std::memcpy(rip + 24, ip + 8, 16);
  }
  std::memset(ricmp, 0, kNaLen);
  ricmp[0] = 136;
  ricmp[4] = dad ? 0x20 : 0x60;  // Solicited (unless DAD) and Override
  std::memcpy(ricmp + 8, target, 16);
  ricmp[24] = 2;  // Target Link-Layer Address option, 1 unit of 8 octets
  ricmp[25] = 1;
  std::memcpy(ricmp + 26, mac_.data(), 6);
  put16(ricmp + 2, icmp6_checksum(rip, ricmp, kNaLen));
  length = l2 + 40 + kNaLen;
  return ControlReply::kNeighborAdvert;
}

}  // namespace flowgate::dataplane
