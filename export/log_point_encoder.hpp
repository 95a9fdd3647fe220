#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "decode/flow_block.hpp"
#include "export/json_encoder.hpp"

namespace flowgate::exporter {

// The Datakit log point of a record (DESIGN.md), in line protocol as Datakit's
// /v1/write/logging endpoint takes it: measurement = the input's `source`; tags `host`, `ip`
// (the collector's own address) and the user tags; fields `message` (the JSON record),
// `status` = "OK", `bytes`, `dest_ip`, `dest_port`, `device_ip`, `ip_protocol`, `source_ip`,
// `source_port`, `type`; the flush time in ns as the timestamp. For the HTTP sinks.
class LogPointEncoder {
 public:
  // `json` configures the message; `measurement` is the input's source; `collector_ip` the
  // `ip` tag.
  LogPointEncoder(const EncoderConfig& json, std::string measurement, std::string collector_ip);

  // Appends one line (ending in '\n') to `out`; `scratch` is reused for the JSON message.
  void encode(const decode::FlowBlock& block, uint32_t row, uint64_t flush_timestamp_ms,
              std::string& out, std::string& scratch) const;
  // The same with the record's JSON already encoded (`message`, its newline optional), so a
  // pipeline that also writes JSON lines encodes each record once. No allocation beyond `out`.
  void encode_with_message(const decode::FlowBlock& block, uint32_t row,
                           uint64_t flush_timestamp_ms, std::string_view message,
                           std::string& out) const;

 private:
  JsonEncoder json_;
  std::string prefix_;  // measurement and tags, escaped, up to the space before the fields
};

}  // namespace flowgate::exporter
