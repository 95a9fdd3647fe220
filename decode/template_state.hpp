#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "decode/template_cache.hpp"

namespace flowgate::decode {

// The template state file ([collector] template_state): what the NetFlow v9 and IPFIX decoders
// learned from exporters — each template's field list as received, options templates, and the
// sampling rates of options data — so that a restarted collector decodes data from the first
// datagram instead of holding it until the exporter re-sends its templates.
//
// Binary rather than text: a field list is binary on the wire and is kept as it came (loading
// compiles it through compile_and_store, the path every template set takes, so no compiled
// internals are ever written); the file is written by the shards' housekeeping with no
// formatting; and one checksum covers everything, so a torn or edited file is refused whole.
// Integers are little-endian.
//
//   header (32 bytes): "FGTSTATE", u32 version, u32 reserved (0), u64 saved_ns,
//                      u32 body length, u32 CRC-32 (IEEE, as zlib) of the body
//   body: records, each  u8 kind, u8 protocol (9 NetFlow v9, 10 IPFIX), 16-byte exporter
//                        address (IPv4 v4-mapped), u16 exporter port, u32 source ID /
//                        observation domain, u64 refreshed_ns (when the exporter last sent it)
//         kind 1 template:  u16 template ID, u8 options, u16 field count,
//                           count x (u16 field ID, u16 length, u8 flags: 1 enterprise, 2 scope)
//         kind 2 domain:    u32 sampling rate, u64 system init time (ms)
//         kind 3 sampler:   u64 sampler ID, u32 sampling rate
inline constexpr uint32_t kTemplateStateVersion = 1;
inline constexpr size_t kTemplateStateHeaderBytes = 32;

enum class StateStatus : uint8_t {
  kOk,
  kMissing,      // no file (the first start): not an error
  kUnreadable,   // open or read failed
  kTruncated,    // shorter than its header or the body length it states
  kBadMagic,     // not a template state file
  kBadVersion,   // written by another version of the format
  kBadChecksum,  // the body is not what was written
  kBadRecord,    // a record runs past the body or has an unknown kind or protocol
};
std::string_view state_status_text(StateStatus s) noexcept;

// Appends the records of one cache: every template whose field list it kept, and the sampling
// options of its v9 and IPFIX exporters. Returns the templates left out (field list longer
// than TemplateCache::kMaxSavedFields).
uint32_t append_template_state(const TemplateCache& cache, std::vector<uint8_t>& body);

// A whole file from the records of several shards.
std::vector<uint8_t> template_state_file(std::span<const std::vector<uint8_t>> bodies,
                                         uint64_t saved_ns);

// Checks the header, version, length, checksum and every record's framing; on kOk `body` is
// the records. Nothing is loaded from a file that fails any check.
StateStatus parse_template_state(std::span<const uint8_t> file, std::span<const uint8_t>& body);

struct StateLoadFigures {
  uint64_t templates = 0;  // templates compiled and stored
  uint64_t options = 0;    // sampling-option entries (domains, samplers) restored
  uint64_t stale = 0;      // entries older than the template timeout, not loaded
  uint64_t refused = 0;    // templates that failed to compile or found the cache full
};

// Loads a checked body into `cache`. Templates go through compile_and_store, as a template set
// from the exporter would; each keeps the refresh time it was saved with, so the template
// timeout counts from when the exporter last sent it. Entries refreshed more than `max_age_ns`
// before `now_ns` are skipped (max_age_ns 0: none is); so is an entry the cache already holds
// with a newer refresh time (several shards may have saved the same template). Loaded
// exporters take at most half of the cache's exporter table; entries past that are refused.
void load_template_state(std::span<const uint8_t> body, uint64_t now_ns, uint64_t max_age_ns,
                         TemplateCache& cache, StateLoadFigures& figures);

// Reads the file whole. kMissing when it does not exist.
StateStatus read_template_state_file(const std::string& path, std::vector<uint8_t>& bytes);

// Replaces the file atomically: writes `path`.tmp in the same directory, fsyncs it, renames it
// over `path`, fsyncs the directory. On failure the old file is left as it was and `error`
// says what failed.
bool write_template_state_file(const std::string& path, std::span<const uint8_t> bytes,
                               std::string& error);

// Whether the file's directory takes a file of ours: creates and removes `path`.tmp.
bool probe_template_state_path(const std::string& path, std::string& error);

}  // namespace flowgate::decode
