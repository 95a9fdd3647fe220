#pragma once

#include <array>
#include <cstdint>

#include "decode/field_registry.hpp"

namespace flowgate::decode {

// How a step stores its bytes. Integer ops are specialised by wire width and column width at
// compile time, so the per-field work is one predictable jump, a load and a store.
enum class StepOp : uint8_t {
  kSkip,
  kU8,         // 1 byte into a uint8 column
  kU16,        // 2 bytes into a uint16 column
  kU32,        // 4 bytes into a uint32 column
  kU64,        // 8 bytes into a uint64 column
  kU32From2,   // reduced-size (RFC 7011 §6.2) 2-byte value into a uint32 column
  kU64From4,   // reduced-size 4-byte value into a uint64 column (v9 counters are often 4)
  kIntTo8, kIntTo16, kIntTo32, kIntTo64,  // any other width 1..8
  kAddr4, kAddr6, kMac, kMask, kDirection, kVlan,
  kState,      // time and sampling values resolved when the record ends
};

// One step of a compiled template: take `width` bytes (or a variable-length field, RFC 7011
// §7) and store them at `column` (a byte offset into FlowBlock) per `op`. Adjacent skipped
// fixed-width fields are merged into one step, so a data record is one tight loop with no
// lookups (STYLE.md "Decoders").
struct DecodeStep {
  static constexpr uint16_t kVariable = 0xffff;
  uint16_t width = 0;
  StepOp op = StepOp::kSkip;
  FieldTarget target = FieldTarget::kSkip;
  uint32_t column = 0;
};

struct CompiledTemplate {
  // Templates with more steps than this (after merging skips) are refused as kTemplateLimit.
  static constexpr uint16_t kMaxSteps = 160;

  uint16_t id = 0;
  bool is_options = false;
  bool has_variable = false;          // any variable-length field: per-step bounds checks
  uint16_t step_count = 0;
  uint32_t min_record_length = 0;     // bytes, counting each variable-length field as 1
  uint64_t definition_hash = 0;       // of the wire definition: tells a refresh from a change
  std::array<DecodeStep, kMaxSteps> steps{};
};

}  // namespace flowgate::decode
