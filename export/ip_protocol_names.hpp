#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace flowgate::exporter {

// The longest value ip_protocol_name() returns ("RSVP-E2E-IGNORE"); the encoder sizes its
// per-record reservation with it.
inline constexpr size_t kMaxIpProtocolNameLength = 15;

// The `ip_protocol` value of the emitted record: the keyword of the IANA "Assigned Internet
// Protocol Numbers" registry as Datakit's NetFlow input spells it (`TCP`, `UDP`, `IPv6-ICMP`,
// ...), or the number in decimal when the registry gives none (DESIGN.md: the reference writes
// an empty string there; the number is the one deliberate difference).
std::string_view ip_protocol_name(uint8_t protocol) noexcept;

}  // namespace flowgate::exporter
