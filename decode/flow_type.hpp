#pragma once

#include <cstdint>
#include <string_view>

namespace flowgate::decode {

enum class FlowType : uint8_t { kUnknown = 0, kNetflow5, kNetflow9, kIpfix, kSflow5 };

// The `type` value of the emitted record (DESIGN.md).
constexpr std::string_view flow_type_name(FlowType t) noexcept {
  switch (t) {
    case FlowType::kNetflow5: return "netflow5";
    case FlowType::kNetflow9: return "netflow9";
    case FlowType::kIpfix: return "ipfix";
    case FlowType::kSflow5: return "sflow5";
    case FlowType::kUnknown: break;
  }
  return "unknown";
}

enum class Direction : uint8_t { kIngress = 0, kEgress = 1 };

}  // namespace flowgate::decode
