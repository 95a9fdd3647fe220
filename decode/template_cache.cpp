#include "decode/template_cache.hpp"

#include "decode/hash.hpp"
#include "decode/open_addressing.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace flowgate::decode {
namespace {

uint64_t hash_exporter(const ExporterKey& k) noexcept {
  return hash_address(k.addr, (uint64_t{k.port} << 8) ^ static_cast<uint64_t>(k.version));
}

uint32_t table_size(uint32_t entries) noexcept {
  return std::bit_ceil(std::max<uint32_t>(entries, 8) * 2);
}

}  // namespace

DomainInfo* ExporterState::domain(uint32_t id) noexcept {
  for (uint32_t i = 0; i < domain_count; ++i) {
    if (domains[i].domain == id) return &domains[i];
  }
  if (domain_count == kMaxDomains) return nullptr;
  domains[domain_count] = DomainInfo{id, 0, 0, 0};
  return &domains[domain_count++];
}

const DomainInfo* ExporterState::find_domain(uint32_t id) const noexcept {
  for (uint32_t i = 0; i < domain_count; ++i) {
    if (domains[i].domain == id) return &domains[i];
  }
  return nullptr;
}

bool ExporterState::set_sampler(uint32_t domain_id, uint64_t sampler_id, uint32_t rate,
                                uint64_t now_ns) noexcept {
  for (uint32_t i = 0; i < sampler_count; ++i) {
    if (samplers[i].domain == domain_id && samplers[i].sampler_id == sampler_id) {
      samplers[i].sampling_rate = rate;
      samplers[i].refreshed_ns = now_ns;
      return true;
    }
  }
  if (sampler_count == kMaxSamplers) return false;
  samplers[sampler_count++] = SamplerInfo{domain_id, sampler_id, rate, now_ns};
  return true;
}

uint32_t ExporterState::sampler_rate(uint32_t domain_id, uint64_t sampler_id) const noexcept {
  for (uint32_t i = 0; i < sampler_count; ++i) {
    if (samplers[i].domain == domain_id && samplers[i].sampler_id == sampler_id) {
      return samplers[i].sampling_rate;
    }
  }
  return 0;
}

TemplateCache::TemplateCache(const TemplateCacheLimits& limits) : limits_(limits) {
  // Exporter indexes are packed into 16 bits of the template key.
  limits_.max_exporters = std::clamp<uint32_t>(limits_.max_exporters, 1, 0xffff);
  limits_.max_templates = std::max<uint32_t>(limits_.max_templates, 1);
  limits_.max_pending_sets = std::max<uint32_t>(limits_.max_pending_sets, 1);
  exporters_.resize(limits_.max_exporters);
  exporter_table_.assign(table_size(limits_.max_exporters), 0);
  slots_.resize(limits_.max_templates);
  free_slots_.reserve(limits_.max_templates);
  for (uint32_t i = limits_.max_templates; i-- > 0;) free_slots_.push_back(i);
  template_table_.assign(table_size(limits_.max_templates), 0);
  arena_.resize(limits_.pending_bytes);
  pending_.resize(limits_.max_pending_sets);
}

uint32_t TemplateCache::exporter_index(const ExporterKey& key, uint64_t* reclaimed) noexcept {
  const uint32_t mask = static_cast<uint32_t>(exporter_table_.size()) - 1;
  for (uint32_t i = static_cast<uint32_t>(hash_exporter(key)) & mask;; i = (i + 1) & mask) {
    const uint32_t e = exporter_table_[i];
    if (e == 0) {
      uint32_t idx = kNoExporter;
      if (exporter_count_ < limits_.max_exporters) {
        idx = exporter_count_++;
      } else {
        idx = reclaimable_exporter();
        if (idx == kNoExporter) return kNoExporter;
        // Its bucket goes, which may shift the empty one this key would take.
        erase_entry(exporter_table_, idx + 1,
                    [&](uint32_t x) { return hash_exporter(exporters_[x - 1].key); });
        for (i = static_cast<uint32_t>(hash_exporter(key)) & mask; exporter_table_[i] != 0;
             i = (i + 1) & mask) {
        }
        if (reclaimed != nullptr) ++*reclaimed;
      }
      exporters_[idx] = ExporterState{};
      exporters_[idx].key = key;
      exporter_table_[i] = idx + 1;
      may_reclaim_ = true;  // it holds nothing yet
      return idx;
    }
    if (exporters_[e - 1].key == key) return e - 1;
  }
}

uint32_t TemplateCache::find_exporter(const ExporterKey& key) const noexcept {
  const uint32_t mask = static_cast<uint32_t>(exporter_table_.size()) - 1;
  for (uint32_t i = static_cast<uint32_t>(hash_exporter(key)) & mask;; i = (i + 1) & mask) {
    const uint32_t e = exporter_table_[i];
    if (e == 0) return kNoExporter;
    if (exporters_[e - 1].key == key) return e - 1;
  }
}

uint32_t TemplateCache::reclaimable_exporter() noexcept {
  if (!may_reclaim_) return kNoExporter;
  for (uint32_t e = 0; e < exporter_count_; ++e) {
    if (exporters_[e].templates == 0 && exporters_[e].pending_sets == 0) return e;
  }
  may_reclaim_ = false;
  return kNoExporter;
}

uint32_t* TemplateCache::template_bucket(uint64_t key) noexcept {
  const uint32_t mask = static_cast<uint32_t>(template_table_.size()) - 1;
  for (uint32_t i = static_cast<uint32_t>(mix64(key)) & mask;; i = (i + 1) & mask) {
    const uint32_t s = template_table_[i];
    if (s == 0) return nullptr;
    if (slots_[s - 1].key == key) return &template_table_[i];
  }
}

const CompiledTemplate* TemplateCache::find(uint32_t exporter, uint32_t domain,
                                            uint16_t id) const noexcept {
  const uint64_t key = template_key(exporter, domain, id);
  const uint32_t mask = static_cast<uint32_t>(template_table_.size()) - 1;
  for (uint32_t i = static_cast<uint32_t>(mix64(key)) & mask;; i = (i + 1) & mask) {
    const uint32_t s = template_table_[i];
    if (s == 0) return nullptr;
    if (slots_[s - 1].key == key) return &slots_[s - 1].tmpl;
  }
}

StoreResult TemplateCache::store(uint32_t exporter, uint32_t domain,
                                 const CompiledTemplate& tmpl) noexcept {
  const uint64_t key = template_key(exporter, domain, tmpl.id);
  if (uint32_t* b = template_bucket(key)) {
    Slot& slot = slots_[*b - 1];
    if (slot.tmpl.definition_hash == tmpl.definition_hash &&
        slot.tmpl.is_options == tmpl.is_options) {
      return StoreResult::kRefreshed;
    }
    slot.tmpl = tmpl;
    return StoreResult::kReplaced;
  }
  ExporterState& exp = exporters_[exporter];
  if (exp.templates >= limits_.max_templates_per_exporter || free_slots_.empty()) {
    return StoreResult::kLimit;
  }
  const uint32_t s = free_slots_.back();
  free_slots_.pop_back();
  slots_[s].key = key;
  slots_[s].exporter = exporter;
  slots_[s].domain = domain;
  slots_[s].used = true;
  slots_[s].field_count = 0;
  slots_[s].refreshed_ns = 0;
  slots_[s].tmpl = tmpl;
  const uint32_t mask = static_cast<uint32_t>(template_table_.size()) - 1;
  uint32_t i = static_cast<uint32_t>(mix64(key)) & mask;
  while (template_table_[i] != 0) i = (i + 1) & mask;
  template_table_[i] = s + 1;
  ++exp.templates;
  ++template_count_;
  return StoreResult::kAdded;
}

void TemplateCache::erase_template_bucket(uint32_t bucket) noexcept {
  erase_bucket(template_table_, bucket,
               [&](uint32_t s) { return static_cast<uint32_t>(mix64(slots_[s - 1].key)); });
}

bool TemplateCache::withdraw(uint32_t exporter, uint32_t domain, uint16_t id) noexcept {
  uint32_t* b = template_bucket(template_key(exporter, domain, id));
  if (b == nullptr) return false;
  const uint32_t s = *b - 1;
  slots_[s].used = false;
  free_slots_.push_back(s);
  erase_template_bucket(static_cast<uint32_t>(b - template_table_.data()));
  --exporters_[exporter].templates;
  --template_count_;
  may_reclaim_ = true;
  return true;
}

uint32_t TemplateCache::withdraw_all(uint32_t exporter, uint32_t domain, bool options) noexcept {
  uint32_t n = 0;
  for (Slot& s : slots_) {
    if (s.used && s.exporter == exporter && s.domain == domain && s.tmpl.is_options == options) {
      n += withdraw(exporter, domain, s.tmpl.id) ? 1 : 0;
    }
  }
  return n;
}

void TemplateCache::note_definition(uint32_t exporter, uint32_t domain, uint16_t id,
                                    std::span<const RawField> fields, uint64_t now_ns) noexcept {
  uint32_t* b = template_bucket(template_key(exporter, domain, id));
  if (b == nullptr) return;
  Slot& s = slots_[*b - 1];
  s.refreshed_ns = now_ns;
  if (fields.size() > s.fields.size()) {
    s.field_count = 0;
    return;
  }
  std::copy(fields.begin(), fields.end(), s.fields.begin());
  s.field_count = static_cast<uint16_t>(fields.size());
}

uint64_t TemplateCache::refreshed_ns(uint32_t exporter, uint32_t domain,
                                     uint16_t id) const noexcept {
  const uint64_t key = template_key(exporter, domain, id);
  const uint32_t mask = static_cast<uint32_t>(template_table_.size()) - 1;
  for (uint32_t i = static_cast<uint32_t>(mix64(key)) & mask;; i = (i + 1) & mask) {
    const uint32_t s = template_table_[i];
    if (s == 0) return 0;
    if (slots_[s - 1].key == key) return slots_[s - 1].refreshed_ns;
  }
}

uint32_t TemplateCache::expire_templates(uint64_t now_ns) noexcept {
  if (limits_.template_ttl_ns == 0 || template_count_ == 0) return 0;
  uint32_t n = 0;
  for (Slot& s : slots_) {
    if (s.used && s.refreshed_ns + limits_.template_ttl_ns <= now_ns) {
      n += withdraw(s.exporter, s.domain, s.tmpl.id) ? 1 : 0;
    }
  }
  return n;
}

uint64_t TemplateCache::memory_bytes() const noexcept {
  return sizeof(*this) + exporters_.capacity() * sizeof(ExporterState) +
         exporter_table_.capacity() * sizeof(uint32_t) + slots_.capacity() * sizeof(Slot) +
         free_slots_.capacity() * sizeof(uint32_t) + template_table_.capacity() * sizeof(uint32_t) +
         arena_.capacity() + pending_.capacity() * sizeof(PendingSet);
}

bool TemplateCache::try_place(uint32_t length, uint32_t& offset) const noexcept {
  const uint32_t cap = static_cast<uint32_t>(arena_.size());
  if (pending_count_ == 0) {
    offset = 0;
    return length <= cap;
  }
  const uint32_t tail = pending_[pending_tail_].offset;
  if (write_ > tail) {  // live bytes are [tail, write_): free at the end, then at the start
    if (cap - write_ >= length) {
      offset = write_;
      return true;
    }
    if (tail >= length) {
      offset = 0;
      return true;
    }
    return false;
  }
  // Wrapped: live bytes are [tail, end) and [0, write_); free is [write_, tail).
  if (tail - write_ >= length) {
    offset = write_;
    return true;
  }
  return false;
}

void TemplateCache::release(PendingSet& p) noexcept {
  p.live = false;
  --pending_live_;
  ExporterState& e = exporters_[p.ctx.exporter];
  e.pending_bytes -= p.length;
  --e.pending_sets;
  may_reclaim_ = true;
}

void TemplateCache::pop_dead() noexcept {
  while (pending_count_ > 0 && !pending_[pending_tail_].live) {
    pending_tail_ = (pending_tail_ + 1) % static_cast<uint32_t>(pending_.size());
    --pending_count_;
  }
  if (pending_count_ == 0) write_ = 0;
}

bool TemplateCache::hold(const SetContext& ctx, uint16_t template_id, const uint8_t* data,
                         uint32_t length, uint64_t& evicted) noexcept {
  ExporterState& exp = exporters_[ctx.exporter];
  if (length == 0 || length > arena_.size() ||
      exp.pending_bytes + length > limits_.pending_bytes_per_exporter) {
    return false;
  }
  const auto ring = static_cast<uint32_t>(pending_.size());
  uint32_t offset = 0;
  while (pending_count_ == ring || !try_place(length, offset)) {
    PendingSet& oldest = pending_[pending_tail_];
    if (oldest.live) {
      release(oldest);
      ++evicted;
    }
    pending_tail_ = (pending_tail_ + 1) % ring;
    --pending_count_;
    pop_dead();
  }
  PendingSet& p = pending_[(pending_tail_ + pending_count_) % ring];
  p.ctx = ctx;
  p.template_id = template_id;
  p.live = true;
  p.offset = offset;
  p.length = length;
  std::memcpy(arena_.data() + offset, data, length);
  write_ = offset + length;
  ++pending_count_;
  ++pending_live_;
  exp.pending_bytes += length;
  ++exp.pending_sets;
  return true;
}

uint64_t TemplateCache::expire_pending(uint64_t now_ns) noexcept {
  uint64_t expired = 0;
  while (pending_count_ > 0) {
    PendingSet& p = pending_[pending_tail_];
    if (p.live) {
      if (now_ns < p.ctx.meta.receive_ns + limits_.pending_ttl_ns) break;
      release(p);
      ++expired;
    }
    pending_tail_ = (pending_tail_ + 1) % static_cast<uint32_t>(pending_.size());
    --pending_count_;
  }
  pop_dead();
  return expired;
}

}  // namespace flowgate::decode
