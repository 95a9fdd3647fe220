// TemplateCache: exporter table, template store (added / refreshed / replaced, bounds,
// withdrawal, the open-addressing table under churn), the arena of held data sets (order,
// eviction, bounds, TTL, wrap-around), and the per-exporter sampling state.

#include "decode/template_cache.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <tuple>
#include <vector>

#include "tests/support/decoder_harness.hpp"

namespace flowgate {
namespace {

using decode::CompiledTemplate;
using decode::ExporterKey;
using decode::ExporterState;
using decode::FlowType;
using decode::PendingSet;
using decode::SetContext;
using decode::StoreResult;
using decode::TemplateCache;
using decode::TemplateCacheLimits;
using testing::ipv4;

CompiledTemplate make_template(uint16_t id, uint64_t hash, bool options = false) {
  CompiledTemplate t;
  t.id = id;
  t.definition_hash = hash;
  t.is_options = options;
  t.min_record_length = 1;
  return t;
}

ExporterKey key(uint8_t last, uint16_t port = 2055, FlowType v = FlowType::kNetflow9) {
  return ExporterKey{ipv4(192, 0, 2, last), port, v};
}

TEST(TemplateCache, ExporterIndexIsStableAndKeyedByAddressPortAndProtocol) {
  TemplateCache c;
  const uint32_t a = c.exporter_index(key(1));
  EXPECT_EQ(c.exporter_index(key(1)), a);
  const uint32_t b = c.exporter_index(key(2));
  const uint32_t p = c.exporter_index(key(1, 2056));
  const uint32_t v = c.exporter_index(key(1, 2055, FlowType::kIpfix));
  EXPECT_NE(a, b);
  EXPECT_NE(a, p);
  EXPECT_NE(a, v);
  EXPECT_NE(b, p);
  EXPECT_EQ(c.exporter_count(), 4u);
  EXPECT_EQ(c.exporter(p).key, key(1, 2056));
}

TEST(TemplateCache, FullExporterTableRefusesNewExportersWhileEachHoldsTemplates) {
  TemplateCacheLimits limits;
  limits.max_exporters = 3;
  TemplateCache c(limits);
  for (uint8_t i = 0; i < 3; ++i) {
    const uint32_t e = c.exporter_index(key(i));
    ASSERT_NE(e, TemplateCache::kNoExporter);
    ASSERT_EQ(c.store(e, 0, make_template(256, 1)), StoreResult::kAdded);
  }
  EXPECT_EQ(c.exporter_index(key(99)), TemplateCache::kNoExporter);
  EXPECT_EQ(c.exporter_index(key(99)), TemplateCache::kNoExporter);
  EXPECT_EQ(c.exporter_count(), 3u);
  for (uint8_t i = 0; i < 3; ++i) EXPECT_EQ(c.exporter_index(key(i)), i);
}

TEST(TemplateCache, ManyExportersAreAllFound) {
  TemplateCacheLimits limits;
  limits.max_exporters = 1000;
  TemplateCache c(limits);
  for (uint16_t i = 0; i < 1000; ++i) {
    ASSERT_EQ(c.exporter_index(key(static_cast<uint8_t>(i), i)), i);
  }
  for (uint16_t i = 0; i < 1000; ++i) {
    ASSERT_EQ(c.exporter_index(key(static_cast<uint8_t>(i), i)), i);
  }
  for (uint16_t i = 0; i < 1000; ++i) {
    ASSERT_EQ(c.find_exporter(key(static_cast<uint8_t>(i), i)), i);
  }
  EXPECT_EQ(c.find_exporter(key(0, 1000)), TemplateCache::kNoExporter);
}

TEST(TemplateCache, ZeroLimitsAreRaisedToOne) {
  TemplateCacheLimits limits;
  limits.max_exporters = 0;
  limits.max_templates = 0;
  limits.max_pending_sets = 0;
  TemplateCache c(limits);
  const uint32_t e = c.exporter_index(key(1));
  ASSERT_NE(e, TemplateCache::kNoExporter);
  EXPECT_EQ(c.store(e, 0, make_template(256, 1)), StoreResult::kAdded);
  EXPECT_EQ(c.exporter_index(key(2)), TemplateCache::kNoExporter);
  EXPECT_EQ(c.store(e, 0, make_template(257, 1)), StoreResult::kLimit);
}

TEST(TemplateCache, StoreTellsAddedRefreshedAndReplaced) {
  TemplateCache c;
  const uint32_t e = c.exporter_index(key(1));
  EXPECT_EQ(c.store(e, 0, make_template(256, 1)), StoreResult::kAdded);
  EXPECT_EQ(c.store(e, 0, make_template(256, 1)), StoreResult::kRefreshed);
  EXPECT_EQ(c.store(e, 0, make_template(256, 2)), StoreResult::kReplaced);
  EXPECT_EQ(c.find(e, 0, 256)->definition_hash, 2u);
  // Same definition hash, but now an options template: a replacement.
  EXPECT_EQ(c.store(e, 0, make_template(256, 2, true)), StoreResult::kReplaced);
  EXPECT_TRUE(c.find(e, 0, 256)->is_options);
  EXPECT_EQ(c.template_count(), 1u);
  EXPECT_EQ(c.exporter(e).templates, 1u);
}

TEST(TemplateCache, FindIsKeyedByExporterDomainAndId) {
  TemplateCache c;
  const uint32_t e1 = c.exporter_index(key(1));
  const uint32_t e2 = c.exporter_index(key(2));
  ASSERT_EQ(c.store(e1, 0, make_template(256, 10)), StoreResult::kAdded);
  ASSERT_EQ(c.store(e2, 0, make_template(256, 20)), StoreResult::kAdded);
  ASSERT_EQ(c.store(e1, 0xffffffffu, make_template(256, 30)), StoreResult::kAdded);
  ASSERT_EQ(c.store(e1, 0, make_template(0xffff, 40)), StoreResult::kAdded);
  EXPECT_EQ(c.find(e1, 0, 256)->definition_hash, 10u);
  EXPECT_EQ(c.find(e2, 0, 256)->definition_hash, 20u);
  EXPECT_EQ(c.find(e1, 0xffffffffu, 256)->definition_hash, 30u);
  EXPECT_EQ(c.find(e1, 0, 0xffff)->definition_hash, 40u);
  EXPECT_EQ(c.find(e2, 0xffffffffu, 256), nullptr);
  EXPECT_EQ(c.find(e1, 1, 256), nullptr);
  EXPECT_EQ(c.find(e1, 0, 257), nullptr);
}

TEST(TemplateCache, PerExporterTemplateBound) {
  TemplateCacheLimits limits;
  limits.max_templates_per_exporter = 2;
  TemplateCache c(limits);
  const uint32_t e1 = c.exporter_index(key(1));
  const uint32_t e2 = c.exporter_index(key(2));
  EXPECT_EQ(c.store(e1, 0, make_template(256, 1)), StoreResult::kAdded);
  EXPECT_EQ(c.store(e1, 1, make_template(256, 1)), StoreResult::kAdded);  // domains count too
  EXPECT_EQ(c.store(e1, 0, make_template(257, 1)), StoreResult::kLimit);
  EXPECT_EQ(c.store(e1, 0, make_template(256, 1)), StoreResult::kRefreshed);
  EXPECT_EQ(c.store(e1, 0, make_template(256, 9)), StoreResult::kReplaced);
  EXPECT_EQ(c.store(e2, 0, make_template(257, 1)), StoreResult::kAdded);
  EXPECT_TRUE(c.withdraw(e1, 1, 256));
  EXPECT_EQ(c.store(e1, 0, make_template(257, 1)), StoreResult::kAdded);
}

TEST(TemplateCache, CacheWideTemplateBound) {
  TemplateCacheLimits limits;
  limits.max_templates = 3;
  TemplateCache c(limits);
  const uint32_t e1 = c.exporter_index(key(1));
  const uint32_t e2 = c.exporter_index(key(2));
  EXPECT_EQ(c.store(e1, 0, make_template(256, 1)), StoreResult::kAdded);
  EXPECT_EQ(c.store(e1, 0, make_template(257, 1)), StoreResult::kAdded);
  EXPECT_EQ(c.store(e2, 0, make_template(256, 1)), StoreResult::kAdded);
  EXPECT_EQ(c.store(e2, 0, make_template(257, 1)), StoreResult::kLimit);
  EXPECT_EQ(c.template_count(), 3u);
  EXPECT_TRUE(c.withdraw(e1, 0, 256));
  EXPECT_EQ(c.store(e2, 0, make_template(257, 1)), StoreResult::kAdded);
}

TEST(TemplateCache, WithdrawRemovesOneTemplate) {
  TemplateCache c;
  const uint32_t e = c.exporter_index(key(1));
  ASSERT_EQ(c.store(e, 0, make_template(256, 1)), StoreResult::kAdded);
  ASSERT_EQ(c.store(e, 0, make_template(257, 1)), StoreResult::kAdded);
  EXPECT_TRUE(c.withdraw(e, 0, 256));
  EXPECT_FALSE(c.withdraw(e, 0, 256));
  EXPECT_FALSE(c.withdraw(e, 1, 257));
  EXPECT_EQ(c.find(e, 0, 256), nullptr);
  EXPECT_NE(c.find(e, 0, 257), nullptr);
  EXPECT_EQ(c.template_count(), 1u);
  EXPECT_EQ(c.exporter(e).templates, 1u);
  EXPECT_EQ(c.store(e, 0, make_template(256, 1)), StoreResult::kAdded);
}

TEST(TemplateCache, WithdrawAllRemovesOneDomainsTemplatesOfOneKind) {
  TemplateCache c;
  const uint32_t e1 = c.exporter_index(key(1));
  const uint32_t e2 = c.exporter_index(key(2));
  for (uint16_t id = 256; id < 266; ++id) {
    ASSERT_EQ(c.store(e1, 5, make_template(id, 1, id % 2 == 0)), StoreResult::kAdded);
    ASSERT_EQ(c.store(e1, 6, make_template(id, 1)), StoreResult::kAdded);
    ASSERT_EQ(c.store(e2, 5, make_template(id, 1)), StoreResult::kAdded);
  }
  EXPECT_EQ(c.withdraw_all(e1, 5, false), 5u);
  EXPECT_EQ(c.template_count(), 25u);
  for (uint16_t id = 256; id < 266; ++id) {
    EXPECT_EQ(c.find(e1, 5, id) != nullptr, id % 2 == 0) << id;
    EXPECT_NE(c.find(e1, 6, id), nullptr);
    EXPECT_NE(c.find(e2, 5, id), nullptr);
  }
  EXPECT_EQ(c.withdraw_all(e1, 5, true), 5u);
  EXPECT_EQ(c.withdraw_all(e1, 5, true), 0u);
  EXPECT_EQ(c.exporter(e1).templates, 10u);
}

TEST(TemplateCache, OpenAddressingSurvivesManyStoreAndWithdrawCycles) {
  // A small table (64 templates, 128 buckets) kept near full, so that probe chains are long and
  // backward-shift deletion runs constantly; checked against std::map after every step.
  TemplateCacheLimits limits;
  limits.max_exporters = 4;
  limits.max_templates = 64;
  limits.max_templates_per_exporter = 64;
  TemplateCache c(limits);
  uint32_t exporters[4];
  for (uint8_t i = 0; i < 4; ++i) exporters[i] = c.exporter_index(key(i));

  using Key = std::tuple<uint32_t, uint32_t, uint16_t>;
  std::map<Key, uint64_t> model;
  std::mt19937 rng(12345);
  std::vector<Key> universe;
  for (uint32_t e : exporters) {
    for (uint32_t domain : {0u, 1u, 0x80000000u}) {
      for (uint16_t id = 256; id < 270; ++id) universe.emplace_back(e, domain, id);
    }
  }
  for (int step = 0; step < 100'000; ++step) {
    const Key& k = universe[rng() % universe.size()];
    const auto [e, domain, id] = k;
    const uint32_t op = rng() % 8;
    if (op < 4) {
      const uint64_t hash = rng() % 3;
      const StoreResult r = c.store(e, domain, make_template(id, hash));
      auto it = model.find(k);
      if (it == model.end()) {
        if (model.size() == 64) {
          ASSERT_EQ(r, StoreResult::kLimit) << "step " << step;
        } else {
          ASSERT_EQ(r, StoreResult::kAdded) << "step " << step;
          model[k] = hash;
        }
      } else {
        ASSERT_EQ(r, it->second == hash ? StoreResult::kRefreshed : StoreResult::kReplaced)
            << "step " << step;
        it->second = hash;
      }
    } else if (op < 7) {
      ASSERT_EQ(c.withdraw(e, domain, id), model.erase(k) == 1) << "step " << step;
    } else {
      const uint32_t n = c.withdraw_all(e, domain, false);
      uint32_t want = 0;
      for (auto it = model.begin(); it != model.end();) {
        if (std::get<0>(it->first) == e && std::get<1>(it->first) == domain) {
          it = model.erase(it);
          ++want;
        } else {
          ++it;
        }
      }
      ASSERT_EQ(n, want) << "step " << step;
    }
    ASSERT_EQ(c.template_count(), model.size()) << "step " << step;
    if (step % 16 == 0) {
      for (const Key& u : universe) {
        const CompiledTemplate* t = c.find(std::get<0>(u), std::get<1>(u), std::get<2>(u));
        auto it = model.find(u);
        ASSERT_EQ(t != nullptr, it != model.end()) << "step " << step;
        if (t != nullptr) {
          ASSERT_EQ(t->definition_hash, it->second);
          ASSERT_EQ(t->id, std::get<2>(u));
        }
      }
    }
  }
  uint32_t per_exporter = 0;
  for (uint32_t e : exporters) per_exporter += c.exporter(e).templates;
  EXPECT_EQ(per_exporter, model.size());
}

// ---- data sets held until their template arrives ----

SetContext context(uint32_t exporter, uint32_t domain = 0, uint64_t receive_ns = 1000) {
  SetContext ctx;
  ctx.exporter = exporter;
  ctx.domain = domain;
  ctx.meta.receive_ns = receive_ns;
  ctx.type = FlowType::kNetflow9;
  return ctx;
}

std::vector<uint8_t> payload(uint32_t tag, uint32_t length) {
  std::vector<uint8_t> p(length);
  for (uint32_t i = 0; i < length; ++i) p[i] = static_cast<uint8_t>(tag * 31 + i);
  if (length >= 4) std::memcpy(p.data(), &tag, 4);
  return p;
}

// Releases the held sets of (exporter, domain, id) and returns their bodies.
std::vector<std::vector<uint8_t>> release(TemplateCache& c, uint32_t exporter, uint32_t domain,
                                          uint16_t id) {
  std::vector<std::vector<uint8_t>> out;
  c.release_pending(exporter, domain, id, [&](const PendingSet& p, const uint8_t* data) {
    out.emplace_back(data, data + p.length);
  });
  return out;
}

bool hold(TemplateCache& c, const SetContext& ctx, uint16_t id, const std::vector<uint8_t>& p,
          uint64_t& evicted) {
  return c.hold(ctx, id, p.data(), static_cast<uint32_t>(p.size()), evicted);
}

// A full exporter table does not refuse exporters for good: a new one takes the place of an
// exporter that holds nothing (its templates withdrawn or expired, no data held for it), while
// exporters with templates or held data keep theirs.
TEST(TemplateCache, ANewExporterTakesThePlaceOfOneThatHoldsNothing) {
  TemplateCacheLimits limits;
  limits.max_exporters = 3;
  TemplateCache c(limits);
  for (uint8_t i = 0; i < 3; ++i) {
    ASSERT_EQ(c.exporter_index(key(i)), i);
    ASSERT_EQ(c.store(i, 0, make_template(256, 1)), StoreResult::kAdded);
  }
  ASSERT_EQ(c.exporter_index(key(99)), TemplateCache::kNoExporter);
  // Exporter 2's template goes, but a data set is held for it: it still holds something.
  uint64_t evicted = 0;
  ASSERT_TRUE(hold(c, context(2), 300, payload(1, 40), evicted));
  ASSERT_TRUE(c.withdraw(2, 0, 256));
  EXPECT_EQ(c.exporter_index(key(99)), TemplateCache::kNoExporter);
  // Exporter 1's template goes too: it holds nothing, and the next new exporter takes index 1.
  ASSERT_TRUE(c.withdraw(1, 0, 256));
  uint64_t reclaimed = 0;
  EXPECT_EQ(c.exporter_index(key(99), &reclaimed), 1u);
  EXPECT_EQ(reclaimed, 1u);
  EXPECT_EQ(c.exporter_count(), 3u);
  EXPECT_EQ(c.exporter(1).key, key(99));
  EXPECT_EQ(c.exporter(1).templates, 0u);
  EXPECT_EQ(c.find_exporter(key(1)), TemplateCache::kNoExporter);
  EXPECT_EQ(c.find_exporter(key(99)), 1u);
  EXPECT_EQ(c.find_exporter(key(0)), 0u);
  EXPECT_EQ(c.find_exporter(key(2)), 2u);
  EXPECT_NE(c.find(0, 0, 256), nullptr) << "the others keep their templates";
  ASSERT_EQ(c.store(1, 0, make_template(256, 2)), StoreResult::kAdded);
  // Every exporter holds something again: the one that was displaced is refused.
  EXPECT_EQ(c.exporter_index(key(1), &reclaimed), TemplateCache::kNoExporter);
  EXPECT_EQ(release(c, 2, 0, 300).size(), 1u);  // its held set goes (its template arrived)
  EXPECT_EQ(c.exporter_index(key(1), &reclaimed), 2u);
  EXPECT_EQ(reclaimed, 2u);
}

TEST(TemplateCache, HeldSetsAreReleasedOldestFirstWithTheirBytes) {
  TemplateCache c;
  const uint32_t e = c.exporter_index(key(1));
  uint64_t evicted = 0;
  ASSERT_TRUE(hold(c, context(e), 256, payload(1, 40), evicted));
  ASSERT_TRUE(hold(c, context(e), 257, payload(2, 10), evicted));
  ASSERT_TRUE(hold(c, context(e), 256, payload(3, 7), evicted));
  ASSERT_TRUE(hold(c, context(e, 9), 256, payload(4, 8), evicted));
  EXPECT_EQ(c.pending_live(), 4u);
  EXPECT_EQ(c.exporter(e).pending_sets, 4u);
  EXPECT_EQ(c.exporter(e).pending_bytes, 65u);

  const auto got = release(c, e, 0, 256);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], payload(1, 40));
  EXPECT_EQ(got[1], payload(3, 7));
  EXPECT_EQ(c.pending_live(), 2u);
  EXPECT_EQ(c.exporter(e).pending_bytes, 18u);
  EXPECT_TRUE(release(c, e, 0, 256).empty());
  EXPECT_EQ(release(c, e, 9, 256), std::vector<std::vector<uint8_t>>{payload(4, 8)});
  EXPECT_EQ(release(c, e, 0, 257), std::vector<std::vector<uint8_t>>{payload(2, 10)});
  EXPECT_EQ(c.pending_live(), 0u);
  EXPECT_EQ(c.exporter(e).pending_sets, 0u);
  EXPECT_EQ(evicted, 0u);
}

TEST(TemplateCache, HeldSetsAreKeptPerExporter) {
  TemplateCache c;
  const uint32_t e1 = c.exporter_index(key(1));
  const uint32_t e2 = c.exporter_index(key(2));
  uint64_t evicted = 0;
  ASSERT_TRUE(hold(c, context(e1), 256, payload(1, 8), evicted));
  ASSERT_TRUE(hold(c, context(e2), 256, payload(2, 8), evicted));
  EXPECT_EQ(release(c, e2, 0, 256), std::vector<std::vector<uint8_t>>{payload(2, 8)});
  EXPECT_EQ(c.exporter(e1).pending_sets, 1u);
  EXPECT_EQ(release(c, e1, 0, 256), std::vector<std::vector<uint8_t>>{payload(1, 8)});
}

TEST(TemplateCache, HoldEvictsTheOldestWhenTheArenaIsFull) {
  TemplateCacheLimits limits;
  limits.pending_bytes = 100;
  TemplateCache c(limits);
  const uint32_t e1 = c.exporter_index(key(1));
  const uint32_t e2 = c.exporter_index(key(2));
  uint64_t evicted = 0;
  ASSERT_TRUE(hold(c, context(e1), 256, payload(1, 40), evicted));
  ASSERT_TRUE(hold(c, context(e2), 256, payload(2, 40), evicted));
  ASSERT_TRUE(hold(c, context(e1), 257, payload(3, 40), evicted));  // evicts set 1
  EXPECT_EQ(evicted, 1u);
  EXPECT_EQ(c.exporter(e1).pending_sets, 1u);
  EXPECT_EQ(c.exporter(e1).pending_bytes, 40u);
  EXPECT_TRUE(release(c, e1, 0, 256).empty());
  ASSERT_TRUE(hold(c, context(e1), 258, payload(4, 100), evicted));  // the whole arena
  EXPECT_EQ(evicted, 3u);
  EXPECT_EQ(c.pending_live(), 1u);
  EXPECT_EQ(release(c, e1, 0, 258), std::vector<std::vector<uint8_t>>{payload(4, 100)});
}

TEST(TemplateCache, HoldRefusesWhatCannotBeHeld) {
  TemplateCacheLimits limits;
  limits.pending_bytes = 100;
  limits.pending_bytes_per_exporter = 60;
  TemplateCache c(limits);
  const uint32_t e = c.exporter_index(key(1));
  uint64_t evicted = 0;
  EXPECT_FALSE(hold(c, context(e), 256, payload(1, 0), evicted));    // nothing to hold
  EXPECT_FALSE(hold(c, context(e), 256, payload(1, 101), evicted));  // larger than the arena
  EXPECT_FALSE(hold(c, context(e), 256, payload(1, 61), evicted));   // over the exporter bound
  ASSERT_TRUE(hold(c, context(e), 256, payload(1, 60), evicted));
  EXPECT_FALSE(hold(c, context(e), 256, payload(2, 1), evicted));
  EXPECT_EQ(evicted, 0u);
  EXPECT_EQ(c.pending_live(), 1u);
}

TEST(TemplateCache, HoldEvictsTheOldestWhenTheSetTableIsFull) {
  TemplateCacheLimits limits;
  limits.max_pending_sets = 3;
  TemplateCache c(limits);
  const uint32_t e = c.exporter_index(key(1));
  uint64_t evicted = 0;
  for (uint32_t i = 0; i < 5; ++i) ASSERT_TRUE(hold(c, context(e), 256, payload(i, 4), evicted));
  EXPECT_EQ(evicted, 2u);
  const auto got = release(c, e, 0, 256);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], payload(2, 4));
  EXPECT_EQ(got[2], payload(4, 4));
}

TEST(TemplateCache, ExpirePendingDropsSetsOlderThanTheTtl) {
  TemplateCacheLimits limits;
  limits.pending_ttl_ns = 100;
  TemplateCache c(limits);
  const uint32_t e = c.exporter_index(key(1));
  uint64_t evicted = 0;
  ASSERT_TRUE(hold(c, context(e, 0, 1000), 256, payload(1, 8), evicted));
  ASSERT_TRUE(hold(c, context(e, 0, 1050), 257, payload(2, 8), evicted));
  ASSERT_TRUE(hold(c, context(e, 0, 1100), 256, payload(3, 8), evicted));
  EXPECT_EQ(c.expire_pending(1099), 0u);
  EXPECT_EQ(c.expire_pending(1100), 1u);
  EXPECT_EQ(c.expire_pending(1100), 0u);
  // A set released earlier is not counted when the TTL passes over it.
  EXPECT_EQ(release(c, e, 0, 257).size(), 1u);
  EXPECT_EQ(c.expire_pending(1'000'000), 1u);
  EXPECT_EQ(c.pending_live(), 0u);
  EXPECT_EQ(c.exporter(e).pending_bytes, 0u);
  EXPECT_EQ(c.exporter(e).pending_sets, 0u);
  // The arena is reusable in full afterwards.
  ASSERT_TRUE(hold(c, context(e, 0, 2000), 256, payload(4, 8), evicted));
  EXPECT_EQ(evicted, 0u);
}

TEST(TemplateCache, ArenaWrapAroundKeepsEveryHeldSetIntact) {
  // Random holds, releases and expiries over a small arena: every set that comes back must
  // come back byte for byte, and every held set is accounted for exactly once.
  TemplateCacheLimits limits;
  limits.pending_bytes = 1000;
  limits.pending_bytes_per_exporter = 700;
  limits.max_pending_sets = 16;
  limits.pending_ttl_ns = 500;
  TemplateCache c(limits);
  uint32_t exporters[3];
  for (uint8_t i = 0; i < 3; ++i) exporters[i] = c.exporter_index(key(i));

  std::mt19937 rng(777);
  uint64_t now = 10'000;
  uint64_t held = 0, refused = 0, evicted = 0, released = 0, expired = 0;
  std::map<uint32_t, std::vector<uint8_t>> live;  // by tag
  for (uint32_t tag = 1; tag < 50'000; ++tag) {
    now += rng() % 100;
    const uint32_t e = exporters[rng() % 3];
    const uint16_t id = static_cast<uint16_t>(256 + rng() % 4);
    const uint32_t op = rng() % 10;
    if (op < 6) {
      const std::vector<uint8_t> p = payload(tag, 4 + rng() % 300);
      uint64_t ev = 0;
      if (hold(c, context(e, 0, now), id, p, ev)) {
        ++held;
        live[tag] = p;
      } else {
        ++refused;
      }
      evicted += ev;
    } else if (op < 9) {
      c.release_pending(e, 0, id, [&](const PendingSet& s, const uint8_t* data) {
        uint32_t t;
        std::memcpy(&t, data, 4);
        auto it = live.find(t);
        ASSERT_NE(it, live.end()) << "released a set twice or one never held";
        ASSERT_EQ(std::vector<uint8_t>(data, data + s.length), it->second) << "tag " << t;
        ASSERT_EQ(s.template_id, id);
        ASSERT_EQ(s.ctx.exporter, e);
        live.erase(it);
        ++released;
      });
    } else {
      expired += c.expire_pending(now);
    }
    ASSERT_EQ(c.pending_live(), held - evicted - released - expired) << "tag " << tag;
    uint64_t bytes = 0, sets = 0;
    for (uint32_t x : exporters) {
      bytes += c.exporter(x).pending_bytes;
      sets += c.exporter(x).pending_sets;
      ASSERT_LE(c.exporter(x).pending_bytes, limits.pending_bytes_per_exporter);
    }
    ASSERT_EQ(sets, c.pending_live());
    ASSERT_LE(bytes, limits.pending_bytes);
  }
  EXPECT_GT(released, 1000u);
  EXPECT_GT(evicted, 100u);
  EXPECT_GT(expired, 10u);
  EXPECT_GT(refused, 10u);
}

// ---- per-exporter state learned from options data ----

TEST(ExporterState, DomainsAreBounded) {
  ExporterState s;
  for (uint32_t d = 0; d < ExporterState::kMaxDomains; ++d) ASSERT_NE(s.domain(d), nullptr);
  EXPECT_EQ(s.domain(ExporterState::kMaxDomains), nullptr);
  EXPECT_EQ(s.domain(3), s.domain(3));
  EXPECT_EQ(s.find_domain(3)->domain, 3u);
  EXPECT_EQ(s.find_domain(1000), nullptr);
}

TEST(ExporterState, SamplersAreKeyedByDomainAndIdAndBounded) {
  ExporterState s;
  EXPECT_TRUE(s.set_sampler(1, 7, 100));
  EXPECT_TRUE(s.set_sampler(2, 7, 200));
  EXPECT_EQ(s.sampler_rate(1, 7), 100u);
  EXPECT_EQ(s.sampler_rate(2, 7), 200u);
  EXPECT_EQ(s.sampler_rate(1, 8), 0u);
  EXPECT_TRUE(s.set_sampler(1, 7, 150));
  EXPECT_EQ(s.sampler_rate(1, 7), 150u);
  for (uint64_t id = 100; s.sampler_count < ExporterState::kMaxSamplers; ++id) {
    ASSERT_TRUE(s.set_sampler(0, id, 1));
  }
  EXPECT_FALSE(s.set_sampler(0, 9999, 1));
  EXPECT_TRUE(s.set_sampler(1, 7, 160));  // known samplers still update
}

}  // namespace
}  // namespace flowgate
