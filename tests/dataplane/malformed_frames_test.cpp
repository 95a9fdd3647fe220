// Malformed frames under the decoders, through UdpExtractor as every frame-level source runs
// it: each is dropped with the one reason counter that names its fault (PacketCounters for the
// parse, ReassemblyCounters for fragments), and a valid frame after it, whole or fragmented,
// is still delivered. README "Hardening" lists the reasons.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "dataplane/packet_counters.hpp"
#include "dataplane/reassembly_counters.hpp"
#include "dataplane/udp_extractor.hpp"
#include "tests/dataplane/frame_builder.hpp"

namespace flowgate::dataplane {
namespace {

using testing::concat;
using testing::Frame;
using testing::kDst4;
using testing::kDst6;
using testing::kSrc4;
using testing::kSrc6;
using testing::kEtherIpv4;
using testing::kEtherIpv6;
using testing::kNhDestOptions;
using testing::kNhFragment;
using testing::kNhHopByHop;

const Frame& payload() {
  static const Frame p = testing::payload_of(100, 3);
  return p;
}
Frame dgram() { return testing::udp(40000, 2055, payload()); }

Frame good_v4() { return testing::ethernet(kEtherIpv4, testing::ipv4(kSrc4, kDst4, dgram())); }

Frame v4_fragment(std::span<const uint8_t> data, uint16_t offset, bool more, uint16_t id) {
  testing::Ipv4Options o;
  o.id = id;
  o.offset = offset;
  o.more_fragments = more;
  return testing::ethernet(kEtherIpv4, testing::ipv4(kSrc4, kDst4, data, o));
}

Frame v6_frame(uint8_t next_header, const Frame& rest) {
  return testing::ethernet(kEtherIpv6, testing::ipv6(kSrc6, kDst6, next_header, rest));
}

class MalformedFrames : public ::testing::Test {
 protected:
  // Hands a frame to the extractor; true when it delivered a datagram.
  bool feed(const Frame& f) {
    now_ += 1'000'000;
    const ParsedPacket* p = x_.extract(LinkType::kEthernet, testing::as_bytes(f), now_);
    if (p == nullptr) return false;
    delivered_.assign(reinterpret_cast<const uint8_t*>(p->payload.data()),
                      reinterpret_cast<const uint8_t*>(p->payload.data()) + p->payload.size());
    return true;
  }

  // A frame dropped as `reason`: that parse counter and no other went up, nothing delivered.
  void expect_parse_drop(const Frame& f, uint64_t PacketCounters::*reason) {
    const PacketCounters before = x_.counters();
    EXPECT_FALSE(feed(f));
    const PacketCounters& after = x_.counters();
    EXPECT_EQ(after.*reason, before.*reason + 1);
    uint64_t moved = 0;
    for (uint64_t PacketCounters::*c :
         {&PacketCounters::udp_frames, &PacketCounters::fragments, &PacketCounters::not_ip,
          &PacketCounters::not_udp, &PacketCounters::truncated, &PacketCounters::bad_header}) {
      moved += after.*c - before.*c;
    }
    EXPECT_EQ(moved, 1u);
    expect_recovers();
  }

  // A whole frame and a fragmented datagram both still come through.
  void expect_recovers() {
    ASSERT_TRUE(feed(good_v4()));
    EXPECT_EQ(delivered_, payload());
    const Frame d = dgram();
    const uint16_t id = next_id_++;
    EXPECT_FALSE(feed(v4_fragment(std::span(d).subspan(0, 56), 0, true, id)));
    ASSERT_TRUE(feed(v4_fragment(std::span(d).subspan(56), 56, false, id)));
    EXPECT_EQ(delivered_, payload());
  }

  UdpExtractor x_{8, 1'000'000'000};
  uint64_t now_ = 1'700'000'000'000'000'000ull;
  uint16_t next_id_ = 100;
  std::vector<uint8_t> delivered_;
};

TEST_F(MalformedFrames, TruncatedEthernetAndVlanTags) {
  Frame f = good_v4();
  f.resize(13);
  expect_parse_drop(f, &PacketCounters::truncated);
  Frame tagged = testing::ethernet(0x8100, {}, {0x88a8});  // an S-tag, then a cut C-tag
  tagged.push_back(0);
  expect_parse_drop(tagged, &PacketCounters::truncated);
}

TEST_F(MalformedFrames, Ipv4IhlUnderFive) {
  for (uint8_t ihl : {0, 1, 4}) {
    SCOPED_TRACE(ihl);
    testing::Ipv4Options o;
    o.version_ihl = static_cast<uint8_t>(0x40 | ihl);
    expect_parse_drop(testing::ethernet(kEtherIpv4, testing::ipv4(kSrc4, kDst4, dgram(), o)),
                      &PacketCounters::bad_header);
  }
}

TEST_F(MalformedFrames, Ipv4TotalLengthUnderTheHeaderOrPastTheFrame) {
  testing::Ipv4Options under;
  under.total_length = 19;
  expect_parse_drop(testing::ethernet(kEtherIpv4, testing::ipv4(kSrc4, kDst4, dgram(), under)),
                    &PacketCounters::bad_header);
  testing::Ipv4Options past;
  past.total_length = 0xffff;
  expect_parse_drop(testing::ethernet(kEtherIpv4, testing::ipv4(kSrc4, kDst4, dgram(), past)),
                    &PacketCounters::truncated);
}

TEST_F(MalformedFrames, Ipv4IhlPastTheFrame) {
  testing::Ipv4Options o;
  o.version_ihl = 0x4f;  // a 60-byte header, Total Length 68, in a 48-byte packet
  o.total_length = 68;
  Frame ip = testing::ipv4(kSrc4, kDst4, Frame(8, 0), o);
  expect_parse_drop(testing::ethernet(kEtherIpv4, ip), &PacketCounters::truncated);
}

TEST_F(MalformedFrames, UdpHeaderCut) {
  const Frame d = dgram();
  expect_parse_drop(testing::ethernet(kEtherIpv4,
                                      testing::ipv4(kSrc4, kDst4, std::span(d).subspan(0, 7))),
                    &PacketCounters::truncated);
}

TEST_F(MalformedFrames, Ipv6PayloadLengthPastTheFrame) {
  expect_parse_drop(
      testing::ethernet(kEtherIpv6, testing::ipv6(kSrc6, kDst6, 17, dgram(), 4000)),
      &PacketCounters::truncated);
}

TEST_F(MalformedFrames, Ipv6ExtensionHeaderLengthPastThePayload) {
  Frame ext = testing::ipv6_ext(17, 255);  // says 2048 bytes
  ext.resize(8);
  expect_parse_drop(v6_frame(kNhDestOptions, ext), &PacketCounters::truncated);
}

TEST_F(MalformedFrames, Ipv6HopByHopAfterAnotherHeader) {
  // A Hop-by-Hop header that names itself again loops back to where it may not be.
  expect_parse_drop(v6_frame(kNhHopByHop, concat({testing::ipv6_ext(kNhHopByHop),
                                                  testing::ipv6_ext(17), dgram()})),
                    &PacketCounters::bad_header);
}

TEST_F(MalformedFrames, Ipv6ExtensionChainOverSixteenHeaders) {
  Frame chain;
  for (int i = 0; i < 16; ++i) chain = concat({chain, testing::ipv6_ext(kNhDestOptions)});
  expect_parse_drop(v6_frame(kNhDestOptions, concat({chain, testing::ipv6_ext(17), dgram()})),
                    &PacketCounters::bad_header);
  // Sixteen are walked.
  Frame fifteen;
  for (int i = 0; i < 15; ++i) fifteen = concat({fifteen, testing::ipv6_ext(kNhDestOptions)});
  ASSERT_TRUE(
      feed(v6_frame(kNhDestOptions, concat({fifteen, testing::ipv6_ext(17), dgram()}))));
  EXPECT_EQ(delivered_, payload());
}

TEST_F(MalformedFrames, Ipv6SecondFragmentHeaderAfterReassembly) {
  // Fragment, then another Fragment header inside the fragmentable part: the reassembled data
  // cannot be walked (RFC 8200 §4.5 allows one).
  const Frame inner = concat({testing::ipv6_fragment_header(17, 0, false, 5), dgram()});
  const Frame first = concat({testing::ipv6_fragment_header(kNhFragment, 0, true, 9),
                              std::span(inner).subspan(0, 64)});
  const Frame last = concat({testing::ipv6_fragment_header(kNhFragment, 64, false, 9),
                             std::span(inner).subspan(64)});
  // The Fragment header's Next Header (44) cannot lead to UDP: not_udp at the first fragment.
  expect_parse_drop(v6_frame(kNhFragment, first), &PacketCounters::not_udp);
  expect_parse_drop(v6_frame(kNhFragment, last), &PacketCounters::not_udp);
}

// A fragment dropped as `reason` by reassembly, with its datagram; the valid ones still pass.
class MalformedFragments : public MalformedFrames {
 protected:
  void expect_reassembly_drop(const std::vector<Frame>& frames,
                              uint64_t ReassemblyCounters::*reason) {
    const ReassemblyCounters before = x_.reassembly_counters();
    for (const Frame& f : frames) EXPECT_FALSE(feed(f));
    EXPECT_EQ(x_.reassembly_counters().*reason, before.*reason + 1);
    EXPECT_EQ(x_.reassembly_counters().completed, before.completed);
    expect_recovers();
  }
};

TEST_F(MalformedFragments, OverlappingOffsets) {
  const Frame d = dgram();
  expect_reassembly_drop({v4_fragment(std::span(d).subspan(0, 56), 0, true, 1),
                          v4_fragment(std::span(d).subspan(48, 32), 48, true, 1)},
                         &ReassemblyCounters::overlaps);
}

TEST_F(MalformedFragments, OverlapWithDifferentBytesAtTheSameOffset) {
  const Frame d = dgram();
  Frame other = d;
  other[20] ^= 0xff;
  expect_reassembly_drop({v4_fragment(std::span(d).subspan(0, 56), 0, true, 2),
                          v4_fragment(std::span(other).subspan(0, 56), 0, true, 2)},
                         &ReassemblyCounters::overlaps);
}

TEST_F(MalformedFragments, OffsetPastTheLargestDatagram) {
  const Frame d = dgram();
  expect_reassembly_drop({v4_fragment(std::span(d).subspan(0, 16), 65528, true, 3)},
                         &ReassemblyCounters::too_big);
  // IPv6: 8191 * 8 plus 16 bytes reaches past 65535 - 8.
  const Frame v6 = v6_frame(kNhFragment, concat({testing::ipv6_fragment_header(17, 65528, true, 4),
                                                 std::span(d).subspan(0, 16)}));
  expect_reassembly_drop({v6}, &ReassemblyCounters::too_big);
}

TEST_F(MalformedFragments, MiddleFragmentNotAMultipleOfEight) {
  const Frame d = dgram();
  expect_reassembly_drop({v4_fragment(std::span(d).subspan(0, 50), 0, true, 5)},
                         &ReassemblyCounters::bad);
}

TEST_F(MalformedFragments, TwoLastFragmentsDisagreeOnTheEnd) {
  const Frame d = dgram();
  expect_reassembly_drop({v4_fragment(std::span(d).subspan(56, 8), 56, false, 6),
                          v4_fragment(std::span(d).subspan(64, 8), 64, false, 6)},
                         &ReassemblyCounters::bad);
}

TEST_F(MalformedFragments, ReassembledExtensionHeaderPastTheData) {
  // IPv6 fragments whose fragmentable part starts with a Destination Options header claiming
  // 2048 bytes; 16 bytes reassemble, so the walk to UDP runs out of data.
  Frame ext = testing::ipv6_ext(17, 255);
  ext.resize(16);
  const Frame first = concat({testing::ipv6_fragment_header(kNhDestOptions, 0, true, 8),
                              std::span(ext).subspan(0, 8)});
  const Frame last = concat({testing::ipv6_fragment_header(kNhDestOptions, 8, false, 8),
                             std::span(ext).subspan(8)});
  expect_reassembly_drop({v6_frame(kNhFragment, first), v6_frame(kNhFragment, last)},
                         &ReassemblyCounters::malformed);
}

}  // namespace
}  // namespace flowgate::dataplane
