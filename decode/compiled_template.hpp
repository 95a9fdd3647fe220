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
  // Byte offset of the field in the record; set only in columnar templates (fixed layout).
  uint16_t offset = 0;
  // No earlier step writes `column`: a kAddr4/kAddr6/kMask step stores without first checking
  // for a non-zero value to keep. Set only in columnar templates.
  bool first_in_column = false;
};

// How a data template with no variable-length field is decoded column by column: each step
// runs once over a chunk of records (its offset is constant), and what depends on several
// fields is planned here, once, from which fields the template has.
struct ColumnarPlan {
  static constexpr uint8_t kNoStep = 0xff;
  uint64_t zero_columns = 0;  // bits of kFlowColumns that nothing writes: zeroed per chunk
  // The steps the start and end times come from: an absolute time wins, then a delta, then
  // sysUpTime (as resolve_time orders them); of several of one kind the last wins.
  uint8_t start_step = kNoStep;
  uint8_t end_step = kNoStep;
  uint8_t ip_version_step = kNoStep;
  uint8_t sampler_step = kNoStep;
  // Sampling-rate or system-init fields in data records (rare): times, rate and ether type are
  // then resolved record by record through RecordState.
  bool per_record_state = false;
  // The ether type that the addresses imply, when it is the same for every record: the
  // source (else destination) address is written by IPv4 steps only (0x0800), or the
  // template has neither (0). Otherwise it is read from each record's addresses.
  bool ether_from_rows = true;
  uint16_t ether_type = 0;
};

// One field specifier of a template record as received (RFC 3954 §5.2, RFC 7011 §3.2): what a
// template compiles from, and what the template state file keeps (decode/template_state.hpp).
struct RawField {
  uint16_t id = 0;
  uint16_t length = 0;      // 0xffff: variable length (IPFIX, RFC 7011 §7)
  bool enterprise = false;  // IPFIX enterprise bit, or a v9 vendor ID (≥ 32768)
  bool scope = false;       // an options template's scope field
};

// Upper bound on fields in one template record; more is kBadTemplate.
inline constexpr uint32_t kMaxTemplateFields = 512;

struct CompiledTemplate {
  // Templates with more steps than this (after merging skips) are refused as kTemplateLimit.
  static constexpr uint16_t kMaxSteps = 160;

  uint16_t id = 0;
  bool is_options = false;
  bool has_variable = false;          // any variable-length field: per-step bounds checks
  bool columnar = false;              // data template of fixed layout: decoded per `plan`
  uint16_t step_count = 0;
  uint32_t min_record_length = 0;     // bytes, counting each variable-length field as 1
  uint64_t definition_hash = 0;       // of the wire definition: tells a refresh from a change
  ColumnarPlan plan;
  std::array<DecodeStep, kMaxSteps> steps{};
};

}  // namespace flowgate::decode
