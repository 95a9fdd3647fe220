#include "decode/field_registry.hpp"

namespace flowgate::decode {

FieldSpec lookup_field(uint16_t id) noexcept {
  using T = FieldTarget;
  switch (id) {
    case 1: return {T::kBytes, 3};          // octetDeltaCount
    case 85: return {T::kBytes, 2};         // octetTotalCount
    case 23: return {T::kBytes, 1};         // postOctetDeltaCount (OUT_BYTES in v9)
    case 2: return {T::kPackets, 3};        // packetDeltaCount
    case 86: return {T::kPackets, 2};       // packetTotalCount
    case 24: return {T::kPackets, 1};       // postPacketDeltaCount (OUT_PKTS in v9)
    case 4: return {T::kProtocol, 1};
    case 5: return {T::kTos, 1};
    case 6: return {T::kTcpFlags, 1};
    case 7: return {T::kSrcPort, 1};
    case 11: return {T::kDstPort, 1};
    case 8: return {T::kSrcAddr4, 1};
    case 27: return {T::kSrcAddr6, 1};
    case 12: return {T::kDstAddr4, 1};
    case 28: return {T::kDstAddr6, 1};
    case 9: return {T::kSrcMask, 1};        // sourceIPv4PrefixLength
    case 29: return {T::kSrcMask, 1};       // sourceIPv6PrefixLength
    case 13: return {T::kDstMask, 1};
    case 30: return {T::kDstMask, 1};
    case 10: return {T::kInIf, 2};          // ingressInterface
    case 252: return {T::kInIf, 1};         // ingressPhysicalInterface
    case 14: return {T::kOutIf, 2};
    case 253: return {T::kOutIf, 1};
    case 15: return {T::kNextHop4, 2};      // ipNextHopIPv4Address
    case 62: return {T::kNextHop6, 2};      // ipNextHopIPv6Address
    case 18: return {T::kNextHop4, 1};      // bgpNextHopIPv4Address
    case 63: return {T::kNextHop6, 1};      // bgpNextHopIPv6Address
    case 56: return {T::kSrcMac, 2};        // sourceMacAddress
    case 81: return {T::kSrcMac, 1};        // postSourceMacAddress
    case 80: return {T::kDstMac, 2};        // destinationMacAddress
    case 57: return {T::kDstMac, 1};        // postDestinationMacAddress
    case 61: return {T::kDirection, 1};     // flowDirection
    case 58: return {T::kVlan, 2};          // vlanId
    case 243: return {T::kVlan, 1};         // dot1qVlanId
    case 60: return {T::kIpVersion, 1};
    case 16: return {T::kSrcAs, 1};         // bgpSourceAsNumber
    case 17: return {T::kDstAs, 1};
    case 21: return {T::kLastUptime, 1};    // flowEndSysUpTime
    case 22: return {T::kFirstUptime, 1};   // flowStartSysUpTime
    case 150: return {T::kStartSec, 1};
    case 151: return {T::kEndSec, 1};
    case 152: return {T::kStartMs, 1};
    case 153: return {T::kEndMs, 1};
    case 154: return {T::kStartNtp, 1};     // flowStartMicroseconds
    case 155: return {T::kEndNtp, 1};
    case 156: return {T::kStartNtp, 1};     // flowStartNanoseconds
    case 157: return {T::kEndNtp, 1};
    case 158: return {T::kStartDeltaUs, 1};
    case 159: return {T::kEndDeltaUs, 1};
    case 160: return {T::kSysInitMs, 1};
    case 34: return {T::kSamplingInterval, 2};  // samplingInterval
    case 50: return {T::kSamplingInterval, 1};  // samplerRandomInterval
    case 48: return {T::kSamplerId, 2};         // samplerId (v9 FLOW_SAMPLER_ID)
    case 302: return {T::kSamplerId, 1};        // selectorId
    case 305: return {T::kPacketInterval, 1};
    case 306: return {T::kPacketSpace, 1};
    case 309: return {T::kSamplingSize, 1};
    case 310: return {T::kSamplingPopulation, 1};
    default: return {};
  }
}

bool width_fits(FieldTarget target, uint16_t width) noexcept {
  using T = FieldTarget;
  switch (target) {
    case T::kSkip: return true;
    case T::kSrcAddr4: case T::kDstAddr4: case T::kNextHop4: return width == 4;
    case T::kSrcAddr6: case T::kDstAddr6: case T::kNextHop6: return width == 16;
    case T::kSrcMac: case T::kDstMac: return width == 6;
    case T::kStartNtp: case T::kEndNtp: return width == 8;
    default: return width >= 1 && width <= 8;
  }
}

uint8_t target_column(FieldTarget target) noexcept {
  using T = FieldTarget;
  // Targets that share a column return the same group; the rest are their own group.
  switch (target) {
    case T::kSrcAddr6: return static_cast<uint8_t>(T::kSrcAddr4);
    case T::kDstAddr6: return static_cast<uint8_t>(T::kDstAddr4);
    case T::kNextHop6: return static_cast<uint8_t>(T::kNextHop4);
    default: return static_cast<uint8_t>(target);
  }
}

}  // namespace flowgate::decode
