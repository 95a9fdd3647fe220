#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "dataplane/link_type.hpp"
#include "dataplane/packet_counters.hpp"
#include "dataplane/reassembly_counters.hpp"
#include "dataplane/udp_extractor.hpp"
#include "decode/datagram.hpp"

struct pcap;  // libpcap's pcap_t, kept out of this header

namespace flowgate::dataplane {

enum class PcapStatus : uint8_t {
  kOk,
  kNotOpen,              // run() or next_frame() before a successful open()
  kOpenFailed,           // libpcap could not open or read the file header; see error()
  kUnsupportedLinkType,  // the capture's link type is none that parse_packet knows
  kReadError,            // libpcap failed part-way through the file; see error()
  kEndOfFile,            // next_frame() only: no frames left
};

// The LinkType for a DLT_ value that libpcap reports, if flowgate parses it.
std::optional<LinkType> link_type_from_dlt(int dlt) noexcept;

// Reads a capture file (pcap or pcapng) offline and delivers its UDP datagrams, reassembled
// where fragmented, with the capture's timestamps as receive times (nanosecond precision).
// Failures are returned as a PcapStatus with a message in error(); nothing throws.
class PcapSource {
 public:
  explicit PcapSource(size_t max_reassembly = FragmentReassembler::kDefaultMaxDatagrams,
                      uint64_t reassembly_timeout_ns = FragmentReassembler::kDefaultTimeoutNs);
  ~PcapSource();
  PcapSource(const PcapSource&) = delete;
  PcapSource& operator=(const PcapSource&) = delete;
  PcapSource(PcapSource&& other) noexcept;
  PcapSource& operator=(PcapSource&& other) noexcept;

  // Opens `path`, closing any file opened before.
  PcapStatus open(const std::string& path);

  // Calls on_udp(const UdpDatagram&) for every UDP datagram in the rest of the file, in
  // capture order. Returns kOk at the end of the file.
  template <class F>
  PcapStatus run(F&& on_udp) {
    decode::Bytes frame;
    uint64_t receive_ns = 0;
    for (;;) {
      const PcapStatus s = next_frame(frame, receive_ns);
      if (s == PcapStatus::kEndOfFile) return PcapStatus::kOk;
      if (s != PcapStatus::kOk) return s;
      extractor_.handle(link_type_, frame, receive_ns, on_udp);
    }
  }

  // Reads the next frame as captured (possibly cut short by the snap length); kEndOfFile when
  // there is none. `frame` is valid until the next call.
  PcapStatus next_frame(decode::Bytes& frame, uint64_t& receive_ns) noexcept;

  LinkType link_type() const noexcept { return link_type_; }
  const std::string& error() const noexcept { return error_; }
  const PacketCounters& counters() const noexcept { return extractor_.counters(); }
  const ReassemblyCounters& reassembly_counters() const noexcept {
    return extractor_.reassembly_counters();
  }
  UdpExtractor& extractor() noexcept { return extractor_; }

 private:
  void close() noexcept;

  pcap* handle_ = nullptr;
  LinkType link_type_ = LinkType::kEthernet;
  std::string error_;
  UdpExtractor extractor_;
};

}  // namespace flowgate::dataplane
