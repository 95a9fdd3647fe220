#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "decode/compiled_template.hpp"
#include "decode/datagram.hpp"
#include "decode/flow_type.hpp"
#include "decode/ip_address.hpp"

namespace flowgate::decode {

struct TemplateCacheLimits {
  uint32_t max_exporters = 1024;
  uint32_t max_templates = 4096;               // compiled templates across all exporters
  uint32_t max_templates_per_exporter = 512;
  uint32_t pending_bytes = 1u << 20;           // arena for data sets awaiting their template
  uint32_t pending_bytes_per_exporter = 64u << 10;
  uint32_t max_pending_sets = 2048;
  uint64_t pending_ttl_ns = 60ull * 1'000'000'000;
  // A template not re-sent for this long is dropped in housekeeping ([collector]
  // template_timeout); 0 keeps templates until replaced or withdrawn.
  uint64_t template_ttl_ns = 0;
};

// Which exporter a template belongs to (RFC 3954 §5.1: templates are scoped by exporter and
// source ID; we add the UDP port and the protocol so that two exporters behind one NAT address
// and a v9 and an IPFIX exporter on one box never share templates).
struct ExporterKey {
  IpAddress addr;
  uint16_t port = 0;
  FlowType version = FlowType::kUnknown;
  friend bool operator==(const ExporterKey&, const ExporterKey&) = default;
};

// What the header of the datagram that carried a data set says; needed to decode the set
// later when it was held for a missing template.
struct SetContext {
  DatagramMeta meta;
  FlowType type = FlowType::kUnknown;
  uint32_t export_secs = 0;   // v9 unix_secs, IPFIX export time
  uint32_t uptime_ms = 0;     // v9 sysUpTime
  uint32_t sequence = 0;
  uint32_t domain = 0;        // v9 source ID, IPFIX observation domain
  uint32_t exporter = 0;      // index in the TemplateCache
};

// Per (exporter, observation domain) state learned from options data.
struct DomainInfo {
  uint32_t domain = 0;
  uint32_t sampling_rate = 0;     // 0: none learned
  uint64_t system_init_ms = 0;    // IE 160 from options data; 0: unknown
  uint64_t refreshed_ns = 0;      // receive time of the options data last applied
};

struct SamplerInfo {
  uint32_t domain = 0;
  uint64_t sampler_id = 0;
  uint32_t sampling_rate = 0;
  uint64_t refreshed_ns = 0;
};

struct ExporterState {
  static constexpr uint32_t kMaxDomains = 16;
  static constexpr uint32_t kMaxSamplers = 32;

  ExporterKey key;
  uint32_t templates = 0;
  uint32_t pending_bytes = 0;
  uint32_t pending_sets = 0;
  uint32_t domain_count = 0;
  uint32_t sampler_count = 0;
  std::array<DomainInfo, kMaxDomains> domains{};
  std::array<SamplerInfo, kMaxSamplers> samplers{};

  // Finds or adds a domain's entry; nullptr when the bound is reached.
  DomainInfo* domain(uint32_t id) noexcept;
  const DomainInfo* find_domain(uint32_t id) const noexcept;
  // Records a sampler's rate; false when the bound is reached.
  bool set_sampler(uint32_t domain, uint64_t sampler_id, uint32_t rate,
                   uint64_t now_ns = 0) noexcept;
  uint32_t sampler_rate(uint32_t domain, uint64_t sampler_id) const noexcept;
};

enum class StoreResult : uint8_t { kAdded, kReplaced, kRefreshed, kLimit };

// A data set held until its template arrives (RFC 3954 §9 lets data precede its template).
struct PendingSet {
  SetContext ctx;
  uint16_t template_id = 0;
  bool live = false;
  uint32_t offset = 0;  // in the arena
  uint32_t length = 0;
};

// The template store of one shard. Owned by one worker: no locks. Every table is sized at
// construction, so storing a template or holding a data set never allocates.
class TemplateCache {
 public:
  static constexpr uint32_t kNoExporter = UINT32_MAX;

  explicit TemplateCache(const TemplateCacheLimits& limits = {});

  // Finds or adds the exporter. When the table is full, a new exporter takes the place (and
  // index) of the first exporter holding neither templates nor held data sets (its templates
  // expired or were withdrawn: nothing refers to its index), adding one to `*reclaimed` when
  // given (a decoder's DecodeCounters::exporters_reclaimed); kNoExporter when none does.
  uint32_t exporter_index(const ExporterKey& key, uint64_t* reclaimed = nullptr) noexcept;
  // Finds the exporter without adding it; kNoExporter when it is not held.
  uint32_t find_exporter(const ExporterKey& key) const noexcept;
  ExporterState& exporter(uint32_t index) noexcept { return exporters_[index]; }
  const ExporterState& exporter(uint32_t index) const noexcept { return exporters_[index]; }
  uint32_t exporter_count() const noexcept { return exporter_count_; }

  const CompiledTemplate* find(uint32_t exporter, uint32_t domain, uint16_t id) const noexcept;
  StoreResult store(uint32_t exporter, uint32_t domain, const CompiledTemplate& tmpl) noexcept;
  // Removes one template; true when it existed.
  bool withdraw(uint32_t exporter, uint32_t domain, uint16_t id) noexcept;
  // Removes every template (options templates when `options`) of a domain (RFC 7011 §8.1).
  uint32_t withdraw_all(uint32_t exporter, uint32_t domain, bool options) noexcept;
  uint32_t template_count() const noexcept { return template_count_; }

  // Keeps a stored template's field list as received and the time it was (re)sent, for the
  // template state file; a no-op when the template is not held. Field lists longer than
  // kMaxSavedFields are not kept (the template works, it is only not saved).
  static constexpr uint32_t kMaxSavedFields = 128;
  void note_definition(uint32_t exporter, uint32_t domain, uint16_t id,
                       std::span<const RawField> fields, uint64_t now_ns) noexcept;
  // When the template was last (re)sent; 0 when not held.
  uint64_t refreshed_ns(uint32_t exporter, uint32_t domain, uint16_t id) const noexcept;
  // Drops templates not re-sent within limits().template_ttl_ns; returns how many.
  uint32_t expire_templates(uint64_t now_ns) noexcept;
  void set_template_ttl(uint64_t ttl_ns) noexcept { limits_.template_ttl_ns = ttl_ns; }
  // Calls fn(const ExporterKey&, uint32_t domain, const CompiledTemplate&,
  // std::span<const RawField> fields, uint64_t refreshed_ns) for each held template; `fields`
  // is empty for one whose list was too long to keep.
  template <typename Fn>
  void for_each_template(Fn&& fn) const {
    for (const Slot& s : slots_) {
      if (!s.used) continue;
      fn(static_cast<const ExporterKey&>(exporters_[s.exporter].key), s.domain,
         static_cast<const CompiledTemplate&>(s.tmpl),
         std::span<const RawField>(s.fields.data(), s.field_count), s.refreshed_ns);
    }
  }

  // What the cache's tables take, from their sizes (fixed at construction: the caps).
  uint64_t memory_bytes() const noexcept;

  // Holds a copy of a data set. Evicts the oldest held sets (returned through `evicted`) to make
  // room; false when the set cannot be held at all (too large, or the exporter's bound).
  bool hold(const SetContext& ctx, uint16_t template_id, const uint8_t* data, uint32_t length,
            uint64_t& evicted) noexcept;
  // Drops held sets older than the TTL; returns how many were live.
  uint64_t expire_pending(uint64_t now_ns) noexcept;
  // Calls fn(const PendingSet&, const uint8_t* data) for each live held set of this template,
  // oldest first, and releases them.
  template <typename Fn>
  void release_pending(uint32_t exporter, uint32_t domain, uint16_t id, Fn&& fn) noexcept {
    if (exporters_[exporter].pending_sets == 0) return;
    for (uint32_t i = 0, n = pending_count_; i < n; ++i) {
      PendingSet& p = pending_[(pending_tail_ + i) % pending_.size()];
      if (!p.live || p.ctx.exporter != exporter || p.ctx.domain != domain ||
          p.template_id != id) {
        continue;
      }
      fn(static_cast<const PendingSet&>(p), arena_.data() + p.offset);
      release(p);
    }
    pop_dead();
  }
  uint32_t pending_live() const noexcept { return pending_live_; }

  const TemplateCacheLimits& limits() const noexcept { return limits_; }

 private:
  static uint64_t template_key(uint32_t exporter, uint32_t domain, uint16_t id) noexcept {
    return (uint64_t{exporter} << 48) ^ (uint64_t{domain} << 16) ^ id;
  }
  uint32_t* template_bucket(uint64_t key) noexcept;  // the bucket holding key, or nullptr
  // The index of the first exporter holding no templates and no held sets, or kNoExporter.
  uint32_t reclaimable_exporter() noexcept;
  void erase_template_bucket(uint32_t bucket) noexcept;
  void release(PendingSet& p) noexcept;
  void pop_dead() noexcept;
  bool try_place(uint32_t length, uint32_t& offset) const noexcept;

  TemplateCacheLimits limits_;

  std::vector<ExporterState> exporters_;
  std::vector<uint32_t> exporter_table_;  // open addressing: exporter index + 1, 0 empty
  uint32_t exporter_count_ = 0;
  // False once a scan found no exporter to reclaim, until one may have become reclaimable (a
  // template withdrawn, a held set released, an exporter added): a flood of new exporters at a
  // full table costs one scan, not one a datagram.
  bool may_reclaim_ = false;

  struct Slot {
    uint64_t key = 0;
    uint32_t exporter = 0;
    uint32_t domain = 0;
    bool used = false;
    uint16_t field_count = 0;  // of `fields`; 0 when the list was too long to keep
    uint64_t refreshed_ns = 0;
    CompiledTemplate tmpl;
    std::array<RawField, kMaxSavedFields> fields{};
  };
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  std::vector<uint32_t> template_table_;  // open addressing, linear probing: slot + 1, 0 empty
  uint32_t template_count_ = 0;

  std::vector<uint8_t> arena_;
  std::vector<PendingSet> pending_;  // FIFO ring, oldest at pending_tail_
  uint32_t pending_tail_ = 0;
  uint32_t pending_count_ = 0;  // ring entries, live or released
  uint32_t pending_live_ = 0;
  uint32_t write_ = 0;          // next arena offset
};

}  // namespace flowgate::decode
