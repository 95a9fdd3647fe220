// libFuzzer target for the layer under the decoders: link framing, IPv4/IPv6 (extension
// headers, VLAN/QinQ tags), UDP and fragment reassembly, driven through UdpExtractor as the
// pcap, AF_PACKET and DPDK sources drive it. Seeds: tests/fuzz/seeds/pcap (crafted fragments,
// extension-header chains, tags, truncations) and every .pcap of the conformance corpus.
//
// Two input forms:
//  - A classic pcap file (magic a1b2c3d4 or a1b23c4d, either byte order): its link type and
//    records, read here by a small bounds-checked reader rather than libpcap, so that the
//    fuzzer spends its time in flowgate's code. Record timestamps are the receive times.
//  - Anything else: byte 0 picks the link type (modulo the 8 supported ones), then frames of
//    [length u16 BE][frame]; time moves 1 ms per frame. A length past the end takes the rest.
// One UdpExtractor with 4 reassembly slots and a 50 ms timeout lives across inputs, so
// eviction and expiry are reached; a fresh one now and then keeps it from settling.
//
// Per frame the contract is: `frames` counts it and exactly one parse outcome; a delivered
// payload lies inside the frame (whole datagram) or inside one reassembly buffer, is at most
// 65535 bytes, and every byte of it is read (so ASan sees an overrun).

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "dataplane/fragment_reassembler.hpp"
#include "dataplane/link_type.hpp"
#include "dataplane/packet_counters.hpp"
#include "dataplane/udp_extractor.hpp"
#include "decode/byte_order.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using flowgate::dataplane::FragmentReassembler;
using flowgate::dataplane::LinkType;
using flowgate::dataplane::PacketCounters;
using flowgate::dataplane::ParsedPacket;
using flowgate::dataplane::UdpExtractor;

constexpr std::array<LinkType, 8> kLinks = {
    LinkType::kEthernet, LinkType::kRaw,  LinkType::kIpv4,     LinkType::kIpv6,
    LinkType::kLinuxSll, LinkType::kNull, LinkType::kLinuxSll2, LinkType::kLoop};
constexpr size_t kSlots = 4;
constexpr uint64_t kTimeoutNs = 50'000'000;
constexpr size_t kPcapHeader = 24;
constexpr size_t kRecordHeader = 16;

uint64_t parse_outcomes(const PacketCounters& c) noexcept {
  return c.udp_frames + c.fragments + c.not_ip + c.not_udp + c.truncated + c.bad_header;
}

bool within(std::span<const std::byte> inner, std::span<const std::byte> outer) noexcept {
  return inner.empty() ||
         (inner.data() >= outer.data() &&
          inner.data() + inner.size() <= outer.data() + outer.size());
}

// One frame through the extractor, with the contract checked.
void handle_frame(UdpExtractor& x, LinkType link, std::span<const uint8_t> frame,
                  uint64_t now_ns) {
  const auto bytes = std::as_bytes(frame);
  const uint64_t frames = x.counters().frames;
  const uint64_t outcomes = parse_outcomes(x.counters());
  const uint64_t reassembled = x.counters().reassembled;
  const ParsedPacket* p = x.extract(link, bytes, now_ns);
  FLOWGATE_FUZZ_CHECK(x.counters().frames == frames + 1);
  FLOWGATE_FUZZ_CHECK(parse_outcomes(x.counters()) == outcomes + 1);
  FLOWGATE_FUZZ_CHECK(x.reassembler().in_flight() <= x.reassembler().capacity());
  if (p == nullptr) return;
  FLOWGATE_FUZZ_CHECK(p->payload.size() <= 65535);
  FLOWGATE_FUZZ_CHECK(p->ip_version == 4 || p->ip_version == 6);
  // A whole datagram points into its frame; a reassembled one into the reassembler.
  if (x.counters().reassembled == reassembled) FLOWGATE_FUZZ_CHECK(within(p->payload, bytes));
  uint8_t sum = 0;
  for (std::byte b : p->payload) sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(b));
  volatile uint8_t sink = sum;
  (void)sink;
}

uint32_t load32(const uint8_t* p, bool little) noexcept {
  const uint32_t be = flowgate::decode::load_be32(p);
  return little ? __builtin_bswap32(be) : be;
}

// A classic pcap file; false when `in` is not one.
bool replay_pcap(UdpExtractor& x, std::span<const uint8_t> in) {
  if (in.size() < kPcapHeader) return false;
  const uint32_t magic = flowgate::decode::load_be32(in.data());
  bool little = false;
  bool nanos = false;
  switch (magic) {
    case 0xa1b2c3d4: break;
    case 0xa1b23c4d: nanos = true; break;
    case 0xd4c3b2a1: little = true; break;
    case 0x4d3cb2a1: little = nanos = true; break;
    default: return false;
  }
  const uint32_t linktype = load32(in.data() + 20, little) & 0x0fffffff;  // FCS bits above
  LinkType link = LinkType::kEthernet;
  bool known = false;
  for (LinkType l : kLinks) {
    if (static_cast<uint32_t>(l) == linktype) {
      link = l;
      known = true;
    }
  }
  if (!known) return true;  // pcap_source refuses such a file before reading a frame
  for (size_t p = kPcapHeader; in.size() - p >= kRecordHeader;) {
    const uint64_t secs = load32(in.data() + p, little);
    const uint64_t frac = load32(in.data() + p + 4, little);
    size_t caplen = load32(in.data() + p + 8, little);
    p += kRecordHeader;
    if (caplen > in.size() - p) caplen = in.size() - p;
    const uint64_t now_ns = secs * 1'000'000'000 + (nanos ? frac : frac * 1000);
    handle_frame(x, link, in.subspan(p, caplen), now_ns);
    p += caplen;
  }
  return true;
}

void replay_frames(UdpExtractor& x, std::span<const uint8_t> in, uint64_t& now_ns) {
  if (in.empty()) return;
  const LinkType link = kLinks[in[0] % kLinks.size()];
  for (size_t p = 1; p < in.size();) {
    size_t length = in.size() - p;
    if (length >= 2) {
      length = (size_t{in[p]} << 8) | in[p + 1];
      p += 2;
      if (length > in.size() - p) length = in.size() - p;
    } else {
      p = in.size();
      length = 0;
    }
    now_ns += 1'000'000;
    handle_frame(x, link, in.subspan(p, length), now_ns);
    p += length;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* x = new UdpExtractor(kSlots, kTimeoutNs);
  static uint64_t inputs = 0;
  static uint64_t now_ns = 1'700'000'000'000'000'000ull;
  if (++inputs % 4096 == 0) {
    delete x;
    x = new UdpExtractor(kSlots, kTimeoutNs);
  }
  const std::span<const uint8_t> in(data, size);
  if (!replay_pcap(*x, in)) replay_frames(*x, in, now_ns);
  now_ns += kTimeoutNs / 2;
  x->expire(now_ns);
  FLOWGATE_FUZZ_CHECK(x->reassembler().in_flight() <= kSlots);
  return 0;
}
