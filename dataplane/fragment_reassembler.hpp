#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "dataplane/packet_parser.hpp"
#include "dataplane/reassembly_counters.hpp"
#include "decode/ip_address.hpp"

namespace flowgate::dataplane {

enum class ReassemblyStatus : uint8_t {
  kPending,    // fragment stored (or an exact duplicate ignored); the datagram is incomplete
  kComplete,   // the datagram is whole and `out` holds its UDP ports and payload
  kDropped,    // the fragment, and perhaps its datagram, was dropped; a counter says why
  kNotUdp,     // reassembled, but its IPv6 extension headers lead to something other than UDP
  kMalformed,  // reassembled, but its UDP or extension headers are truncated or malformed
};

// Reassembles IPv4 (RFC 791, RFC 815) and IPv6 (RFC 8200 §4.5) fragments of UDP datagrams
// within fixed memory: `max_datagrams` datagrams in flight, each with a buffer for the
// largest possible datagram, all allocated once by the constructor. Adding a fragment
// allocates nothing and never throws.
//
// Fragments are keyed by (source, destination, Identification, Protocol) for IPv4 (RFC 791)
// and (source, destination, Identification) for IPv6 (RFC 8200). Any overlap between two
// fragments drops the whole datagram: RFC 5722 requires it for IPv6, and for IPv4 it is what
// current stacks do, since overlaps only arise from attacks on reassembly. An exact duplicate
// (same bytes where data was already received) is ignored, as RFC 8200 §4.5 allows.
//
// A datagram is abandoned `timeout_ns` after its first fragment arrived (RFC 8200 §4.5
// counts from the first fragment). Expiry is checked for the least recently used datagrams
// and for the datagram a fragment belongs to on every add(), and for all of them by
// expire(). When every slot is taken, the least recently used datagram is evicted.
//
// One instance per worker; not thread-safe.
class FragmentReassembler {
 public:
  static constexpr size_t kDefaultMaxDatagrams = 256;
  static constexpr uint64_t kDefaultTimeoutNs = 30'000'000'000;
  // The fragmentable part of a datagram can reach at most 65535 minus the IPv4 header
  // (RFC 791 Total Length) or minus the Fragment header (RFC 8200 Payload Length).
  static constexpr size_t kMaxIpv4Payload = 65535 - 20;
  static constexpr size_t kMaxIpv6Payload = 65535 - 8;
  static constexpr size_t kBufferSize = 65536;

  explicit FragmentReassembler(size_t max_datagrams = kDefaultMaxDatagrams,
                               uint64_t timeout_ns = kDefaultTimeoutNs);
  FragmentReassembler(const FragmentReassembler&) = delete;
  FragmentReassembler& operator=(const FragmentReassembler&) = delete;
  FragmentReassembler(FragmentReassembler&&) noexcept = default;
  FragmentReassembler& operator=(FragmentReassembler&&) noexcept = default;
  ~FragmentReassembler() = default;

  // Adds one fragment as parse_packet returned it with ParseStatus::kFragment. On kComplete
  // `out` holds the addresses, ports and UDP payload of the whole datagram; the payload
  // points into this reassembler and is valid until the next call to any of its methods.
  ReassemblyStatus add(const ParsedPacket& fragment, uint64_t now_ns, ParsedPacket& out) noexcept;

  // Abandons every datagram whose timeout has passed (for periodic housekeeping).
  void expire(uint64_t now_ns) noexcept;

  size_t in_flight() const noexcept { return in_flight_; }
  size_t capacity() const noexcept { return capacity_; }
  uint64_t timeout_ns() const noexcept { return timeout_ns_; }
  const ReassemblyCounters& counters() const noexcept { return counters_; }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  static constexpr size_t kUnitsPerSlot = kBufferSize / 8;  // 8-octet fragment blocks
  static constexpr size_t kBitmapWords = kUnitsPerSlot / 64;

  struct Key {
    decode::IpAddress src;
    decode::IpAddress dst;
    uint32_t id = 0;
    uint8_t ip_version = 0;
    uint8_t protocol = 0;  // IPv4 only; 0 for IPv6, whose key has no protocol
    friend bool operator==(const Key&, const Key&) = default;
  };

  struct Slot {
    Key key;
    uint64_t hash = 0;
    uint64_t first_ns = 0;
    uint64_t last_ns = 0;
    uint32_t received = 0;  // bytes stored; overlaps are refused, so no byte counts twice
    uint32_t total = 0;     // length of the fragmentable part, known once the last fragment came
    uint32_t max_end = 0;   // furthest byte any fragment reached
    uint32_t prev = kNone;  // LRU list, most recent at head_; also the free list (next only)
    uint32_t next = kNone;
    bool has_total = false;
    bool in_use = false;
    uint8_t first_protocol =
        0;  // from the offset-0 fragment: what the reassembled data starts with
  };

  enum class Coverage : uint8_t { kNone, kPartial, kFull };

  static uint64_t hash_key(const Key& k) noexcept;
  uint32_t find(const Key& k, uint64_t hash) const noexcept;
  void index_insert(uint32_t slot) noexcept;
  void index_erase(uint32_t slot) noexcept;
  uint32_t allocate(const Key& k, uint64_t hash, uint64_t now_ns) noexcept;
  void release(uint32_t slot) noexcept;
  void lru_unlink(uint32_t slot) noexcept;
  void lru_push_front(uint32_t slot) noexcept;
  bool expired(const Slot& s, uint64_t now_ns) const noexcept;
  void expire_lru(uint64_t now_ns) noexcept;
  std::byte* buffer(uint32_t slot) noexcept { return buffers_.get() + size_t{slot} * kBufferSize; }
  uint64_t* bitmap(uint32_t slot) noexcept { return bitmaps_.get() + size_t{slot} * kBitmapWords; }
  Coverage coverage(uint32_t slot, size_t first_unit, size_t end_unit) noexcept;
  void mark(uint32_t slot, size_t first_unit, size_t end_unit) noexcept;

  size_t capacity_;
  uint64_t timeout_ns_;
  size_t in_flight_ = 0;
  uint32_t head_ = kNone;  // most recently used
  uint32_t tail_ = kNone;  // least recently used
  uint32_t free_ = kNone;
  size_t index_mask_ = 0;
  std::unique_ptr<Slot[]> slots_;
  std::unique_ptr<uint32_t[]> index_;  // open addressing, linear probing, slot numbers
  std::unique_ptr<std::byte[]> buffers_;
  std::unique_ptr<uint64_t[]> bitmaps_;  // one bit per received 8-octet block
  ReassemblyCounters counters_;
};

}  // namespace flowgate::dataplane
