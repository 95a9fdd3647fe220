#include "dataplane/udp_extractor.hpp"

namespace flowgate::dataplane {

const ParsedPacket* UdpExtractor::extract(LinkType link, decode::Bytes frame,
                                          uint64_t receive_ns) noexcept {
  ++counters_.frames;
  const ParseStatus status = parse_packet(link, frame, parsed_);
  status_ = status;
  counters_.count(status);
  const ParsedPacket* udp = nullptr;
  if (status == ParseStatus::kUdp) {
    udp = &parsed_;
  } else if (status == ParseStatus::kFragment) {
    if (reassembler_.add(parsed_, receive_ns, whole_) != ReassemblyStatus::kComplete) {
      return nullptr;
    }
    ++counters_.reassembled;
    udp = &whole_;
  } else {
    return nullptr;
  }
  ++counters_.udp_datagrams;
  if (udp->udp_length_mismatch) ++counters_.udp_length_mismatch;
  return udp;
}

}  // namespace flowgate::dataplane
