#pragma once

#include <cstdint>

#include "decode/byte_order.hpp"
#include "decode/decode_counters.hpp"
#include "decode/template_decoder.hpp"

namespace flowgate::decode {

// Walks the sets of an IPFIX message or the flowsets of a NetFlow v9 datagram: 4-byte (ID,
// length) headers whose length covers the header. Calls on_set(id, body, body_end) for each and
// returns the first fault any of them reported. Stops at a length under 4 or past `end`, which
// is kBadSetLength unless every remaining byte is zero: exporters fill datagrams with zeros after
// the last set (Cisco ACI, Palo Alto PAN-OS 8.1), which is padding. Fewer than 4 bytes left is
// padding in NetFlow v9 (RFC 3954 §5.1); in IPFIX, whose message length is exact, non-zero
// stray bytes are a fault (`strict_tail`).
template <typename OnSet>
DecodeStatus walk_sets(const uint8_t* p, const uint8_t* end, bool strict_tail,
                       DecodeCounters& counters, OnSet&& on_set) noexcept {
  DecodeStatus status = DecodeStatus::kOk;
  while (end - p >= 4) {
    const uint16_t set_id = load_be16(p);
    const uint16_t set_len = load_be16(p + 2);
    if (set_len < 4 || set_len > end - p) {
      if (all_zero(p, static_cast<size_t>(end - p))) {
        counters.padding_bytes += static_cast<uint64_t>(end - p);
        return status;
      }
      return status == DecodeStatus::kOk ? DecodeStatus::kBadSetLength : status;
    }
    const DecodeStatus s = on_set(set_id, p + 4, p + set_len);
    if (s != DecodeStatus::kOk && status == DecodeStatus::kOk) status = s;
    p += set_len;
  }
  if (strict_tail && p != end && status == DecodeStatus::kOk &&
      !all_zero(p, static_cast<size_t>(end - p))) {
    status = DecodeStatus::kBadSetLength;  // 1-3 stray bytes that cannot hold a set header
  }
  return status;
}

}  // namespace flowgate::decode
