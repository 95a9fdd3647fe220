#pragma once

#include <cstddef>
#include <cstdint>

#include "dataplane/fragment_reassembler.hpp"
#include "dataplane/link_type.hpp"
#include "dataplane/packet_counters.hpp"
#include "dataplane/packet_parser.hpp"
#include "dataplane/udp_datagram.hpp"
#include "decode/datagram.hpp"

namespace flowgate::dataplane {

// The datagram a parsed (or reassembled) UDP packet carries; borrows its payload.
inline UdpDatagram to_datagram(const ParsedPacket& p, uint64_t receive_ns) noexcept {
  UdpDatagram d;
  d.src = p.src;
  d.dst = p.dst;
  d.src_port = p.src_port;
  d.dst_port = p.dst_port;
  d.payload = p.payload;
  d.receive_ns = receive_ns;
  return d;
}

// The step every frame-level source shares (pcap, AF_PACKET, DPDK): parse the frame,
// reassemble fragments, count what was seen, and deliver whole UDP datagrams. One per worker.
class UdpExtractor {
 public:
  explicit UdpExtractor(size_t max_datagrams = FragmentReassembler::kDefaultMaxDatagrams,
                        uint64_t timeout_ns = FragmentReassembler::kDefaultTimeoutNs)
      : reassembler_(max_datagrams, timeout_ns) {}

  // Handles one frame; calls on_udp(const UdpDatagram&) if it holds or completes a UDP
  // datagram. The datagram's payload is valid only during the call.
  template <class F>
  void handle(LinkType link, decode::Bytes frame, uint64_t receive_ns, F&& on_udp) {
    if (const ParsedPacket* p = extract(link, frame, receive_ns)) {
      const UdpDatagram d = to_datagram(*p, receive_ns);
      on_udp(d);
    }
  }

  // Parses (and if need be reassembles) one frame. Returns the UDP datagram it holds or
  // completes, or nullptr; the result is valid until the next call.
  const ParsedPacket* extract(LinkType link, decode::Bytes frame, uint64_t receive_ns) noexcept;

  // Abandons timed-out reassemblies (for periodic housekeeping).
  void expire(uint64_t now_ns) noexcept { reassembler_.expire(now_ns); }

  // How the last frame parsed: tells a frame that is not UDP (for the DPDK exception path)
  // from one held for reassembly or malformed.
  ParseStatus last_status() const noexcept { return status_; }

  const PacketCounters& counters() const noexcept { return counters_; }
  const ReassemblyCounters& reassembly_counters() const noexcept { return reassembler_.counters(); }
  const FragmentReassembler& reassembler() const noexcept { return reassembler_; }

 private:
  FragmentReassembler reassembler_;
  PacketCounters counters_;
  ParsedPacket parsed_;
  ParsedPacket whole_;
  ParseStatus status_ = ParseStatus::kCount;
};

}  // namespace flowgate::dataplane
