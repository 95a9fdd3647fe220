#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "decode/flow_block.hpp"
#include "export/text_format.hpp"

namespace flowgate::exporter {

// What one [[inputs.netflow]] block adds to each of its records.
struct EncoderConfig {
  std::string host;              // the collector's host name, or the `host` tag
  std::string device_namespace;  // device.namespace
  std::vector<std::pair<std::string, std::string>> tags;  // one string key each, after next_hop
};

// The text of addresses written over and over (an exporter thread sees a few exporters and
// next hops in record after record): a direct-mapped table of 64 formatted addresses, so a hit
// costs a 16-byte compare and a fixed-size copy instead of formatting.
class AddressTextCache {
 public:
  // As write_ip(); `p` must have kMaxIpText bytes of room (the copy is of that size).
  char* write(char* p, const decode::IpAddress& address, AddressFamily absent_family) noexcept;

 private:
  static constexpr size_t kSlots = 64;
  struct Slot {
    decode::IpAddress address;
    uint8_t length = 0;  // 0 = empty
    char text[kMaxIpText];
  };
  Slot slots_[kSlots] = {};
};

// Writes flow records as the JSON objects of DESIGN.md "The record we emit": one object per row
// and line, keys in Datakit's order. The configured strings are escaped once, here; encode()
// writes numbers and addresses by hand straight into the caller's buffer, so a record costs no
// allocation beyond that buffer's own growth, no locale and no formatting library. It keeps the
// text of the last flush timestamp and of frequent exporter and next-hop addresses, so one
// encoder serves one thread.
class JsonEncoder {
 public:
  explicit JsonEncoder(const EncoderConfig& config);

  // Appends row `row` of `block` and a '\n' to `out` (cleared by the caller between batches;
  // its capacity is kept). A source or destination port is written as "*" when the row's
  // port_rollup column, or `port_rollup` (FlowBlock::kRollupSrcPort / kRollupDstPort), marks
  // it ephemeral.
  void encode(const decode::FlowBlock& block, uint32_t row, uint64_t flush_timestamp_ms,
              std::string& out, uint8_t port_rollup = 0) const noexcept;

  // The most one record can take: encode() makes this much room, writes, and trims.
  size_t max_record_size() const noexcept { return max_record_size_; }

  // Writes the record at p, which has max_record_size() bytes of room; returns its end. For a
  // caller that keeps its own buffer and so need not zero-fill the room first as encode() does.
  char* write(char* p, const decode::FlowBlock& block, uint32_t row, uint64_t flush_timestamp_ms,
              uint8_t port_rollup = 0) const noexcept;

 private:

  std::string device_exporter_;  // `,"device":{"namespace":"…"},"exporter":{"ip":"`
  std::string host_;             // `,"host":"…"`
  std::string tail_;             // `,"tag":"value"`… then `}` and the newline
  size_t max_record_size_;
  // Formatting caches: write() is const to its callers, these only remember text.
  mutable AddressTextCache addresses_;
  mutable uint64_t flush_ms_ = 0;
  mutable uint8_t flush_length_ = 0;  // 0: none yet
  mutable char flush_text_[kMaxDecimalText] = {};
};

}  // namespace flowgate::exporter
