// The af_packet mode's classic BPF programs, run by a small interpreter that sees a frame as a
// packet socket does (the receive path has already taken the outer VLAN tag out of the data
// and into skb->protocol's place), and handed to the kernel's own checker on a UDP socket.

#include "dataplane/bpf_programs.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <set>
#include <vector>

#include "tests/dataplane/frame_builder.hpp"

namespace flowgate::dataplane {
namespace {

namespace fb = testing;

// What a packet socket's programs see: the frame without its outer tag (skb_vlan_untag) and
// the EtherType after it as skb->protocol.
struct Received {
  fb::Frame frame;
  uint16_t protocol = 0;
};

Received as_received(fb::Frame f) {
  uint16_t type = static_cast<uint16_t>(f[12] << 8 | f[13]);
  if (type == 0x8100 || type == 0x88a8) {
    f.erase(f.begin() + 12, f.begin() + 16);
    type = static_cast<uint16_t>(f[12] << 8 | f[13]);
  }
  return Received{f, type};
}

// A classic BPF interpreter for what the programs use (and a little more); an out-of-range load
// ends the program with 0, as in the kernel. `failed` reports a malformed program.
uint32_t run(const std::vector<sock_filter>& prog, const uint8_t* data, size_t len,
             uint16_t protocol, bool& failed) {
  uint32_t a = 0, x = 0;
  std::array<uint32_t, BPF_MEMWORDS> mem{};
  failed = false;
  auto load = [&](uint32_t off, uint32_t size, bool& ok) -> uint32_t {
    ok = off < len && size <= len - off;
    uint32_t v = 0;
    for (uint32_t i = 0; ok && i < size; ++i) v = v << 8 | data[off + i];
    return v;
  };
  for (size_t pc = 0; pc < prog.size() && pc < 4096; ++pc) {
    const sock_filter& f = prog[pc];
    const uint32_t src = BPF_SRC(f.code) == BPF_X ? x : f.k;
    switch (BPF_CLASS(f.code)) {
      case BPF_LD: {
        const uint32_t size = BPF_SIZE(f.code) == BPF_W ? 4 : BPF_SIZE(f.code) == BPF_H ? 2 : 1;
        if (BPF_MODE(f.code) == BPF_ABS && f.k == static_cast<uint32_t>(SKF_AD_OFF + SKF_AD_PROTOCOL)) {
          a = protocol;
        } else if (BPF_MODE(f.code) == BPF_ABS || BPF_MODE(f.code) == BPF_IND) {
          bool ok = false;
          a = load(f.k + (BPF_MODE(f.code) == BPF_IND ? x : 0), size, ok);
          if (!ok) return 0;
        } else if (BPF_MODE(f.code) == BPF_MEM) {
          a = mem.at(f.k);
        } else if (BPF_MODE(f.code) == BPF_IMM) {
          a = f.k;
        } else {
          failed = true;
          return 0;
        }
        break;
      }
      case BPF_LDX:
        if (BPF_MODE(f.code) == BPF_IMM) x = f.k;
        else if (BPF_MODE(f.code) == BPF_MEM) x = mem.at(f.k);
        else failed = true;
        break;
      case BPF_ST:
        mem.at(f.k) = a;
        break;
      case BPF_STX:
        mem.at(f.k) = x;
        break;
      case BPF_ALU:
        switch (BPF_OP(f.code)) {
          case BPF_ADD: a += src; break;
          case BPF_SUB: a -= src; break;
          case BPF_MUL: a *= src; break;
          case BPF_AND: a &= src; break;
          case BPF_OR: a |= src; break;
          case BPF_XOR: a ^= src; break;
          case BPF_LSH: a <<= src; break;
          case BPF_RSH: a >>= src; break;
          default: failed = true; return 0;
        }
        break;
      case BPF_JMP:
        switch (BPF_OP(f.code)) {
          case BPF_JA: pc += f.k; break;
          case BPF_JEQ: pc += a == src ? f.jt : f.jf; break;
          case BPF_JGT: pc += a > src ? f.jt : f.jf; break;
          case BPF_JGE: pc += a >= src ? f.jt : f.jf; break;
          case BPF_JSET: pc += (a & src) != 0 ? f.jt : f.jf; break;
          default: failed = true; return 0;
        }
        break;
      case BPF_RET:
        return BPF_RVAL(f.code) == BPF_A ? a : f.k;
      case BPF_MISC:
        if (BPF_MISCOP(f.code) == BPF_TAX) x = a;
        else a = x;
        break;
      default:
        failed = true;
        return 0;
    }
  }
  failed = true;  // fell off the end
  return 0;
}

constexpr std::array<uint16_t, 2> kPorts = {2055, 6343};

class ListenerFilter : public ::testing::Test {
 protected:
  // The filter's verdict on a frame as it arrives on the wire: true when it is kept whole.
  bool kept(const fb::Frame& wire) const {
    const Received r = as_received(wire);
    bool failed = false;
    const uint32_t v = run(filter_, r.frame.data(), r.frame.size(), r.protocol, failed);
    EXPECT_FALSE(failed);
    EXPECT_TRUE(v == 0 || v == kKeepWholeFrame) << v;
    return v == kKeepWholeFrame;
  }
  std::vector<sock_filter> filter_ = listener_filter(kPorts);
};

fb::Frame v4_udp(uint16_t dport, std::initializer_list<uint16_t> tags = {}, fb::Ipv4Options o = {}) {
  return fb::ethernet(0x0800, fb::ipv4(fb::kSrc4, fb::kDst4, fb::udp(40000, dport, fb::payload_of(64)), o),
                      tags);
}
fb::Frame v6_udp(uint16_t dport, std::initializer_list<uint16_t> tags = {}) {
  return fb::ethernet(0x86dd, fb::ipv6(fb::kSrc6, fb::kDst6, 17, fb::udp(40000, dport, fb::payload_of(64))),
                      tags);
}

TEST_F(ListenerFilter, KeepsUdpToTheListenerPortsOnly) {
  ASSERT_FALSE(filter_.empty());
  EXPECT_TRUE(kept(v4_udp(2055)));
  EXPECT_TRUE(kept(v4_udp(6343)));
  EXPECT_FALSE(kept(v4_udp(53)));
  EXPECT_FALSE(kept(v4_udp(2056)));
  EXPECT_TRUE(kept(v6_udp(2055)));
  EXPECT_TRUE(kept(v6_udp(6343)));
  EXPECT_FALSE(kept(v6_udp(514)));
}

TEST_F(ListenerFilter, FindsThePortBehindIpv4Options) {
  fb::Ipv4Options o;
  o.options = {1, 1, 1, 0, 1, 1, 1, 0};  // NOPs and an end, 8 bytes
  EXPECT_TRUE(kept(v4_udp(2055, {}, o)));
  EXPECT_FALSE(kept(v4_udp(53, {}, o)));
}

TEST_F(ListenerFilter, DropsOtherProtocols) {
  fb::Ipv4Options tcp;
  tcp.protocol = 6;
  EXPECT_FALSE(kept(v4_udp(2055, {}, tcp)));  // same bytes where the UDP port would be
  fb::Ipv4Options icmp;
  icmp.protocol = 1;
  EXPECT_FALSE(kept(v4_udp(2055, {}, icmp)));
  EXPECT_FALSE(kept(fb::ethernet(fb::kEtherArp, fb::payload_of(28))));  // ARP
  EXPECT_FALSE(kept(fb::ethernet(0x86dd, fb::ipv6(fb::kSrc6, fb::kDst6, 58, fb::payload_of(16)))));
  // A header cut short of the port.
  EXPECT_FALSE(kept(fb::ethernet(0x0800, fb::ipv4(fb::kSrc4, fb::kDst4, {}))));
}

TEST_F(ListenerFilter, KeepsFragmentsThatMayBelongToAListenerDatagram) {
  fb::Ipv4Options first;
  first.more_fragments = true;
  EXPECT_TRUE(kept(v4_udp(2055, {}, first)));
  EXPECT_FALSE(kept(v4_udp(53, {}, first)));  // the first fragment carries the port
  fb::Ipv4Options later;
  later.offset = 1480;
  const fb::Frame tail = fb::ethernet(0x0800, fb::ipv4(fb::kSrc4, fb::kDst4, fb::payload_of(100), later));
  EXPECT_TRUE(kept(tail));
  later.protocol = 6;
  EXPECT_FALSE(kept(fb::ethernet(0x0800, fb::ipv4(fb::kSrc4, fb::kDst4, fb::payload_of(100), later))));
  fb::Frame v6 = fb::ipv6_fragment_header(17, 1232, false, 7);
  fb::append(v6, fb::payload_of(100));
  EXPECT_TRUE(kept(fb::ethernet(0x86dd, fb::ipv6(fb::kSrc6, fb::kDst6, 44, v6))));
}

TEST_F(ListenerFilter, LooksBehindVlanTags) {
  EXPECT_TRUE(kept(v4_udp(2055, {0x8100})));
  EXPECT_FALSE(kept(v4_udp(53, {0x8100})));
  EXPECT_TRUE(kept(v4_udp(2055, {0x88a8, 0x8100})));
  EXPECT_FALSE(kept(v4_udp(53, {0x88a8, 0x8100})));
  EXPECT_TRUE(kept(v6_udp(6343, {0x88a8, 0x8100})));
  EXPECT_FALSE(kept(v6_udp(514, {0x8100, 0x8100})));
  fb::Ipv4Options later;
  later.offset = 8;
  EXPECT_TRUE(kept(fb::ethernet(0x0800, fb::ipv4(fb::kSrc4, fb::kDst4, fb::payload_of(40), later),
                                {0x88a8, 0x8100})));
}

TEST(ListenerFilterLimits, NeedsBetweenOneAndThirtyTwoPorts) {
  EXPECT_TRUE(listener_filter({}).empty());
  std::vector<uint16_t> ports;
  for (uint16_t p = 1; p <= 32; ++p) ports.push_back(p);
  EXPECT_FALSE(listener_filter(ports).empty());
  ports.push_back(33);
  EXPECT_TRUE(listener_filter(ports).empty());
  // Duplicates (two listeners on one port, different bind_host) count once.
  const std::array<uint16_t, 3> same = {2055, 2055, 4739};
  EXPECT_FALSE(listener_filter(same).empty());
}

uint32_t fanout(const fb::Frame& wire) {
  const Received r = as_received(wire);
  bool failed = false;
  // The fanout program sees the skb from its network header.
  const uint32_t v = run(source_hash_fanout(), r.frame.data() + 14, r.frame.size() - 14, r.protocol, failed);
  EXPECT_FALSE(failed);
  return v;
}

TEST(SourceHashFanout, HashesTheIpv4SourceAloneAsSourceHashDoes) {
  std::set<uint32_t> workers_of_2;
  for (uint8_t e = 1; e <= 17; ++e) {
    const std::array<uint8_t, 4> exporter = {10, 1, 0, e};
    const uint32_t expected = source_hash(exporter);
    for (uint16_t sport : {40000, 40001, 9}) {
      for (const fb::Frame& f :
           {fb::ethernet(0x0800, fb::ipv4(exporter, fb::kDst4, fb::udp(sport, 2055, fb::payload_of(8)))),
            fb::ethernet(0x0800, fb::ipv4(exporter, {127, 0, 0, 1}, fb::udp(sport, 6343, {}))),
            fb::ethernet(0x0800, fb::ipv4(exporter, fb::kDst4, fb::udp(sport, 2055, {})), {0x8100}),
            fb::ethernet(0x0800, fb::ipv4(exporter, fb::kDst4, fb::udp(sport, 2055, {})), {0x88a8, 0x8100})}) {
        EXPECT_EQ(fanout(f), expected) << int(e);
      }
    }
    workers_of_2.insert(fanout_worker(exporter, 2));
  }
  EXPECT_EQ(workers_of_2.size(), 2u) << "17 exporters should reach both of two workers";
}

TEST(SourceHashFanout, FoldsTheIpv6Source) {
  fb::V6 src = fb::kSrc6;
  std::set<uint32_t> seen;
  for (uint8_t e = 1; e <= 8; ++e) {
    src[15] = e;
    src[8] = static_cast<uint8_t>(e * 3);  // words fold by xor: vary two of them
    const fb::Frame f = fb::ethernet(0x86dd, fb::ipv6(src, fb::kDst6, 17, fb::udp(1, 4739, {})));
    EXPECT_EQ(fanout(f), source_hash(src));
    EXPECT_EQ(fanout(fb::ethernet(0x86dd, fb::ipv6(src, fb::kDst6, 17, fb::udp(1, 4739, {})), {0x8100, 0x8100})),
              source_hash(src));
    seen.insert(source_hash(src));
  }
  EXPECT_EQ(seen.size(), 8u);
}

TEST(SourceHashFanout, SendsWhatIsNotIpToTheFirstWorker) {
  EXPECT_EQ(fanout(fb::ethernet(fb::kEtherArp, fb::payload_of(28))), 0u);
  EXPECT_EQ(fanout(fb::ethernet(0x88cc, fb::payload_of(40), {0x8100})), 0u);
}

// The kernel's classic BPF checker accepts both programs (a UDP socket needs no privilege).
TEST(BpfPrograms, KernelAcceptsThem) {
  for (const std::vector<sock_filter>& program : {listener_filter(kPorts), source_hash_fanout()}) {
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(fd, 0);
    sock_fprog prog{static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
    EXPECT_EQ(setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog), 0) << errno;
    close(fd);
  }
}

}  // namespace
}  // namespace flowgate::dataplane
