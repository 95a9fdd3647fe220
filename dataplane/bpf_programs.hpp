#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <span>
#include <vector>

namespace flowgate::dataplane {

// The classic BPF programs of af_packet mode, generated as data so that a test can run them.
//
// Both read the packet relative to the network header (SKF_NET_OFF) and take the EtherType
// from skb->protocol (SKF_AD_PROTOCOL), because that is what is the same in the two places
// the kernel runs them: a socket filter sees the skb at the MAC header, a fanout program at
// the network header. The receive path strips the outer 802.1Q/802.1ad tag before packet
// sockets see the frame (skb_vlan_untag), so skb->protocol is the inner EtherType; a second
// (QinQ) tag stays in the data, the network header then points at it, and its EtherType and
// the IP header follow 2 and 4 bytes further on.

// Socket filter: keeps IPv4/IPv6 UDP to one of `ports`, IPv4 UDP fragments other than the
// first (they carry no port), and IPv6 packets whose fixed header is followed by a Fragment
// header; drops everything else in the kernel, before it is copied to the ring. Returns an
// empty program when there are none or more than 32 (classic BPF jumps are 8-bit).
std::vector<sock_filter> listener_filter(std::span<const uint16_t> ports);

// Fanout program: returns a hash of the IP source address (IPv4: the 4 bytes; IPv6: the four
// 32-bit words xor-folded), mixed with murmur3's finaliser so that its low bits, which the
// kernel's `% sockets` keeps, depend on every byte. Non-IP frames return 0.
std::vector<sock_filter> source_hash_fanout();

// The fanout program's result for a source address, computed in C++ (the tests and the
// start-up log use it to say which worker an exporter lands on).
uint32_t source_hash(std::span<const uint8_t> address) noexcept;
inline uint32_t fanout_worker(std::span<const uint8_t> address, uint32_t workers) noexcept {
  return workers <= 1 ? 0 : source_hash(address) % workers;
}

// The snap length the filter returns for a kept packet: the whole frame, reassembled ones too.
inline constexpr uint32_t kKeepWholeFrame = 262144;

}  // namespace flowgate::dataplane
