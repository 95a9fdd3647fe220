#include "dataplane/control_responder.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "tests/dataplane/frame_builder.hpp"

namespace flowgate::dataplane {
namespace {

namespace fb = testing;

constexpr std::array<uint8_t, 6> kMac = {0x02, 0xfe, 0, 0, 0, 0x0a};
constexpr std::array<uint8_t, 6> kPeerMac = {0x02, 0, 0, 0, 0, 0x01};
constexpr std::array<uint8_t, 4> kMine4 = {192, 0, 2, 10};
constexpr std::array<uint8_t, 4> kPeer4 = {192, 0, 2, 1};
constexpr fb::V6 kMine6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};

ControlResponder responder() {
  return ControlResponder(kMac, {decode::IpAddress::from_v4_bytes(kMine4.data()),
                                 decode::IpAddress::from_v6_bytes(kMine6.data())});
}

// Ethernet from the peer, with optional 802.1Q tags.
fb::Frame from_peer(uint16_t type, const fb::Frame& payload, std::initializer_list<uint16_t> tags = {}) {
  fb::Frame f = fb::ethernet(type, payload, tags);
  std::copy(kPeerMac.begin(), kPeerMac.end(), f.begin() + 6);
  return f;
}

fb::Frame arp_request(std::array<uint8_t, 4> target, uint16_t op = 1) {
  return fb::arp(kPeerMac, kPeer4, target, op);
}

fb::Frame icmp_echo(size_t data_bytes) {
  fb::Frame icmp = {8, 0, 0, 0, 0xbe, 0xef, 0, 1};
  fb::append(icmp, fb::payload_of(data_bytes, 3));
  const uint16_t c = checksum_fold(checksum_add(0, icmp.data(), icmp.size()));
  icmp[2] = static_cast<uint8_t>(c >> 8);
  icmp[3] = static_cast<uint8_t>(c);
  return icmp;
}

uint16_t icmp6_sum(const uint8_t* ip6, size_t len) {
  uint32_t sum = checksum_add(0, ip6 + 8, 32);
  sum += static_cast<uint32_t>(len) + 58;
  return checksum_fold(checksum_add(sum, ip6 + 40, len));
}

fb::Frame ns(const fb::V6& src, const fb::V6& target, uint8_t hop_limit = 255) {
  fb::Frame m = {135, 0, 0, 0, 0, 0, 0, 0};
  fb::append(m, target);
  fb::Frame ip = fb::ipv6(src, {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0x10}, 58, m);
  ip[7] = hop_limit;
  const uint16_t c = icmp6_sum(ip.data(), m.size());
  ip[42] = static_cast<uint8_t>(c >> 8);
  ip[43] = static_cast<uint8_t>(c);
  return ip;
}

struct Reply {
  ControlReply kind = ControlReply::kNone;
  std::vector<uint8_t> frame;
};

Reply respond(const fb::Frame& f) {
  std::vector<uint8_t> out(ControlResponder::kMaxReply);
  size_t n = 0;
  Reply r;
  r.kind = responder().respond(fb::as_bytes(f), out, n);
  out.resize(n);
  r.frame = out;
  return r;
}

uint16_t be16(const std::vector<uint8_t>& f, size_t at) {
  return static_cast<uint16_t>(f[at] << 8 | f[at + 1]);
}

TEST(ControlResponder, AnswersArpForItsAddressOnly) {
  const Reply r = respond(from_peer(fb::kEtherArp, arp_request(kMine4)));
  ASSERT_EQ(r.kind, ControlReply::kArp);
  ASSERT_EQ(r.frame.size(), 60u);  // padded to the Ethernet minimum
  EXPECT_TRUE(std::equal(kPeerMac.begin(), kPeerMac.end(), r.frame.begin()));
  EXPECT_TRUE(std::equal(kMac.begin(), kMac.end(), r.frame.begin() + 6));
  EXPECT_EQ(be16(r.frame, 14 + 6), 2);
  EXPECT_TRUE(std::equal(kMac.begin(), kMac.end(), r.frame.begin() + 22));
  EXPECT_TRUE(std::equal(kMine4.begin(), kMine4.end(), r.frame.begin() + 28));
  EXPECT_TRUE(std::equal(kPeerMac.begin(), kPeerMac.end(), r.frame.begin() + 32));
  EXPECT_TRUE(std::equal(kPeer4.begin(), kPeer4.end(), r.frame.begin() + 38));

  EXPECT_EQ(respond(from_peer(fb::kEtherArp, arp_request({192, 0, 2, 11}))).kind,
            ControlReply::kNone);
  EXPECT_EQ(respond(from_peer(fb::kEtherArp, arp_request(kMine4, 2))).kind,
            ControlReply::kNone);  // a reply
}

TEST(ControlResponder, KeepsVlanTags) {
  const Reply r = respond(from_peer(fb::kEtherArp, arp_request(kMine4), {0x8100}));
  ASSERT_EQ(r.kind, ControlReply::kArp);
  EXPECT_EQ(be16(r.frame, 12), 0x8100);
  EXPECT_EQ(be16(r.frame, 14), 100);
  EXPECT_EQ(be16(r.frame, 16), fb::kEtherArp);
  EXPECT_EQ(be16(r.frame, 18 + 6), 2);
}

TEST(ControlResponder, EchoesPingsWithValidChecksums) {
  fb::Ipv4Options o;
  o.protocol = 1;
  const Reply r = respond(from_peer(0x0800, fb::ipv4(kPeer4, kMine4, icmp_echo(56), o)));
  ASSERT_EQ(r.kind, ControlReply::kIcmpEcho);
  ASSERT_EQ(r.frame.size(), 14u + 20 + 64);
  EXPECT_EQ(checksum_fold(checksum_add(0, r.frame.data() + 14, 20)), 0);
  EXPECT_EQ(checksum_fold(checksum_add(0, r.frame.data() + 34, 64)), 0);
  EXPECT_EQ(r.frame[34], 0);
  EXPECT_EQ(be16(r.frame, 38), 0xbeef);
  const fb::Frame data = fb::payload_of(56, 3);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), r.frame.begin() + 42));

  fb::Frame bad = icmp_echo(8);
  bad[10] ^= 0xff;  // checksum no longer matches
  EXPECT_EQ(respond(from_peer(0x0800, fb::ipv4(kPeer4, kMine4, bad, o))).kind, ControlReply::kNone);
  EXPECT_EQ(respond(from_peer(0x0800, fb::ipv4(kPeer4, {192, 0, 2, 11}, icmp_echo(8), o))).kind,
            ControlReply::kNone);
  o.more_fragments = true;  // fragmented echo requests are not answered
  EXPECT_EQ(respond(from_peer(0x0800, fb::ipv4(kPeer4, kMine4, icmp_echo(8), o))).kind,
            ControlReply::kNone);
}

TEST(ControlResponder, AdvertisesItsIpv6AddressToSolicitations) {
  const Reply r = respond(from_peer(0x86dd, ns(fb::kSrc6, kMine6)));
  ASSERT_EQ(r.kind, ControlReply::kNeighborAdvert);
  ASSERT_EQ(r.frame.size(), 14u + 40 + 32);
  EXPECT_TRUE(std::equal(fb::kSrc6.begin(), fb::kSrc6.end(), r.frame.begin() + 14 + 24));
  EXPECT_EQ(r.frame[14 + 7], 255);
  EXPECT_EQ(r.frame[54], 136);
  EXPECT_EQ(r.frame[58], 0x60);
  EXPECT_TRUE(std::equal(kMine6.begin(), kMine6.end(), r.frame.begin() + 62));
  EXPECT_TRUE(std::equal(kMac.begin(), kMac.end(), r.frame.begin() + 80));
  EXPECT_EQ(icmp6_sum(r.frame.data() + 14, 32), 0);

  // Duplicate address detection (from ::) is answered to all-nodes, not solicited.
  const Reply dad = respond(from_peer(0x86dd, ns(fb::V6{}, kMine6)));
  ASSERT_EQ(dad.kind, ControlReply::kNeighborAdvert);
  EXPECT_EQ(dad.frame[0], 0x33);
  EXPECT_EQ(dad.frame[14 + 24], 0xff);
  EXPECT_EQ(dad.frame[58], 0x20);

  EXPECT_EQ(respond(from_peer(0x86dd, ns(fb::kSrc6, fb::kDst6))).kind, ControlReply::kNone);
  EXPECT_EQ(respond(from_peer(0x86dd, ns(fb::kSrc6, kMine6, 64))).kind, ControlReply::kNone);
}

TEST(ControlResponder, AnswersIcmpv6Echo) {
  fb::Frame m = {128, 0, 0, 0, 0, 9, 0, 1, 'p', 'i', 'n', 'g'};
  fb::Frame ip = fb::ipv6(fb::kSrc6, kMine6, 58, m);
  const uint16_t c = icmp6_sum(ip.data(), m.size());
  ip[42] = static_cast<uint8_t>(c >> 8);
  ip[43] = static_cast<uint8_t>(c);
  const Reply r = respond(from_peer(0x86dd, ip));
  ASSERT_EQ(r.kind, ControlReply::kIcmp6Echo);
  EXPECT_EQ(r.frame[54], 129);
  EXPECT_EQ(icmp6_sum(r.frame.data() + 14, m.size()), 0);
  EXPECT_TRUE(std::equal(kMine6.begin(), kMine6.end(), r.frame.begin() + 14 + 8));
}

TEST(ControlResponder, IgnoresTruncatedAndForeignFrames) {
  const fb::Frame arp = from_peer(fb::kEtherArp, arp_request(kMine4));
  for (size_t n = 0; n < 14 + 28; ++n) {
    const fb::Frame cut(arp.begin(), arp.begin() + static_cast<long>(n));
    EXPECT_EQ(respond(cut).kind, ControlReply::kNone) << n;
  }
  EXPECT_EQ(respond(from_peer(0x88cc, fb::payload_of(40))).kind, ControlReply::kNone);  // LLDP
  std::vector<uint8_t> out(ControlResponder::kMaxReply);
  size_t n = 0;
  EXPECT_EQ(ControlResponder().respond(fb::as_bytes(arp), out, n), ControlReply::kNone);  // no addresses
}

}  // namespace
}  // namespace flowgate::dataplane
