#include "dataplane/packet_parser.hpp"

#include <gtest/gtest.h>

#include <random>

#include "tests/dataplane/frame_builder.hpp"

namespace flowgate::dataplane {
namespace {

using testing::as_bytes;
using testing::concat;
using testing::Frame;
using testing::kDst4;
using testing::kDst6;
using testing::kSrc4;
using testing::kSrc6;
using testing::kNhAh;
using testing::kNhDestOptions;
using testing::kNhEsp;
using testing::kNhFragment;
using testing::kNhHopByHop;
using testing::kNhNone;
using testing::kNhRouting;

Frame udp4(size_t payload = 24) {
  return testing::ipv4(kSrc4, kDst4, testing::udp(2055, 9995, testing::payload_of(payload)));
}
Frame udp6(size_t payload = 24) {
  return testing::ipv6(kSrc6, kDst6, kIpProtoUdp,
                       testing::udp(4739, 4740, testing::payload_of(payload)));
}

// Parses a copy of `f` that lives until the next call, since `out` points into it.
ParseStatus parse(LinkType link, Frame f, ParsedPacket& out) {
  static Frame last;
  last = std::move(f);
  return parse_packet(link, as_bytes(last), out);
}

void expect_udp4(const ParsedPacket& p, size_t payload = 24) {
  EXPECT_EQ(p.ip_version, 4);
  EXPECT_EQ(p.src, testing::v4(192, 0, 2, 1));
  EXPECT_EQ(p.dst, testing::v4(198, 51, 100, 2));
  EXPECT_EQ(p.src_port, 2055);
  EXPECT_EQ(p.dst_port, 9995);
  EXPECT_EQ(p.protocol, kIpProtoUdp);
  EXPECT_FALSE(p.fragment.is_fragment);
  EXPECT_FALSE(p.udp_length_mismatch);
  ASSERT_EQ(p.payload.size(), payload);
  const Frame expected = testing::payload_of(payload);
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(),
                         reinterpret_cast<const uint8_t*>(p.payload.data())));
}

void expect_udp6(const ParsedPacket& p, size_t payload = 24) {
  EXPECT_EQ(p.ip_version, 6);
  EXPECT_EQ(p.src, testing::v6(kSrc6));
  EXPECT_EQ(p.dst, testing::v6(kDst6));
  EXPECT_EQ(p.src_port, 4739);
  EXPECT_EQ(p.dst_port, 4740);
  EXPECT_FALSE(p.udp_length_mismatch);
  ASSERT_EQ(p.payload.size(), payload);
  const Frame expected = testing::payload_of(payload);
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(),
                         reinterpret_cast<const uint8_t*>(p.payload.data())));
}

TEST(PacketParser, EthernetIpv4Udp) {
  ParsedPacket p;
  ASSERT_EQ(parse(LinkType::kEthernet, testing::ethernet(0x0800, udp4()), p), ParseStatus::kUdp);
  expect_udp4(p);
}

TEST(PacketParser, EthernetIpv6Udp) {
  ParsedPacket p;
  ASSERT_EQ(parse(LinkType::kEthernet, testing::ethernet(0x86dd, udp6()), p), ParseStatus::kUdp);
  expect_udp6(p);
}

TEST(PacketParser, IgnoresEthernetPaddingAfterTotalLength) {
  Frame f = testing::ethernet(0x0800, udp4(2));  // 14 + 20 + 8 + 2 = 44 bytes
  f.resize(60, 0xee);                            // padded to the Ethernet minimum
  ParsedPacket p;
  ASSERT_EQ(parse(LinkType::kEthernet, f, p), ParseStatus::kUdp);
  expect_udp4(p, 2);
}

TEST(PacketParser, IgnoresPaddingAfterIpv6PayloadLength) {
  Frame f = testing::ethernet(0x86dd, udp6(1));
  f.resize(f.size() + 9, 0xee);
  ParsedPacket p;
  ASSERT_EQ(parse(LinkType::kEthernet, f, p), ParseStatus::kUdp);
  expect_udp6(p, 1);
}

TEST(PacketParser, Dot1qTag) {
  ParsedPacket p;
  ASSERT_EQ(parse(LinkType::kEthernet, testing::ethernet(0x0800, udp4(), {0x8100}), p),
            ParseStatus::kUdp);
  expect_udp4(p);
}

TEST(PacketParser, QinQTags) {
  ParsedPacket p;
  ASSERT_EQ(parse(LinkType::kEthernet, testing::ethernet(0x86dd, udp6(), {0x88a8, 0x8100}), p),
            ParseStatus::kUdp);
  expect_udp6(p);
  ASSERT_EQ(parse(LinkType::kEthernet, testing::ethernet(0x0800, udp4(), {0x9100, 0x8100}), p),
            ParseStatus::kUdp);
  expect_udp4(p);
  ASSERT_EQ(
      parse(LinkType::kEthernet, testing::ethernet(0x0800, udp4(), {0x88a8, 0x88a8, 0x8100}), p),
      ParseStatus::kUdp);
  expect_udp4(p);
}

TEST(PacketParser, VlanTagCutShortIsTruncated) {
  Frame f = testing::ethernet(0x0800, {}, {0x8100});
  f.resize(16);  // TPID and half a TCI
  ParsedPacket p;
  EXPECT_EQ(parse(LinkType::kEthernet, f, p), ParseStatus::kTruncated);
}

TEST(PacketParser, NonIpEtherTypeIsNotIp) {
  ParsedPacket p;
  EXPECT_EQ(parse(LinkType::kEthernet, testing::ethernet(testing::kEtherArp, Frame(28, 0)), p),
            ParseStatus::kNotIp);
  EXPECT_EQ(parse(LinkType::kEthernet, testing::ethernet(0x88cc, Frame(40, 0), {0x8100}), p),
            ParseStatus::kNotIp);
}

TEST(PacketParser, ShortEthernetIsTruncated) {
  ParsedPacket p;
  EXPECT_EQ(parse(LinkType::kEthernet, Frame(13, 0), p), ParseStatus::kTruncated);
  EXPECT_EQ(parse(LinkType::kEthernet, Frame{}, p), ParseStatus::kTruncated);
}

Frame sll(uint16_t arphrd, uint16_t protocol) {
  Frame f;
  testing::put16(f, 0);  // packet type: to us
  testing::put16(f, arphrd);
  testing::put16(f, 6);
  for (int i = 0; i < 8; ++i) f.push_back(static_cast<uint8_t>(i));
  testing::put16(f, protocol);
  return f;
}

Frame sll2(uint16_t arphrd, uint16_t protocol) {
  Frame f;
  testing::put16(f, protocol);
  testing::put16(f, 0);
  testing::put32(f, 3);  // interface index
  testing::put16(f, arphrd);
  f.push_back(4);  // packet type: outgoing
  f.push_back(6);
  for (int i = 0; i < 8; ++i) f.push_back(static_cast<uint8_t>(i));
  return f;
}

TEST(PacketParser, LinuxCookedV1) {
  ParsedPacket p;
  ASSERT_EQ(parse(LinkType::kLinuxSll, concat({sll(1, 0x0800), udp4()}), p), ParseStatus::kUdp);
  expect_udp4(p);
  ASSERT_EQ(parse(LinkType::kLinuxSll, concat({sll(1, 0x86dd), udp6()}), p), ParseStatus::kUdp);
  expect_udp6(p);
  // A VLAN tag left in the payload (no VLAN acceleration on the capturing NIC).
  const Frame tag = {0x00, 0x64, 0x08, 0x00};
  ASSERT_EQ(parse(LinkType::kLinuxSll, concat({sll(1, 0x8100), tag, udp4()}), p),
            ParseStatus::kUdp);
  expect_udp4(p);
}

TEST(PacketParser, LinuxCookedV2) {
  ParsedPacket p;
  ASSERT_EQ(parse(LinkType::kLinuxSll2, concat({sll2(1, 0x86dd), udp6()}), p), ParseStatus::kUdp);
  expect_udp6(p);
  ASSERT_EQ(parse(LinkType::kLinuxSll2, concat({sll2(772, 0x0800), udp4()}), p), ParseStatus::kUdp);
  expect_udp4(p);
}

TEST(PacketParser, LinuxCookedNetlinkIsNotIp) {
  ParsedPacket p;
  // ARPHRD_NETLINK: the protocol field is a netlink family, 0x0800 would be a coincidence.
  EXPECT_EQ(parse(LinkType::kLinuxSll, concat({sll(824, 0x0800), udp4()}), p), ParseStatus::kNotIp);
  EXPECT_EQ(parse(LinkType::kLinuxSll2, concat({sll2(824, 0x0800), udp4()}), p),
            ParseStatus::kNotIp);
}

TEST(PacketParser, LinuxCookedShortIsTruncated) {
  ParsedPacket p;
  EXPECT_EQ(parse(LinkType::kLinuxSll, Frame(15, 0), p), ParseStatus::kTruncated);
  EXPECT_EQ(parse(LinkType::kLinuxSll2, Frame(19, 0), p), ParseStatus::kTruncated);
}

TEST(PacketParser, RawIp) {
  ParsedPacket p;
  ASSERT_EQ(parse(LinkType::kRaw, udp4(), p), ParseStatus::kUdp);
  expect_udp4(p);
  ASSERT_EQ(parse(LinkType::kRaw, udp6(), p), ParseStatus::kUdp);
  expect_udp6(p);
  ASSERT_EQ(parse(LinkType::kIpv4, udp4(), p), ParseStatus::kUdp);
  expect_udp4(p);
  ASSERT_EQ(parse(LinkType::kIpv6, udp6(), p), ParseStatus::kUdp);
  expect_udp6(p);
}

TEST(PacketParser, RawIpWithWrongVersion) {
  ParsedPacket p;
  Frame f = udp4();
  f[0] = 0x55;
  EXPECT_EQ(parse(LinkType::kRaw, f, p), ParseStatus::kBadHeader);
  EXPECT_EQ(parse(LinkType::kRaw, Frame{}, p), ParseStatus::kTruncated);
  // LINKTYPE_IPV4 promises IPv4; an IPv6 packet there is a bad header.
  EXPECT_EQ(parse(LinkType::kIpv4, udp6(), p), ParseStatus::kBadHeader);
  EXPECT_EQ(parse(LinkType::kIpv6, udp4(), p), ParseStatus::kBadHeader);
}

Frame family(uint32_t value, bool big_endian) {
  Frame f(4);
  for (int i = 0; i < 4; ++i) {
    const int shift = big_endian ? 24 - 8 * i : 8 * i;
    f[static_cast<size_t>(i)] = static_cast<uint8_t>(value >> shift);
  }
  return f;
}

TEST(PacketParser, BsdNullInEitherByteOrder) {
  ParsedPacket p;
  ASSERT_EQ(parse(LinkType::kNull, concat({family(2, false), udp4()}), p), ParseStatus::kUdp);
  expect_udp4(p);
  ASSERT_EQ(parse(LinkType::kNull, concat({family(2, true), udp4()}), p), ParseStatus::kUdp);
  expect_udp4(p);
  for (uint32_t af_inet6 : {10u, 24u, 28u, 30u}) {
    ASSERT_EQ(parse(LinkType::kNull, concat({family(af_inet6, false), udp6()}), p),
              ParseStatus::kUdp)
        << af_inet6;
    expect_udp6(p);
    ASSERT_EQ(parse(LinkType::kNull, concat({family(af_inet6, true), udp6()}), p),
              ParseStatus::kUdp)
        << af_inet6;
  }
  EXPECT_EQ(parse(LinkType::kNull, concat({family(7, false), udp4()}), p), ParseStatus::kNotIp);
  EXPECT_EQ(parse(LinkType::kNull, Frame(3, 0), p), ParseStatus::kTruncated);
}

TEST(PacketParser, BsdLoopIsNetworkOrder) {
  ParsedPacket p;
  ASSERT_EQ(parse(LinkType::kLoop, concat({family(2, true), udp4()}), p), ParseStatus::kUdp);
  expect_udp4(p);
  ASSERT_EQ(parse(LinkType::kLoop, concat({family(24, true), udp6()}), p), ParseStatus::kUdp);
  expect_udp6(p);
  EXPECT_EQ(parse(LinkType::kLoop, concat({family(2, false), udp4()}), p), ParseStatus::kNotIp);
}

TEST(PacketParser, Ipv4OptionsAreSkippedByIhl) {
  testing::Ipv4Options o;
  o.options = {0x94, 0x04, 0x00, 0x00};  // Router Alert (RFC 2113)
  ParsedPacket p;
  Frame f = testing::ipv4(kSrc4, kDst4, testing::udp(2055, 9995, testing::payload_of(24)), o);
  ASSERT_EQ(parse(LinkType::kRaw, f, p), ParseStatus::kUdp);
  expect_udp4(p);
  o.options.assign(40, 1);  // IHL 15: the longest header, all NOPs
  f = testing::ipv4(kSrc4, kDst4, testing::udp(2055, 9995, testing::payload_of(24)), o);
  ASSERT_EQ(parse(LinkType::kEthernet, testing::ethernet(0x0800, f), p), ParseStatus::kUdp);
  expect_udp4(p);
}

TEST(PacketParser, Ipv4BadHeaders) {
  ParsedPacket p;
  testing::Ipv4Options o;
  o.version_ihl = 0x44;  // IHL 4: under the 20-byte minimum
  EXPECT_EQ(parse(LinkType::kRaw, testing::ipv4(kSrc4, kDst4, testing::udp(1, 2, {}), o), p),
            ParseStatus::kBadHeader);
  o = {};
  o.version_ihl = 0x65;  // version 6 in an IPv4 EtherType
  EXPECT_EQ(
      parse(LinkType::kEthernet,
            testing::ethernet(0x0800, testing::ipv4(kSrc4, kDst4, testing::udp(1, 2, {}), o)), p),
      ParseStatus::kBadHeader);
  o = {};
  o.total_length = 19;  // under the header length
  EXPECT_EQ(parse(LinkType::kRaw, testing::ipv4(kSrc4, kDst4, testing::udp(1, 2, {}), o), p),
            ParseStatus::kBadHeader);
}

TEST(PacketParser, Ipv4ShorterThanItsHeaderSaysIsTruncated) {
  ParsedPacket p;
  testing::Ipv4Options o;
  o.total_length = 20 + 8 + 24 + 1;
  EXPECT_EQ(parse(LinkType::kRaw,
                  testing::ipv4(kSrc4, kDst4, testing::udp(1, 2, testing::payload_of(24)), o), p),
            ParseStatus::kTruncated);
  o = {};
  o.options.assign(20, 1);  // IHL 10, frame ends inside the options
  Frame f = testing::ipv4(kSrc4, kDst4, {}, o);
  f.resize(30);
  EXPECT_EQ(parse(LinkType::kRaw, f, p), ParseStatus::kTruncated);
}

TEST(PacketParser, Ipv4ZeroTotalLengthUsesCapturedLength) {
  // Segmentation offload: captured on the sending host before the NIC filled the length.
  testing::Ipv4Options o;
  o.total_length = 0;
  ParsedPacket p;
  ASSERT_EQ(
      parse(LinkType::kRaw,
            testing::ipv4(kSrc4, kDst4, testing::udp(2055, 9995, testing::payload_of(24)), o), p),
      ParseStatus::kUdp);
  expect_udp4(p);
}

TEST(PacketParser, OtherProtocolsAreNotUdp) {
  testing::Ipv4Options o;
  o.protocol = 6;
  ParsedPacket p;
  EXPECT_EQ(parse(LinkType::kRaw, testing::ipv4(kSrc4, kDst4, Frame(20, 0), o), p),
            ParseStatus::kNotUdp);
  EXPECT_EQ(p.protocol, 6);
  EXPECT_EQ(p.ip_version, 4);
  EXPECT_EQ(parse(LinkType::kRaw, testing::ipv6(kSrc6, kDst6, 58, Frame(8, 0)), p),
            ParseStatus::kNotUdp);
  EXPECT_EQ(p.protocol, 58);
}

TEST(PacketParser, UdpHeaderCutShortIsTruncated) {
  ParsedPacket p;
  EXPECT_EQ(parse(LinkType::kRaw, testing::ipv4(kSrc4, kDst4, Frame{0, 1, 0, 2}), p),
            ParseStatus::kTruncated);
  EXPECT_EQ(parse(LinkType::kRaw, testing::ipv6(kSrc6, kDst6, kIpProtoUdp, Frame(7, 0)), p),
            ParseStatus::kTruncated);
}

TEST(PacketParser, UdpLengthShorterThanIpUsesUdpLength) {
  ParsedPacket p;
  const Frame payload = testing::payload_of(24);
  ASSERT_EQ(parse(LinkType::kRaw,
                  testing::ipv4(kSrc4, kDst4, testing::udp(2055, 9995, payload, 8 + 10)), p),
            ParseStatus::kUdp);
  EXPECT_TRUE(p.udp_length_mismatch);
  EXPECT_EQ(p.payload.size(), 10u);
}

TEST(PacketParser, UdpLengthLongerThanIpUsesIpLength) {
  ParsedPacket p;
  const Frame payload = testing::payload_of(24);
  ASSERT_EQ(
      parse(LinkType::kRaw,
            testing::ipv6(kSrc6, kDst6, kIpProtoUdp, testing::udp(1, 2, payload, 8 + 100)), p),
      ParseStatus::kUdp);
  EXPECT_TRUE(p.udp_length_mismatch);
  EXPECT_EQ(p.payload.size(), 24u);
  // Under 8 is no UDP length at all (RFC 2675 jumbograms write 0): the IP length stands.
  ASSERT_EQ(parse(LinkType::kRaw, testing::ipv4(kSrc4, kDst4, testing::udp(1, 2, payload, 0)), p),
            ParseStatus::kUdp);
  EXPECT_TRUE(p.udp_length_mismatch);
  EXPECT_EQ(p.payload.size(), 24u);
}

TEST(PacketParser, Ipv6ExtensionHeaders) {
  const Frame l4 = testing::udp(4739, 4740, testing::payload_of(24));
  // Hop-by-Hop, Destination Options (2 units), Routing, AH (RFC 4302: Payload Len 4 = 24
  // bytes), Destination Options, UDP.
  Frame ah = {kNhDestOptions, 4, 0, 0};
  ah.resize(24, 0xab);
  const Frame rest = concat({testing::ipv6_ext(kNhDestOptions), testing::ipv6_ext(kNhRouting, 2),
                             testing::ipv6_ext(kNhAh), ah, testing::ipv6_ext(kIpProtoUdp), l4});
  ParsedPacket p;
  ASSERT_EQ(parse(LinkType::kRaw, testing::ipv6(kSrc6, kDst6, kNhHopByHop, rest), p),
            ParseStatus::kUdp);
  expect_udp6(p);
}

TEST(PacketParser, Ipv6HopByHopOnlyFirst) {
  const Frame rest = concat(
      {testing::ipv6_ext(kNhHopByHop), testing::ipv6_ext(kIpProtoUdp), testing::udp(1, 2, {})});
  ParsedPacket p;
  EXPECT_EQ(parse(LinkType::kRaw, testing::ipv6(kSrc6, kDst6, kNhDestOptions, rest), p),
            ParseStatus::kBadHeader);
}

TEST(PacketParser, Ipv6EspAndNoNextHeaderAreNotUdp) {
  ParsedPacket p;
  EXPECT_EQ(parse(LinkType::kRaw, testing::ipv6(kSrc6, kDst6, kNhEsp, Frame(32, 0)), p),
            ParseStatus::kNotUdp);
  EXPECT_EQ(p.protocol, kNhEsp);
  EXPECT_EQ(parse(LinkType::kRaw,
                  testing::ipv6(kSrc6, kDst6, kNhDestOptions, testing::ipv6_ext(kNhNone)), p),
            ParseStatus::kNotUdp);
  EXPECT_EQ(p.protocol, kNhNone);
}

TEST(PacketParser, Ipv6ExtensionHeaderPastPayloadIsTruncated) {
  ParsedPacket p;
  Frame ext = testing::ipv6_ext(kIpProtoUdp, 3);  // claims 32 bytes
  ext.resize(16);
  EXPECT_EQ(parse(LinkType::kRaw, testing::ipv6(kSrc6, kDst6, kNhDestOptions, ext), p),
            ParseStatus::kTruncated);
  EXPECT_EQ(parse(LinkType::kRaw, testing::ipv6(kSrc6, kDst6, kNhDestOptions, Frame{17}), p),
            ParseStatus::kTruncated);
  EXPECT_EQ(parse(LinkType::kRaw, testing::ipv6(kSrc6, kDst6, kNhFragment, Frame(7, 0)), p),
            ParseStatus::kTruncated);
}

TEST(PacketParser, Ipv6PayloadLengthPastFrameIsTruncated) {
  ParsedPacket p;
  const Frame l4 = testing::udp(1, 2, testing::payload_of(10));
  EXPECT_EQ(parse(LinkType::kRaw, testing::ipv6(kSrc6, kDst6, kIpProtoUdp, l4, 19), p),
            ParseStatus::kTruncated);
  EXPECT_EQ(parse(LinkType::kRaw, Frame(39, 0x60), p), ParseStatus::kTruncated);
}

TEST(PacketParser, Ipv6AtomicFragmentIsWhole) {
  // RFC 6946: offset 0, M = 0 is processed as a whole packet.
  const Frame rest = concat({testing::ipv6_fragment_header(kIpProtoUdp, 0, false, 77),
                             testing::udp(4739, 4740, testing::payload_of(24))});
  ParsedPacket p;
  ASSERT_EQ(parse(LinkType::kRaw, testing::ipv6(kSrc6, kDst6, kNhFragment, rest), p),
            ParseStatus::kUdp);
  expect_udp6(p);
}

TEST(PacketParser, Ipv4Fragments) {
  const Frame l4 = testing::udp(2055, 9995, testing::payload_of(40));
  testing::Ipv4Options o;
  o.id = 0xbeef;
  o.more_fragments = true;
  ParsedPacket p;
  ASSERT_EQ(parse(LinkType::kRaw, testing::ipv4(kSrc4, kDst4, std::span(l4).first(24), o), p),
            ParseStatus::kFragment);
  EXPECT_TRUE(p.fragment.is_fragment);
  EXPECT_TRUE(p.fragment.more_fragments);
  EXPECT_EQ(p.fragment.offset, 0);
  EXPECT_EQ(p.fragment.id, 0xbeefu);
  EXPECT_EQ(p.fragment.protocol, kIpProtoUdp);
  EXPECT_EQ(p.payload.size(), 24u);  // UDP header included: it belongs to the datagram
  EXPECT_EQ(p.src, testing::v4(192, 0, 2, 1));

  o.more_fragments = false;
  o.offset = 24;
  ASSERT_EQ(parse(LinkType::kRaw, testing::ipv4(kSrc4, kDst4, std::span(l4).subspan(24), o), p),
            ParseStatus::kFragment);
  EXPECT_FALSE(p.fragment.more_fragments);
  EXPECT_EQ(p.fragment.offset, 24);
  EXPECT_EQ(p.payload.size(), l4.size() - 24);
}

TEST(PacketParser, Ipv4FragmentOfOtherProtocolIsNotUdp) {
  testing::Ipv4Options o;
  o.protocol = 6;
  o.offset = 1480;
  ParsedPacket p;
  EXPECT_EQ(parse(LinkType::kRaw, testing::ipv4(kSrc4, kDst4, Frame(100, 0), o), p),
            ParseStatus::kNotUdp);
  EXPECT_TRUE(p.fragment.is_fragment);
}

TEST(PacketParser, Ipv6Fragments) {
  const Frame data = testing::payload_of(64);
  const Frame rest =
      concat({testing::ipv6_ext(kNhFragment),
              testing::ipv6_fragment_header(kIpProtoUdp, 1232, true, 0xdeadbeef), data});
  ParsedPacket p;
  ASSERT_EQ(parse(LinkType::kRaw, testing::ipv6(kSrc6, kDst6, kNhHopByHop, rest), p),
            ParseStatus::kFragment);
  EXPECT_TRUE(p.fragment.is_fragment);
  EXPECT_TRUE(p.fragment.more_fragments);
  EXPECT_EQ(p.fragment.offset, 1232);
  EXPECT_EQ(p.fragment.id, 0xdeadbeefu);
  EXPECT_EQ(p.fragment.protocol, kIpProtoUdp);
  EXPECT_EQ(p.payload.size(), 64u);
  EXPECT_EQ(p.src, testing::v6(kSrc6));

  // Destination Options may follow the Fragment header; only reassembly can see past it.
  ASSERT_EQ(parse(LinkType::kRaw,
                  testing::ipv6(
                      kSrc6, kDst6, kNhFragment,
                      concat({testing::ipv6_fragment_header(kNhDestOptions, 8, false, 1), data})),
                  p),
            ParseStatus::kFragment);
  EXPECT_EQ(p.fragment.protocol, kNhDestOptions);

  ASSERT_EQ(parse(LinkType::kRaw,
                  testing::ipv6(kSrc6, kDst6, kNhFragment,
                                concat({testing::ipv6_fragment_header(kNhEsp, 0, true, 1), data})),
                  p),
            ParseStatus::kNotUdp);
  EXPECT_EQ(p.protocol, kNhEsp);
}

TEST(PacketParser, EveryPrefixOfAFrameIsTruncated) {
  testing::Ipv4Options o;
  o.options = {1, 1, 1, 0};
  const Frame v6rest = concat({testing::ipv6_ext(kNhDestOptions), testing::ipv6_ext(kIpProtoUdp, 1),
                               testing::udp(1, 2, testing::payload_of(5))});
  const std::vector<std::pair<LinkType, Frame>> frames = {
      {LinkType::kEthernet,
       testing::ethernet(0x0800,
                         testing::ipv4(kSrc4, kDst4, testing::udp(1, 2, testing::payload_of(5)), o),
                         {0x88a8, 0x8100})},
      {LinkType::kEthernet, testing::ethernet(0x86dd, testing::ipv6(kSrc6, kDst6, 0, v6rest))},
      {LinkType::kLinuxSll2, concat({sll2(1, 0x86dd), testing::ipv6(kSrc6, kDst6, 0, v6rest)})},
      {LinkType::kLinuxSll, concat({sll(1, 0x0800), udp4(3)})},
      {LinkType::kNull, concat({family(2, false), udp4(3)})},
  };
  for (const auto& [link, frame] : frames) {
    ParsedPacket p;
    ASSERT_EQ(parse(link, frame, p), ParseStatus::kUdp);
    for (size_t n = 0; n < frame.size(); ++n) {
      EXPECT_EQ(parse_packet(link, as_bytes(frame).first(n), p), ParseStatus::kTruncated)
          << link_type_name(link) << " cut at " << n;
    }
  }
}

TEST(PacketParser, RandomBytesStayInBounds) {
  std::mt19937 rng(42);
  const LinkType links[] = {LinkType::kNull, LinkType::kEthernet, LinkType::kRaw,
                            LinkType::kLoop, LinkType::kLinuxSll, LinkType::kIpv4,
                            LinkType::kIpv6, LinkType::kLinuxSll2};
  // Start from a valid frame and flip bytes, so that parsing gets deep as well as wide.
  const Frame base = testing::ethernet(
      0x86dd,
      testing::ipv6(kSrc6, kDst6, 0,
                    concat({testing::ipv6_ext(kNhFragment),
                            testing::ipv6_fragment_header(kIpProtoUdp, 0, true, 9),
                            testing::udp(1, 2, testing::payload_of(16))})),
      {0x8100});
  for (int i = 0; i < 20000; ++i) {
    Frame f = base;
    f.resize(rng() % (base.size() + 8), 0x45);
    for (int flips = 0; flips < 4; ++flips) {
      if (!f.empty()) f[rng() % f.size()] = static_cast<uint8_t>(rng());
    }
    ParsedPacket p;
    const ParseStatus s = parse_packet(links[rng() % 8], as_bytes(f), p);
    if (s == ParseStatus::kUdp || s == ParseStatus::kFragment) {
      const auto* begin = reinterpret_cast<const uint8_t*>(p.payload.data());
      ASSERT_GE(begin, f.data());
      ASSERT_LE(begin + p.payload.size(), f.data() + f.size());
    }
  }
}

TEST(PacketParser, ReassembledIpv6SkipsHeadersAfterFragment) {
  const Frame data =
      concat({testing::ipv6_ext(kIpProtoUdp), testing::udp(4739, 4740, testing::payload_of(24))});
  ParsedPacket p;
  ASSERT_EQ(parse_reassembled(6, kNhDestOptions, as_bytes(data), p), ParseStatus::kUdp);
  EXPECT_EQ(p.src_port, 4739);
  EXPECT_EQ(p.payload.size(), 24u);
  // Neither Hop-by-Hop nor a second Fragment header may follow a Fragment header.
  const Frame hbh = concat({testing::ipv6_ext(kIpProtoUdp), testing::udp(1, 2, {})});
  EXPECT_EQ(parse_reassembled(6, kNhHopByHop, as_bytes(hbh), p), ParseStatus::kBadHeader);
  EXPECT_EQ(parse_reassembled(6, kNhFragment, as_bytes(hbh), p), ParseStatus::kBadHeader);
  EXPECT_EQ(parse_reassembled(4, 6, as_bytes(hbh), p), ParseStatus::kNotUdp);
}

TEST(PacketParser, StatusNames) {
  EXPECT_EQ(parse_status_name(ParseStatus::kUdp), "udp");
  EXPECT_EQ(parse_status_name(ParseStatus::kBadHeader), "bad_header");
  EXPECT_EQ(kParseStatusHelp.size(), static_cast<size_t>(ParseStatus::kCount));
}

}  // namespace
}  // namespace flowgate::dataplane
