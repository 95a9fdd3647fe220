#include "dataplane/fragment_reassembler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
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

constexpr uint64_t kSecond = 1'000'000'000;

// A UDP datagram (header and payload), as the fragments carry it.
Frame datagram(size_t payload, uint8_t seed = 0) {
  return testing::udp(2055, 9995, testing::payload_of(payload, seed));
}

ParsedPacket frag(const Frame& d, size_t offset, size_t length, bool more, uint32_t id = 7,
                  uint8_t version = 4, uint8_t protocol = kIpProtoUdp) {
  ParsedPacket p;
  p.ip_version = version;
  p.src = version == 4 ? testing::v4(192, 0, 2, 1) : testing::v6(kSrc6);
  p.dst = version == 4 ? testing::v4(198, 51, 100, 2) : testing::v6(kDst6);
  p.protocol = protocol;
  p.fragment = FragmentInfo{true, more, static_cast<uint16_t>(offset), id, protocol};
  p.payload = as_bytes(d).subspan(offset, length);
  return p;
}

// Splits a datagram into fragments of `size` bytes (a multiple of 8), in order.
std::vector<ParsedPacket> split(const Frame& d, size_t size, uint32_t id = 7, uint8_t version = 4) {
  std::vector<ParsedPacket> out;
  for (size_t off = 0; off < d.size(); off += size) {
    const size_t n = std::min(size, d.size() - off);
    out.push_back(frag(d, off, n, off + n < d.size(), id, version));
  }
  return out;
}

void expect_payload(const ParsedPacket& p, size_t payload, uint8_t seed = 0) {
  EXPECT_EQ(p.src_port, 2055);
  EXPECT_EQ(p.dst_port, 9995);
  EXPECT_FALSE(p.udp_length_mismatch);
  ASSERT_EQ(p.payload.size(), payload);
  const Frame expected = testing::payload_of(payload, seed);
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(),
                         reinterpret_cast<const uint8_t*>(p.payload.data())));
}

TEST(FragmentReassembler, InOrderIpv4) {
  FragmentReassembler r;
  const Frame d = datagram(3992);  // 4000 bytes: 1480 + 1480 + 1040
  const auto frags = split(d, 1480);
  ParsedPacket out;
  EXPECT_EQ(r.add(frags[0], 1, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.add(frags[1], 2, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.in_flight(), 1u);
  ASSERT_EQ(r.add(frags[2], 3, out), ReassemblyStatus::kComplete);
  expect_payload(out, 3992);
  EXPECT_EQ(out.src, testing::v4(192, 0, 2, 1));
  EXPECT_EQ(out.dst, testing::v4(198, 51, 100, 2));
  EXPECT_EQ(out.ip_version, 4);
  EXPECT_EQ(r.in_flight(), 0u);
  EXPECT_EQ(r.counters().fragments, 3u);
  EXPECT_EQ(r.counters().completed, 1u);
}

TEST(FragmentReassembler, AnyOrder) {
  const Frame d = datagram(3992);
  const auto frags = split(d, 1480);
  std::vector<size_t> order = {0, 1, 2};
  do {
    FragmentReassembler r(4);
    ParsedPacket out;
    EXPECT_EQ(r.add(frags[order[0]], 1, out), ReassemblyStatus::kPending);
    EXPECT_EQ(r.add(frags[order[1]], 2, out), ReassemblyStatus::kPending);
    ASSERT_EQ(r.add(frags[order[2]], 3, out), ReassemblyStatus::kComplete);
    expect_payload(out, 3992);
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(FragmentReassembler, OverlapDropsTheDatagram) {
  FragmentReassembler r;
  const Frame d = datagram(3992);
  ParsedPacket out;
  EXPECT_EQ(r.add(frag(d, 0, 1480, true), 1, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.add(frag(d, 1472, 1488, true), 2, out), ReassemblyStatus::kDropped);
  EXPECT_EQ(r.counters().overlaps, 1u);
  EXPECT_EQ(r.in_flight(), 0u);
  // What comes after starts afresh and cannot complete without the lost fragments.
  EXPECT_EQ(r.add(frag(d, 2960, 1040, false), 3, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.counters().completed, 0u);
}

TEST(FragmentReassembler, FragmentInsideReceivedDataIsOverlap) {
  FragmentReassembler r;
  const Frame d = datagram(3992);
  ParsedPacket out;
  EXPECT_EQ(r.add(frag(d, 0, 1480, true), 1, out), ReassemblyStatus::kPending);
  // Inside data already received, with other bytes: an overlap (RFC 5722).
  const Frame other = datagram(3992, 1);
  EXPECT_EQ(r.add(frag(other, 96, 16, true), 2, out), ReassemblyStatus::kDropped);
  EXPECT_EQ(r.counters().overlaps, 1u);
}

TEST(FragmentReassembler, ExactDuplicatesAreIgnored) {
  FragmentReassembler r;
  const Frame d = datagram(3992);
  const auto frags = split(d, 1480);
  ParsedPacket out;
  EXPECT_EQ(r.add(frags[0], 1, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.add(frags[0], 2, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.add(frags[2], 3, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.add(frags[2], 4, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.counters().duplicates, 2u);
  ASSERT_EQ(r.add(frags[1], 5, out), ReassemblyStatus::kComplete);
  expect_payload(out, 3992);
}

TEST(FragmentReassembler, DuplicateWithOtherBytesIsOverlap) {
  FragmentReassembler r;
  const Frame d = datagram(3992);
  const Frame changed = datagram(3992, 1);
  ParsedPacket out;
  EXPECT_EQ(r.add(frag(d, 0, 1480, true), 1, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.add(frag(changed, 0, 1480, true), 2, out), ReassemblyStatus::kDropped);
  EXPECT_EQ(r.counters().overlaps, 1u);
  EXPECT_EQ(r.counters().duplicates, 0u);
}

TEST(FragmentReassembler, TimesOutFromTheFirstFragment) {
  FragmentReassembler r(8, 30 * kSecond);
  const Frame d = datagram(3992);
  const auto frags = split(d, 1480);
  ParsedPacket out;
  EXPECT_EQ(r.add(frags[0], 100 * kSecond, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.add(frags[1], 120 * kSecond, out), ReassemblyStatus::kPending);
  // 30 s after the first fragment the datagram is gone; the late fragment starts anew.
  EXPECT_EQ(r.add(frags[2], 130 * kSecond, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.counters().timed_out, 1u);
  EXPECT_EQ(r.in_flight(), 1u);
}

TEST(FragmentReassembler, CompletesJustBeforeTheTimeout) {
  FragmentReassembler r(8, 30 * kSecond);
  const Frame d = datagram(100);
  const auto frags = split(d, 64);
  ParsedPacket out;
  EXPECT_EQ(r.add(frags[0], 100 * kSecond, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.add(frags[1], 130 * kSecond - 1, out), ReassemblyStatus::kComplete);
  EXPECT_EQ(r.counters().timed_out, 0u);
}

TEST(FragmentReassembler, LeastRecentlyUsedTimesOutOnAnyAdd) {
  FragmentReassembler r(8, 30 * kSecond);
  const Frame d = datagram(3992);
  ParsedPacket out;
  EXPECT_EQ(r.add(frag(d, 0, 1480, true, 1), 0, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.add(frag(d, 0, 1480, true, 2), 31 * kSecond, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.counters().timed_out, 1u);
  EXPECT_EQ(r.in_flight(), 1u);
}

TEST(FragmentReassembler, ExpireSweepsEverything) {
  FragmentReassembler r(8, 30 * kSecond);
  const Frame d = datagram(3992);
  ParsedPacket out;
  for (uint32_t id = 0; id < 5; ++id) {
    EXPECT_EQ(r.add(frag(d, 0, 1480, true, id), id * kSecond, out), ReassemblyStatus::kPending);
  }
  r.expire(32 * kSecond);  // ids 0..2 started at 0..2 s
  EXPECT_EQ(r.counters().timed_out, 3u);
  EXPECT_EQ(r.in_flight(), 2u);
  r.expire(10 * kSecond);  // time stepping back expires nothing
  EXPECT_EQ(r.in_flight(), 2u);
  r.expire(40 * kSecond);
  EXPECT_EQ(r.in_flight(), 0u);
}

TEST(FragmentReassembler, EvictsLeastRecentlyUsedWhenFull) {
  FragmentReassembler r(2);
  const Frame a = datagram(3992, 1);
  const Frame b = datagram(3992, 2);
  const Frame c = datagram(3992, 3);
  ParsedPacket out;
  EXPECT_EQ(r.add(frag(a, 0, 1480, true, 1), 1, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.add(frag(b, 0, 1480, true, 2), 2, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.add(frag(a, 1480, 1480, true, 1), 3, out), ReassemblyStatus::kPending);  // a used
  EXPECT_EQ(r.add(frag(c, 0, 1480, true, 3), 4, out), ReassemblyStatus::kPending);     // b goes
  EXPECT_EQ(r.counters().evicted, 1u);
  EXPECT_EQ(r.in_flight(), 2u);
  ASSERT_EQ(r.add(frag(a, 2960, 1040, false, 1), 5, out), ReassemblyStatus::kComplete);
  expect_payload(out, 3992, 1);
  ASSERT_EQ(r.add(frag(c, 2960, 1040, false, 3), 6, out), ReassemblyStatus::kPending);
  ASSERT_EQ(r.add(frag(c, 1480, 1480, true, 3), 7, out), ReassemblyStatus::kComplete);
  expect_payload(out, 3992, 3);
  EXPECT_EQ(r.add(frag(b, 2960, 1040, false, 2), 8, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.counters().completed, 2u);
}

TEST(FragmentReassembler, TooBig) {
  FragmentReassembler r;
  const Frame d(65536, 0);
  ParsedPacket out;
  // IPv4: the fragmentable part cannot pass 65535 - 20.
  EXPECT_EQ(r.add(frag(d, 65512, 8, false), 1, out), ReassemblyStatus::kDropped);
  EXPECT_EQ(r.counters().too_big, 1u);
  EXPECT_EQ(r.add(frag(d, 65504, 11, false, 8), 1, out), ReassemblyStatus::kPending);
  // IPv6: 65535 - 8 for the Fragment header.
  EXPECT_EQ(r.add(frag(d, 65520, 8, false, 1, 6), 1, out), ReassemblyStatus::kDropped);
  EXPECT_EQ(r.add(frag(d, 65520, 7, false, 1, 6), 1, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.counters().too_big, 2u);
  // A too-big fragment takes its datagram with it.
  EXPECT_EQ(r.add(frag(d, 0, 8, true, 1, 6), 1, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.in_flight(), 2u);
  EXPECT_EQ(r.add(frag(d, 65528, 8, false, 1, 6), 1, out), ReassemblyStatus::kDropped);
  EXPECT_EQ(r.in_flight(), 1u);
}

TEST(FragmentReassembler, LargestDatagramReassembles) {
  FragmentReassembler r(1);
  const Frame d = datagram(65515 - 8);
  ParsedPacket out;
  ReassemblyStatus last = ReassemblyStatus::kDropped;
  for (const ParsedPacket& f : split(d, 1480)) last = r.add(f, 1, out);
  ASSERT_EQ(last, ReassemblyStatus::kComplete);
  expect_payload(out, 65515 - 8);
}

TEST(FragmentReassembler, NonFinalFragmentsMustBeMultiplesOfEight) {
  FragmentReassembler r;
  const Frame d = datagram(3992);
  ParsedPacket out;
  EXPECT_EQ(r.add(frag(d, 0, 1484, true), 1, out), ReassemblyStatus::kDropped);
  EXPECT_EQ(r.add(frag(d, 0, 0, true), 1, out), ReassemblyStatus::kDropped);
  EXPECT_EQ(r.counters().bad, 2u);
  EXPECT_EQ(r.in_flight(), 0u);
}

TEST(FragmentReassembler, DisagreeingEndsAreBad) {
  const Frame d = datagram(3992);
  ParsedPacket out;
  {
    FragmentReassembler r;
    EXPECT_EQ(r.add(frag(d, 2960, 1040, false), 1, out), ReassemblyStatus::kPending);
    // A second last fragment that ends elsewhere.
    EXPECT_EQ(r.add(frag(Frame(5000, 0), 4000, 8, false), 1, out), ReassemblyStatus::kDropped);
    EXPECT_EQ(r.counters().bad, 1u);
    EXPECT_EQ(r.in_flight(), 0u);
  }
  {
    FragmentReassembler r;
    EXPECT_EQ(r.add(frag(d, 2960, 1040, false), 1, out), ReassemblyStatus::kPending);
    EXPECT_EQ(r.add(frag(Frame(5000, 0), 4000, 8, true), 1, out), ReassemblyStatus::kDropped);
    EXPECT_EQ(r.counters().bad, 1u);
  }
  {
    FragmentReassembler r;
    EXPECT_EQ(r.add(frag(d, 1480, 1480, true), 1, out), ReassemblyStatus::kPending);
    EXPECT_EQ(r.add(frag(d, 8, 8, false), 1, out), ReassemblyStatus::kDropped);  // ends too soon
    EXPECT_EQ(r.counters().bad, 1u);
  }
}

TEST(FragmentReassembler, NotAFragmentIsBad) {
  FragmentReassembler r;
  ParsedPacket p;
  p.ip_version = 4;
  ParsedPacket out;
  EXPECT_EQ(r.add(p, 1, out), ReassemblyStatus::kDropped);
  EXPECT_EQ(r.counters().bad, 1u);
}

TEST(FragmentReassembler, Ipv4KeyHasProtocolIpv6KeyHasNot) {
  FragmentReassembler r;
  const Frame d = datagram(3992);
  ParsedPacket out;
  EXPECT_EQ(r.add(frag(d, 0, 1480, true, 5, 4, 17), 1, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.add(frag(d, 1480, 1480, true, 5, 4, 6), 1, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.in_flight(), 2u);
  // RFC 8200 §4.5: the first fragment's Next Header is the one that counts.
  EXPECT_EQ(r.add(frag(d, 0, 1480, true, 5, 6, 17), 1, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.add(frag(d, 1480, 1480, true, 5, 6, 60), 1, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.in_flight(), 3u);
  ASSERT_EQ(r.add(frag(d, 2960, 1040, false, 5, 6, 60), 1, out), ReassemblyStatus::kComplete);
  EXPECT_EQ(out.ip_version, 6);
  EXPECT_EQ(out.src, testing::v6(kSrc6));
  expect_payload(out, 3992);
}

TEST(FragmentReassembler, ReassembledUdpLengthMismatchIsFlagged) {
  FragmentReassembler r;
  const Frame d = testing::udp(2055, 9995, testing::payload_of(100), 8 + 90);
  ParsedPacket out;
  EXPECT_EQ(r.add(frag(d, 0, 64, true), 1, out), ReassemblyStatus::kPending);
  ASSERT_EQ(r.add(frag(d, 64, d.size() - 64, false), 1, out), ReassemblyStatus::kComplete);
  EXPECT_TRUE(out.udp_length_mismatch);
  EXPECT_EQ(out.payload.size(), 90u);
}

TEST(FragmentReassembler, ReassembledIpv6HeadersAreParsed) {
  ParsedPacket out;
  {
    FragmentReassembler r;
    // Destination Options leading to TCP.
    const Frame d = concat({testing::ipv6_ext(6), Frame(40, 0)});
    EXPECT_EQ(r.add(frag(d, 0, 24, true, 1, 6, 60), 1, out), ReassemblyStatus::kPending);
    EXPECT_EQ(r.add(frag(d, 24, 24, false, 1, 6, 60), 1, out), ReassemblyStatus::kNotUdp);
    EXPECT_EQ(r.counters().not_udp, 1u);
  }
  {
    FragmentReassembler r;
    // Destination Options claiming more than there is.
    const Frame d = concat({testing::ipv6_ext(17, 200), Frame(40, 0)});
    EXPECT_EQ(r.add(frag(d, 0, 24, true, 1, 6, 60), 1, out), ReassemblyStatus::kPending);
    EXPECT_EQ(r.add(frag(d, 24, 24, false, 1, 6, 60), 1, out), ReassemblyStatus::kMalformed);
    EXPECT_EQ(r.counters().malformed, 1u);
  }
}

TEST(FragmentReassembler, Ipv6FramesEndToEnd) {
  // A 3000-byte UDP datagram behind a Destination Options header, fragmented at 1232 bytes
  // (the IPv6 minimum MTU less headers, rounded down to 8).
  const Frame fragmentable = concat({testing::ipv6_ext(kIpProtoUdp), datagram(2992)});
  FragmentReassembler r;
  ParsedPacket out;
  ReassemblyStatus last = ReassemblyStatus::kDropped;
  int fragments = 0;
  for (size_t off = 0; off < fragmentable.size(); off += 1232) {
    const size_t n = std::min<size_t>(1232, fragmentable.size() - off);
    const bool more = off + n < fragmentable.size();
    const Frame frame = testing::ethernet(
        0x86dd,
        testing::ipv6(
            kSrc6, kDst6, 44,
            concat({testing::ipv6_fragment_header(60, static_cast<uint16_t>(off), more, 0x12345678),
                    std::span(fragmentable).subspan(off, n)})));
    ParsedPacket p;
    ASSERT_EQ(parse_packet(LinkType::kEthernet, as_bytes(frame), p), ParseStatus::kFragment);
    last = r.add(p, 1, out);
    ++fragments;
  }
  EXPECT_EQ(fragments, 3);
  ASSERT_EQ(last, ReassemblyStatus::kComplete);
  EXPECT_EQ(out.src, testing::v6(kSrc6));
  EXPECT_EQ(out.dst, testing::v6(kDst6));
  expect_payload(out, 2992);
}

TEST(FragmentReassembler, Ipv4FramesWithOptionsEndToEnd) {
  const Frame d = datagram(2000);
  FragmentReassembler r;
  ParsedPacket out;
  testing::Ipv4Options o;
  o.options = {0x94, 0x04, 0x00, 0x00};
  o.id = 4242;
  ReassemblyStatus last = ReassemblyStatus::kDropped;
  // Last fragment first, then the rest.
  for (size_t off : {size_t{1600}, size_t{0}, size_t{800}}) {
    const size_t n = std::min<size_t>(800, d.size() - off);
    o.offset = static_cast<uint16_t>(off);
    o.more_fragments = off + n < d.size();
    Frame frame =
        testing::ethernet(0x0800, testing::ipv4(kSrc4, kDst4, std::span(d).subspan(off, n), o));
    ParsedPacket p;
    ASSERT_EQ(parse_packet(LinkType::kEthernet, as_bytes(frame), p), ParseStatus::kFragment);
    last = r.add(p, 1, out);
  }
  ASSERT_EQ(last, ReassemblyStatus::kComplete);
  expect_payload(out, 2000);
}

TEST(FragmentReassembler, ManyInterleavedDatagrams) {
  constexpr size_t kDatagrams = 64;
  std::mt19937 rng(7);
  std::vector<Frame> datagrams;
  std::vector<ParsedPacket> all;
  datagrams.reserve(kDatagrams);
  for (size_t i = 0; i < kDatagrams; ++i) {
    datagrams.push_back(datagram(100 + rng() % 9000, static_cast<uint8_t>(i)));
  }
  for (size_t i = 0; i < kDatagrams; ++i) {
    // At least two fragments, so that a duplicate arriving after completion cannot
    // complete a second copy on its own.
    const size_t size = std::min<size_t>(8 * (1 + rng() % 200), (datagrams[i].size() - 1) / 8 * 8);
    for (const ParsedPacket& f :
         split(datagrams[i], size, static_cast<uint32_t>(i), i % 2 ? 6 : 4)) {
      all.push_back(f);
      if (rng() % 5 == 0) all.push_back(f);  // some exact duplicates
    }
  }
  std::shuffle(all.begin(), all.end(), rng);
  // Room for every datagram and for the strays that late duplicates start.
  FragmentReassembler r(4 * kDatagrams);
  ParsedPacket out;
  std::vector<bool> done(kDatagrams);
  for (const ParsedPacket& f : all) {
    if (r.add(f, 1, out) == ReassemblyStatus::kComplete) {
      const uint32_t id = f.fragment.id;
      ASSERT_FALSE(done[id]);
      done[id] = true;
      EXPECT_EQ(out.ip_version, id % 2 ? 6 : 4);
      expect_payload(out, datagrams[id].size() - 8, static_cast<uint8_t>(id));
    }
  }
  EXPECT_EQ(std::count(done.begin(), done.end(), true), static_cast<long>(kDatagrams));
  EXPECT_EQ(r.counters().completed, kDatagrams);
  EXPECT_EQ(r.counters().evicted, 0u);
  EXPECT_EQ(r.counters().overlaps, 0u);
}

TEST(FragmentReassembler, ChurnThroughASmallTable) {
  // More datagrams than slots, started and finished in a rolling window, so the index sees
  // many inserts and deletes.
  FragmentReassembler r(16);
  std::vector<Frame> datagrams;
  for (uint32_t i = 0; i < 1000; ++i) datagrams.push_back(datagram(200, static_cast<uint8_t>(i)));
  ParsedPacket out;
  uint64_t complete = 0;
  for (uint32_t i = 0; i < 1000 + 8; ++i) {
    if (i < 1000) {
      EXPECT_EQ(r.add(frag(datagrams[i], 0, 104, true, i), i, out), ReassemblyStatus::kPending);
    }
    if (i >= 8) {
      const uint32_t j = i - 8;
      ASSERT_EQ(r.add(frag(datagrams[j], 104, 104, false, j), i, out), ReassemblyStatus::kComplete);
      expect_payload(out, 200, static_cast<uint8_t>(j));
      ++complete;
    }
  }
  EXPECT_EQ(complete, 1000u);
  EXPECT_EQ(r.in_flight(), 0u);
  EXPECT_EQ(r.counters().evicted, 0u);
}

TEST(FragmentReassembler, EvictionUnderPressure) {
  FragmentReassembler r(256);
  const Frame d = datagram(3992);
  ParsedPacket out;
  for (uint32_t id = 0; id < 300; ++id) r.add(frag(d, 0, 1480, true, id), 1, out);
  EXPECT_EQ(r.in_flight(), 256u);
  EXPECT_EQ(r.counters().evicted, 44u);
  // The newest survive.
  EXPECT_EQ(r.add(frag(d, 1480, 1480, true, 299), 2, out), ReassemblyStatus::kPending);
  EXPECT_EQ(r.add(frag(d, 2960, 1040, false, 299), 2, out), ReassemblyStatus::kComplete);
}

}  // namespace
}  // namespace flowgate::dataplane
