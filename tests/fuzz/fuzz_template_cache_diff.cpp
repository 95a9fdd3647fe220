// Differential libFuzzer target for decode::TemplateCache: the input is a sequence of
// operations applied both to the cache and to a plain reference built from std::map and
// std::deque that follows the rules template_cache.hpp documents:
//  - exporters get indexes in arrival order until max_exporters; then a new one takes the
//    index of the first exporter holding neither templates nor held sets, else kNoExporter;
//  - store() adds, replaces (definition changed), refreshes (unchanged) or refuses at the
//    per-exporter or global template bound; templates are never evicted;
//  - held data sets form a FIFO in a byte ring of pending_bytes with at most max_pending_sets
//    entries: a new set evicts the oldest sets (live or already released) until it fits
//    contiguously, is refused when empty, longer than the arena or past the exporter's bound;
//    expire_pending() drops live sets older than the TTL from the oldest end and stops at the
//    first younger one; release_pending() hands over a template's live sets, oldest first.
// The ring placement is modelled as the cache documents it (write position, oldest offset),
// because which sets a new one evicts depends on it. After every operation the two must agree
// on every find() in the key space, the counts (templates, exporters, held sets and bytes per
// exporter), each hold/withdraw/expire result, and the bytes of every released set. Any
// disagreement traps.
//
// One operation is 4 bytes: [op][who][id][arg].
//   op % 8: 0 store, 1 withdraw, 2 withdraw_all data, 3 withdraw_all options, 4 exporter only,
//           5 hold, 6 expire (time moves arg * 8 ns first), 7 release_pending
//   who: bits 0-2 exporter (6 keys over 2 addresses, 2 ports, 2 versions; room for 4),
//        bits 3-4 domain (0..2, 3 = a large one)
//   id: template id 256 + id % 8 (id & 8: the reserved id 2, which the cache stores as any)
//   arg: store: definition hash arg % 4, options when arg & 4;
//        hold: length arg * 3 (0 is refused), receive time = now.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <tuple>
#include <vector>

#include "decode/compiled_template.hpp"
#include "decode/template_cache.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using flowgate::decode::CompiledTemplate;
using flowgate::decode::ExporterKey;
using flowgate::decode::FlowType;
using flowgate::decode::IpAddress;
using flowgate::decode::PendingSet;
using flowgate::decode::SetContext;
using flowgate::decode::StoreResult;
using flowgate::decode::TemplateCache;
using flowgate::decode::TemplateCacheLimits;

constexpr uint32_t kExporterKeys = 6;
constexpr uint32_t kDomains[4] = {0, 1, 2, 0x80000001u};
constexpr uint32_t kTemplateIds = 9;  // 256..263 and 2
constexpr uint64_t kTtlNs = 1000;

TemplateCacheLimits limits() {
  TemplateCacheLimits l;
  l.max_exporters = 4;
  l.max_templates = 12;
  l.max_templates_per_exporter = 6;
  l.pending_bytes = 600;
  l.pending_bytes_per_exporter = 400;
  l.max_pending_sets = 6;
  l.pending_ttl_ns = kTtlNs;
  return l;
}

ExporterKey exporter_key(uint32_t k) {
  ExporterKey key;
  key.addr = IpAddress::from_v4(0xc0000201 + (k & 1));
  key.port = static_cast<uint16_t>(2055 + ((k >> 1) & 1));
  key.version = k >= 4 ? FlowType::kIpfix : FlowType::kNetflow9;
  return key;
}

uint16_t template_id(uint32_t i) { return i == 8 ? 2 : static_cast<uint16_t>(256 + i); }

struct RefTemplate {
  uint64_t hash = 0;
  bool options = false;
};

struct RefSet {
  uint32_t exporter = 0;
  uint32_t domain = 0;
  uint16_t id = 0;
  uint64_t receive_ns = 0;
  uint32_t offset = 0;
  std::vector<uint8_t> bytes;
  bool live = true;
};

// The reference: what the cache must hold, in the plainest containers.
class Reference {
 public:
  explicit Reference(const TemplateCacheLimits& l) : l_(l) {}

  uint32_t exporter_index(const ExporterKey& key) {
    for (uint32_t i = 0; i < exporters_.size(); ++i) {
      if (exporters_[i] == key) return i;
    }
    if (exporters_.size() < l_.max_exporters) {
      exporters_.push_back(key);
      return static_cast<uint32_t>(exporters_.size() - 1);
    }
    // Full: the first exporter holding neither templates nor held sets makes room.
    for (uint32_t i = 0; i < exporters_.size(); ++i) {
      if (templates_of(i) == 0 && held_sets_of(i) == 0) {
        exporters_[i] = key;
        return i;
      }
    }
    return TemplateCache::kNoExporter;
  }
  uint32_t exporter_count() const { return static_cast<uint32_t>(exporters_.size()); }

  StoreResult store(uint32_t e, uint32_t domain, uint16_t id, uint64_t hash, bool options) {
    const auto key = std::make_tuple(e, domain, id);
    if (auto it = templates_.find(key); it != templates_.end()) {
      if (it->second.hash == hash && it->second.options == options) return StoreResult::kRefreshed;
      it->second = RefTemplate{hash, options};
      return StoreResult::kReplaced;
    }
    if (templates_of(e) >= l_.max_templates_per_exporter || templates_.size() >= l_.max_templates) {
      return StoreResult::kLimit;
    }
    templates_[key] = RefTemplate{hash, options};
    return StoreResult::kAdded;
  }
  bool withdraw(uint32_t e, uint32_t domain, uint16_t id) {
    return templates_.erase(std::make_tuple(e, domain, id)) == 1;
  }
  uint32_t withdraw_all(uint32_t e, uint32_t domain, bool options) {
    uint32_t n = 0;
    for (auto it = templates_.begin(); it != templates_.end();) {
      if (std::get<0>(it->first) == e && std::get<1>(it->first) == domain &&
          it->second.options == options) {
        it = templates_.erase(it);
        ++n;
      } else {
        ++it;
      }
    }
    return n;
  }
  const RefTemplate* find(uint32_t e, uint32_t domain, uint16_t id) const {
    auto it = templates_.find(std::make_tuple(e, domain, id));
    return it == templates_.end() ? nullptr : &it->second;
  }
  uint32_t template_count() const { return static_cast<uint32_t>(templates_.size()); }
  uint32_t templates_of(uint32_t e) const {
    uint32_t n = 0;
    for (const auto& [k, v] : templates_) n += std::get<0>(k) == e ? 1 : 0;
    return n;
  }

  bool hold(uint32_t e, uint32_t domain, uint16_t id, uint64_t now,
            const std::vector<uint8_t>& bytes, uint64_t& evicted) {
    const auto length = static_cast<uint32_t>(bytes.size());
    if (length == 0 || length > l_.pending_bytes ||
        held_bytes_of(e) + length > l_.pending_bytes_per_exporter) {
      return false;
    }
    uint32_t offset = 0;
    while (ring_.size() == l_.max_pending_sets || !place(length, offset)) {
      if (ring_.front().live) ++evicted;
      ring_.pop_front();
      pop_dead();
    }
    ring_.push_back(RefSet{e, domain, id, now, offset, bytes, true});
    write_ = offset + length;
    return true;
  }
  uint64_t expire(uint64_t now) {
    uint64_t n = 0;
    while (!ring_.empty()) {
      RefSet& s = ring_.front();
      if (s.live) {
        if (now < s.receive_ns + l_.pending_ttl_ns) break;
        ++n;
      }
      ring_.pop_front();
    }
    pop_dead();
    return n;
  }
  // The byte strings released, oldest first.
  std::vector<std::vector<uint8_t>> release(uint32_t e, uint32_t domain, uint16_t id) {
    std::vector<std::vector<uint8_t>> out;
    for (RefSet& s : ring_) {
      if (s.live && s.exporter == e && s.domain == domain && s.id == id) {
        out.push_back(s.bytes);
        s.live = false;
      }
    }
    pop_dead();
    return out;
  }
  uint32_t held_live() const {
    uint32_t n = 0;
    for (const RefSet& s : ring_) n += s.live ? 1 : 0;
    return n;
  }
  uint32_t held_sets_of(uint32_t e) const {
    uint32_t n = 0;
    for (const RefSet& s : ring_) n += s.live && s.exporter == e ? 1 : 0;
    return n;
  }
  uint32_t held_bytes_of(uint32_t e) const {
    uint32_t n = 0;
    for (const RefSet& s : ring_) {
      if (s.live && s.exporter == e) n += static_cast<uint32_t>(s.bytes.size());
    }
    return n;
  }

 private:
  // Where a set of `length` bytes fits after the newest one, or at the start of the arena
  // when the end is taken, never over a set still in the ring (live or not).
  bool place(uint32_t length, uint32_t& offset) const {
    const uint32_t cap = l_.pending_bytes;
    if (ring_.empty()) {
      offset = 0;
      return length <= cap;
    }
    const uint32_t oldest = ring_.front().offset;
    if (write_ > oldest) {
      if (cap - write_ >= length) {
        offset = write_;
        return true;
      }
      if (oldest >= length) {
        offset = 0;
        return true;
      }
      return false;
    }
    if (oldest - write_ >= length) {
      offset = write_;
      return true;
    }
    return false;
  }
  void pop_dead() {
    while (!ring_.empty() && !ring_.front().live) ring_.pop_front();
    if (ring_.empty()) write_ = 0;
  }

  TemplateCacheLimits l_;
  std::vector<ExporterKey> exporters_;
  std::map<std::tuple<uint32_t, uint32_t, uint16_t>, RefTemplate> templates_;
  std::deque<RefSet> ring_;
  uint32_t write_ = 0;
};

void check_agree(TemplateCache& c, const Reference& r) {
  FLOWGATE_FUZZ_CHECK(c.exporter_count() == r.exporter_count());
  FLOWGATE_FUZZ_CHECK(c.template_count() == r.template_count());
  FLOWGATE_FUZZ_CHECK(c.pending_live() == r.held_live());
  for (uint32_t e = 0; e < c.exporter_count(); ++e) {
    const flowgate::decode::ExporterState& s = c.exporter(e);
    FLOWGATE_FUZZ_CHECK(s.templates == r.templates_of(e));
    FLOWGATE_FUZZ_CHECK(s.pending_sets == r.held_sets_of(e));
    FLOWGATE_FUZZ_CHECK(s.pending_bytes == r.held_bytes_of(e));
    for (uint32_t domain : kDomains) {
      for (uint32_t i = 0; i < kTemplateIds; ++i) {
        const uint16_t id = template_id(i);
        const CompiledTemplate* got = c.find(e, domain, id);
        const RefTemplate* want = r.find(e, domain, id);
        FLOWGATE_FUZZ_CHECK((got == nullptr) == (want == nullptr));
        if (got != nullptr) {
          FLOWGATE_FUZZ_CHECK(got->id == id);
          FLOWGATE_FUZZ_CHECK(got->definition_hash == want->hash);
          FLOWGATE_FUZZ_CHECK(got->is_options == want->options);
        }
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* scratch = new std::vector<uint8_t>();  // hold() payloads, reused
  TemplateCache cache(limits());
  Reference ref(limits());
  uint64_t now = 1'000'000;
  for (size_t p = 0; p + 4 <= size; p += 4) {
    const uint8_t op = data[p] % 8;
    const uint8_t who = data[p + 1];
    const uint32_t key_index = (who & 7) % kExporterKeys;
    const uint32_t domain = kDomains[(who >> 3) & 3];
    const uint16_t id = template_id((data[p + 2] & 8) != 0 ? 8 : data[p + 2] % 8);
    const uint8_t arg = data[p + 3];

    const ExporterKey key = exporter_key(key_index);
    const uint32_t e = cache.exporter_index(key);
    FLOWGATE_FUZZ_CHECK(e == ref.exporter_index(key));
    if (e == TemplateCache::kNoExporter) {
      check_agree(cache, ref);
      continue;
    }
    switch (op) {
      case 0: {
        CompiledTemplate t;
        t.id = id;
        t.definition_hash = arg % 4;
        t.is_options = (arg & 4) != 0;
        const StoreResult got = cache.store(e, domain, t);
        FLOWGATE_FUZZ_CHECK(got == ref.store(e, domain, id, t.definition_hash, t.is_options));
        break;
      }
      case 1:
        FLOWGATE_FUZZ_CHECK(cache.withdraw(e, domain, id) == ref.withdraw(e, domain, id));
        break;
      case 2:
      case 3: {
        const bool options = op == 3;
        FLOWGATE_FUZZ_CHECK(cache.withdraw_all(e, domain, options) ==
                            ref.withdraw_all(e, domain, options));
        break;
      }
      case 4:
        break;
      case 5: {
        std::vector<uint8_t>& bytes = *scratch;
        bytes.assign(size_t{arg} * 3, 0);
        for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(p + i * 13);
        SetContext ctx;
        ctx.exporter = e;
        ctx.domain = domain;
        ctx.meta.receive_ns = now;
        uint64_t evicted = 0;
        uint64_t ref_evicted = 0;
        const bool held = cache.hold(ctx, id, bytes.data(), static_cast<uint32_t>(bytes.size()),
                                     evicted);
        FLOWGATE_FUZZ_CHECK(held == ref.hold(e, domain, id, now, bytes, ref_evicted));
        FLOWGATE_FUZZ_CHECK(evicted == ref_evicted);
        break;
      }
      case 6:
        now += uint64_t{arg} * 8;
        FLOWGATE_FUZZ_CHECK(cache.expire_pending(now) == ref.expire(now));
        break;
      case 7: {
        const std::vector<std::vector<uint8_t>> want = ref.release(e, domain, id);
        size_t n = 0;
        cache.release_pending(e, domain, id, [&](const PendingSet& s, const uint8_t* bytes) {
          FLOWGATE_FUZZ_CHECK(n < want.size());
          FLOWGATE_FUZZ_CHECK(s.ctx.exporter == e && s.ctx.domain == domain && s.template_id == id);
          FLOWGATE_FUZZ_CHECK(s.length == want[n].size());
          for (uint32_t i = 0; i < s.length; ++i) FLOWGATE_FUZZ_CHECK(bytes[i] == want[n][i]);
          ++n;
        });
        FLOWGATE_FUZZ_CHECK(n == want.size());
        break;
      }
      default:
        break;
    }
    check_agree(cache, ref);
  }
  return 0;
}
