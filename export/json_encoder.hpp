#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "decode/flow_block.hpp"

namespace flowgate::exporter {

// What one [[inputs.netflow]] block adds to each of its records.
struct EncoderConfig {
  std::string host;              // the collector's host name, or the `host` tag
  std::string device_namespace;  // device.namespace
  std::vector<std::pair<std::string, std::string>> tags;  // one string key each, after next_hop
};

// Writes flow records as the JSON objects of DESIGN.md "The record we emit": one object per row
// and line, keys in Datakit's order. The configured strings are escaped once, here; encode()
// writes numbers and addresses by hand straight into the caller's buffer, so a record costs no
// allocation beyond that buffer's own growth, no locale and no formatting library.
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
};

}  // namespace flowgate::exporter
