#include "dataplane/pcap_source.hpp"

#include <pcap/pcap.h>

#include <utility>

namespace flowgate::dataplane {

std::optional<LinkType> link_type_from_dlt(int dlt) noexcept {
  // DLT_RAW and DLT_LOOP differ between platforms (12/14, 108/12); libpcap maps the file's
  // LINKTYPE_ value onto this platform's DLT_ value, and we map it back.
  switch (dlt) {
    case DLT_NULL:
      return LinkType::kNull;
    case DLT_EN10MB:
      return LinkType::kEthernet;
    case DLT_RAW:
      return LinkType::kRaw;
    case DLT_LOOP:
      return LinkType::kLoop;
    case DLT_LINUX_SLL:
      return LinkType::kLinuxSll;
    case DLT_LINUX_SLL2:
      return LinkType::kLinuxSll2;
    case DLT_IPV4:
      return LinkType::kIpv4;
    case DLT_IPV6:
      return LinkType::kIpv6;
    default:
      return std::nullopt;
  }
}

PcapSource::PcapSource(size_t max_reassembly, uint64_t reassembly_timeout_ns)
    : extractor_(max_reassembly, reassembly_timeout_ns) {}

PcapSource::~PcapSource() { close(); }

PcapSource::PcapSource(PcapSource&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)),
      link_type_(other.link_type_),
      error_(std::move(other.error_)),
      extractor_(std::move(other.extractor_)) {}

PcapSource& PcapSource::operator=(PcapSource&& other) noexcept {
  if (this != &other) {
    close();
    handle_ = std::exchange(other.handle_, nullptr);
    link_type_ = other.link_type_;
    error_ = std::move(other.error_);
    extractor_ = std::move(other.extractor_);
  }
  return *this;
}

void PcapSource::close() noexcept {
  if (handle_ != nullptr) pcap_close(handle_);
  handle_ = nullptr;
}

PcapStatus PcapSource::open(const std::string& path) {
  close();
  error_.clear();
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  // Nanosecond precision: libpcap scales microsecond files up, so receive times keep
  // whatever precision the file has.
  handle_ =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (handle_ == nullptr) {
    error_ = path + ": " + errbuf;
    return PcapStatus::kOpenFailed;
  }
  const int dlt = pcap_datalink(handle_);
  const std::optional<LinkType> link = link_type_from_dlt(dlt);
  if (!link) {
    const char* name = pcap_datalink_val_to_name(dlt);
    error_ = path + ": link type " + std::to_string(dlt) + " (" + (name ? name : "unknown") +
             ") is not supported; flowgate reads EN10MB, LINUX_SLL, LINUX_SLL2, RAW, IPV4, "
             "IPV6, NULL and LOOP captures";
    close();
    return PcapStatus::kUnsupportedLinkType;
  }
  link_type_ = *link;
  return PcapStatus::kOk;
}

PcapStatus PcapSource::next_frame(decode::Bytes& frame, uint64_t& receive_ns) noexcept {
  frame = {};
  if (handle_ == nullptr) return PcapStatus::kNotOpen;
  for (;;) {
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    const int rc = pcap_next_ex(handle_, &header, &data);
    if (rc == 1) {
      // tv_usec holds nanoseconds in a handle opened with nanosecond precision.
      receive_ns = static_cast<uint64_t>(header->ts.tv_sec) * 1'000'000'000u +
                   static_cast<uint64_t>(header->ts.tv_usec);
      frame = decode::Bytes(reinterpret_cast<const std::byte*>(data), header->caplen);
      return PcapStatus::kOk;
    }
    if (rc == PCAP_ERROR_BREAK) return PcapStatus::kEndOfFile;  // pcap_next_ex's end of file
    if (rc == 0) continue;  // a live capture's timeout; offline handles do not return it
    error_ = pcap_geterr(handle_);
    return PcapStatus::kReadError;
  }
}

}  // namespace flowgate::dataplane
