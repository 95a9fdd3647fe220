#pragma once

#include <cstdint>
#include <span>

#include "decode/compiled_template.hpp"
#include "decode/decode_counters.hpp"
#include "decode/flow_output.hpp"
#include "decode/template_cache.hpp"

namespace flowgate::decode {

// The machinery NetFlow v9 and IPFIX share: compiling a template's field list, decoding a data
// set through it, applying options data, and holding data that precedes its template.
// RawField, the field list as received, is declared in compiled_template.hpp.

// Compiles `fields` into `out`. `v9_scope_types`: in v9 options templates the scope fields are
// scope types (RFC 3954 §6.1: System, Interface, ...), not field types, so they are skipped.
DecodeStatus compile_template(uint16_t id, std::span<const RawField> fields, bool options,
                              bool v9_scope_types, CompiledTemplate& out,
                              DecodeCounters& counters) noexcept;

// Compiles a template record's fields (into `scratch`) and stores the result: the one path
// every template and options template record of NetFlow v9 and IPFIX takes.
DecodeStatus compile_and_store(uint16_t id, std::span<const RawField> fields, bool options,
                               bool v9_scope_types, const SetContext& ctx,
                               TemplateCache& templates, FlowOutput& out,
                               DecodeCounters& counters, CompiledTemplate& scratch) noexcept;

// Stores a compiled template, counts the outcome, and decodes any data sets held for it.
DecodeStatus store_template(const CompiledTemplate& tmpl, const SetContext& ctx,
                            TemplateCache& templates, FlowOutput& out,
                            DecodeCounters& counters) noexcept;

// Decodes a data set body (after its 4-byte set header) through its template when known, or
// holds it for later. Returns kOk, kUnknownTemplate (not held) or kBadRecord.
DecodeStatus handle_data_set(uint16_t template_id, const uint8_t* data, uint32_t length,
                             const SetContext& ctx, TemplateCache& templates, FlowOutput& out,
                             DecodeCounters& counters) noexcept;

// Decodes the records of one data set body through `tmpl`.
DecodeStatus decode_data_set(const uint8_t* data, uint32_t length, const CompiledTemplate& tmpl,
                             const SetContext& ctx, ExporterState& exporter, FlowOutput& out,
                             DecodeCounters& counters) noexcept;

// Whether every byte of [p, p+n) is zero: exporters pad datagrams with zeros after the last
// set (Cisco ACI, Palo Alto PAN-OS 8.1), which is padding, not a malformed set.
bool all_zero(const uint8_t* p, size_t n) noexcept;

}  // namespace flowgate::decode
