#include "export/log_point_encoder.hpp"

#include "export/ip_protocol_names.hpp"
#include "export/text_format.hpp"

namespace flowgate::exporter {
namespace {

// Line protocol escaping: measurements escape commas and spaces; tag keys and values also
// escape '='; string field values are double-quoted with '"' and '\' escaped. Newlines cannot
// appear in line protocol at all and are written as "\n".
void append_escaped(std::string& out, std::string_view s, bool equals) {
  for (char c : s) {
    if (c == ',' || c == ' ' || (equals && c == '=')) {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void append_string_field(std::string& out, std::string_view key, std::string_view value) {
  out += key;
  out += "=\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
}

}  // namespace

LogPointEncoder::LogPointEncoder(const EncoderConfig& json, std::string measurement,
                                 std::string collector_ip)
    : json_(json) {
  append_escaped(prefix_, measurement, false);
  prefix_ += ",host=";
  append_escaped(prefix_, json.host, true);
  prefix_ += ",ip=";
  append_escaped(prefix_, collector_ip, true);
  for (const auto& [k, v] : json.tags) {
    prefix_ += ',';
    append_escaped(prefix_, k, true);
    prefix_ += '=';
    append_escaped(prefix_, v, true);
  }
  prefix_ += ' ';
}

void LogPointEncoder::encode(const decode::FlowBlock& b, uint32_t r, uint64_t flush_timestamp_ms,
                             std::string& out, std::string& scratch) const {
  scratch.clear();
  json_.encode(b, r, flush_timestamp_ms, scratch);
  encode_with_message(b, r, flush_timestamp_ms, scratch, out);
}

// Addresses, ports, protocol and type names hold no quote, backslash or newline, so they are
// written between quotes without escaping.
void LogPointEncoder::encode_with_message(const decode::FlowBlock& b, uint32_t r,
                                          uint64_t flush_timestamp_ms, std::string_view message,
                                          std::string& out) const {
  if (!message.empty() && message.back() == '\n') message.remove_suffix(1);
  const AddressFamily family =
      b.ether_type[r] == 0x86dd ? AddressFamily::kIpv6 : AddressFamily::kIpv4;
  out += prefix_;
  append_string_field(out, "message", message);
  out += ",status=\"OK\",bytes=";
  append_decimal(out, b.bytes[r]);
  out += "i,dest_ip=\"";
  append_ip(out, b.dst_addr[r], family);
  out += "\",dest_port=\"";
  if ((b.port_rollup[r] & decode::FlowBlock::kRollupDstPort) != 0) {
    out += '*';
  } else {
    append_decimal(out, b.dst_port[r]);
  }
  out += "\",device_ip=\"";
  append_ip(out, b.exporter_addr[r], family);
  out += "\",ip_protocol=\"";
  out += ip_protocol_name(b.protocol[r]);
  out += "\",source_ip=\"";
  append_ip(out, b.src_addr[r], family);
  out += "\",source_port=\"";
  if ((b.port_rollup[r] & decode::FlowBlock::kRollupSrcPort) != 0) {
    out += '*';
  } else {
    append_decimal(out, b.src_port[r]);
  }
  out += "\",type=\"";
  out += decode::flow_type_name(b.flow_type[r]);
  out += "\" ";
  append_decimal(out, flush_timestamp_ms * 1'000'000);
  out += '\n';
}

}  // namespace flowgate::exporter
