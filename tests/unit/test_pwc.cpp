// Unit tests of models::Pwc (paging-structure caches and EPT walk cache) and
// its config reader.
#include <gtest/gtest.h>

#include <string>

#include "models/pwc.hpp"
#include "models/tlb.hpp"  // TlbContext: the context key the caches take
#include "sim/config.hpp"
#include "sim/error.hpp"
#include "sim/hash.hpp"  // mix64: the set index of a (key, context) pair
#include "sim/stats.hpp"

namespace vmxsim::models {
namespace {

constexpr Addr k2M = Addr{1} << 21;
constexpr Addr k1G = Addr{1} << 30;
constexpr Addr k512G = Addr{1} << 39;
constexpr Addr k256T = Addr{1} << 48;

constexpr std::uint64_t ctx(std::uint16_t vpid, std::uint16_t pcid = 0, std::uint16_t ept = 0) {
  return TlbContext{vpid, pcid, ept}.key();
}

PwcGuestEntry entry(Addr next, std::uint8_t rights = 3) {
  PwcGuestEntry e;
  e.next_table_gpa = next;
  e.rights = rights;
  return e;
}

constexpr Addr kGva = 0x00007f1234567000;  // a user address, 4-level canonical
constexpr unsigned kLevels[] = {5, 4, 3, 2};

// Fully associative and big enough that nothing is evicted in tests that do not mean to.
PwcParams roomy() {
  PwcParams p;
  p.pml5e = p.pml4e = p.pdpte = p.pde = p.ept = PwcCacheParams{64, 64};  // one set
  return p;
}

// ---- hits and misses ------------------------------------------------------------

TEST(PwcTest, HitAndMissAtEachGuestLevel) {
  Pwc pwc(PwcParams{});
  Stats s;
  pwc.register_stats(s, "pwc");
  for (unsigned level : kLevels) {
    EXPECT_EQ(pwc.lookup_guest(level, ctx(1), kGva), nullptr) << level;
    pwc.fill_guest(level, ctx(1), kGva, entry(0x1000 * level, std::uint8_t(level)));
  }
  for (unsigned level : kLevels) {
    const PwcGuestEntry* e = pwc.lookup_guest(level, ctx(1), kGva);
    ASSERT_NE(e, nullptr) << level;
    EXPECT_EQ(e->next_table_gpa, 0x1000 * level);
    EXPECT_EQ(e->rights, level);
  }
  for (const char* name : {"pml5e", "pml4e", "pdpte", "pde"}) {
    EXPECT_EQ(s.get(std::string("pwc.") + name + ".hits"), 1) << name;
    EXPECT_EQ(s.get(std::string("pwc.") + name + ".misses"), 1) << name;
  }
  EXPECT_EQ(s.get("pwc.ept.hits"), 0);
  EXPECT_EQ(s.get("pwc.ept.misses"), 0);
}

TEST(PwcTest, LevelsAreSeparateCaches) {
  Pwc pwc(PwcParams{});
  pwc.fill_guest(2, ctx(1), kGva, entry(0x2000));
  EXPECT_EQ(pwc.lookup_guest(3, ctx(1), kGva), nullptr);
  EXPECT_EQ(pwc.lookup_guest(4, ctx(1), kGva), nullptr);
  EXPECT_EQ(pwc.lookup_guest(5, ctx(1), kGva), nullptr);
  EXPECT_NE(pwc.lookup_guest(2, ctx(1), kGva), nullptr);
}

TEST(PwcTest, ContextIsolation) {
  Pwc pwc(roomy());
  const std::uint64_t mine = ctx(1, 2, 3);
  for (unsigned level : kLevels) pwc.fill_guest(level, mine, kGva, entry(0x5000));
  for (unsigned level : kLevels) {
    EXPECT_NE(pwc.lookup_guest(level, mine, kGva), nullptr) << level;
    EXPECT_EQ(pwc.lookup_guest(level, ctx(9, 2, 3), kGva), nullptr) << "other vpid " << level;
    EXPECT_EQ(pwc.lookup_guest(level, ctx(1, 7, 3), kGva), nullptr) << "other pcid " << level;
    EXPECT_EQ(pwc.lookup_guest(level, ctx(1, 2, 4), kGva), nullptr) << "other ept " << level;
  }
  // The same address in two contexts holds two entries.
  pwc.fill_guest(2, ctx(9, 2, 3), kGva, entry(0x9000));
  EXPECT_EQ(pwc.lookup_guest(2, mine, kGva)->next_table_gpa, 0x5000u);
  EXPECT_EQ(pwc.lookup_guest(2, ctx(9, 2, 3), kGva)->next_table_gpa, 0x9000u);
}

TEST(PwcTest, KeyGranularity) {
  Pwc pwc(roomy());
  const Addr base = 5 * k512G + 7 * k1G + 3 * k2M;  // inside one 2 MiB region
  for (unsigned level : kLevels) pwc.fill_guest(level, ctx(1), base, entry(level));

  // PDE cache: one entry per 2 MiB region.
  EXPECT_NE(pwc.lookup_guest(2, ctx(1), base + k2M - 8), nullptr);
  EXPECT_EQ(pwc.lookup_guest(2, ctx(1), base + k2M), nullptr);
  EXPECT_EQ(pwc.lookup_guest(2, ctx(1), base - 8), nullptr);
  // PDPTE cache: one per 1 GiB region.
  const Addr gib = base & ~(k1G - 1);
  EXPECT_NE(pwc.lookup_guest(3, ctx(1), gib), nullptr);
  EXPECT_NE(pwc.lookup_guest(3, ctx(1), gib + k1G - 8), nullptr);
  EXPECT_EQ(pwc.lookup_guest(3, ctx(1), gib + k1G), nullptr);
  // PML4E cache: one per 512 GiB; PML5E: one per 256 TiB.
  const Addr g512 = base & ~(k512G - 1);
  EXPECT_NE(pwc.lookup_guest(4, ctx(1), g512 + k512G - 8), nullptr);
  EXPECT_EQ(pwc.lookup_guest(4, ctx(1), g512 + k512G), nullptr);
  EXPECT_NE(pwc.lookup_guest(5, ctx(1), k256T - 8), nullptr);
  EXPECT_EQ(pwc.lookup_guest(5, ctx(1), k256T), nullptr);
  // Upper bits count too: a kernel address is another region at every level.
  const Addr kernel = base | 0xffff800000000000ULL;
  for (unsigned level : kLevels) EXPECT_EQ(pwc.lookup_guest(level, ctx(1), kernel), nullptr);
}

TEST(PwcTest, LruWithinACache) {
  PwcParams p;
  p.pml4e = {4, 4};  // one set
  Pwc pwc(p);
  for (unsigned i = 0; i < 4; ++i) pwc.fill_guest(4, ctx(1), i * k512G, entry(i));
  ASSERT_NE(pwc.lookup_guest(4, ctx(1), 0), nullptr);  // region 0 most recent
  pwc.fill_guest(4, ctx(1), 4 * k512G, entry(4));      // evicts region 1
  EXPECT_EQ(pwc.lookup_guest(4, ctx(1), 1 * k512G), nullptr);
  EXPECT_NE(pwc.lookup_guest(4, ctx(1), 0), nullptr);
  EXPECT_NE(pwc.lookup_guest(4, ctx(1), 4 * k512G), nullptr);
}

TEST(PwcTest, FifoWithinACache) {
  PwcParams p;
  p.pml4e = {4, 4, "fifo"};  // one set
  Pwc pwc(p);
  for (unsigned i = 0; i < 4; ++i) pwc.fill_guest(4, ctx(1), i * k512G, entry(i));
  ASSERT_NE(pwc.lookup_guest(4, ctx(1), 0), nullptr);  // a hit does not save region 0
  pwc.fill_guest(4, ctx(1), 4 * k512G, entry(4));
  EXPECT_EQ(pwc.lookup_guest(4, ctx(1), 0), nullptr);
  EXPECT_NE(pwc.lookup_guest(4, ctx(1), 1 * k512G), nullptr);
}

/// Hits of a PDE cache under random replacement over a cyclic overflow.
std::uint64_t random_pde_hits(std::uint64_t seed) {
  PwcParams p;
  p.pde = {4, 4, "random"};  // one set
  p.seed = seed;
  Pwc pwc(p);
  Stats s;
  pwc.register_stats(s, "pwc");
  for (unsigned r = 0; r < 50; ++r)
    for (unsigned i = 0; i < 6; ++i)
      if (!pwc.lookup_guest(2, ctx(1), i * k2M)) pwc.fill_guest(2, ctx(1), i * k2M, entry(i));
  return std::uint64_t(s.get("pwc.pde.hits"));
}

TEST(PwcTest, RandomReplacementUsesTheSeed) {
  EXPECT_GT(random_pde_hits(3), 0u);  // LRU would never hit here
  EXPECT_EQ(random_pde_hits(3), random_pde_hits(3));
  bool differs = false;
  for (std::uint64_t s = 4; s < 12 && !differs; ++s) differs = random_pde_hits(s) != random_pde_hits(3);
  EXPECT_TRUE(differs);
}

TEST(PwcTest, FillReplacesTheSameKey) {
  Pwc pwc(PwcParams{});
  pwc.fill_guest(2, ctx(1), kGva, entry(0x1000, 3));
  pwc.fill_guest(2, ctx(1), kGva + 0x1000, entry(0x2000, 1));  // same 2 MiB region
  const PwcGuestEntry* e = pwc.lookup_guest(2, ctx(1), kGva);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->next_table_gpa, 0x2000u);
  EXPECT_EQ(e->rights, 1);
}

// White-box: the set of (prefix, ctx) is picked by prefix ^ mix64(ctx) (pwc.hpp).
// Build two keys with the same such index (so the same set in every geometry)
// and check that neither is ever returned for the other: the tag compared
// is the full pair.
TEST(PwcTest, TagCollisionNeverGivesAWrongEntry) {
  const std::uint64_t c1 = ctx(1);
  constexpr unsigned kPdeShift = 21;
  constexpr std::uint64_t kPrefixLimit = std::uint64_t{1} << (64 - kPdeShift);
  std::uint64_t c2 = 0, d = 0;
  for (std::uint32_t i = 1; i != 0; ++i) {  // vpid and pcid of the other context
    c2 = ctx(std::uint16_t(i), std::uint16_t(i >> 16));
    d = mix64(c1) ^ mix64(c2);
    if (c2 != c1 && d < kPrefixLimit) break;
  }
  ASSERT_LT(d, kPrefixLimit) << "no colliding context found";
  const std::uint64_t p1 = 0x123;
  const std::uint64_t p2 = p1 ^ d;
  ASSERT_NE(p1, p2);
  ASSERT_EQ(p1 ^ mix64(c1), p2 ^ mix64(c2));  // one set
  const Addr gva1 = p1 << kPdeShift, gva2 = p2 << kPdeShift;

  Pwc pwc(PwcParams{});
  pwc.fill_guest(2, c1, gva1, entry(0x1000));
  EXPECT_EQ(pwc.lookup_guest(2, c2, gva2), nullptr);
  EXPECT_NE(pwc.lookup_guest(2, c1, gva1), nullptr);
  pwc.fill_guest(2, c2, gva2, entry(0x2000));
  const PwcGuestEntry* e2 = pwc.lookup_guest(2, c2, gva2);
  ASSERT_NE(e2, nullptr);
  EXPECT_EQ(e2->next_table_gpa, 0x2000u);
  const PwcGuestEntry* e1 = pwc.lookup_guest(2, c1, gva1);
  ASSERT_NE(e1, nullptr);  // two ways of one set: both are held
  EXPECT_EQ(e1->next_table_gpa, 0x1000u);
}

TEST(PwcTest, BadGuestLevelThrows) {
  Pwc pwc(PwcParams{});
  EXPECT_THROW(pwc.lookup_guest(1, ctx(1), kGva), Error);
  EXPECT_THROW(pwc.lookup_guest(6, ctx(1), kGva), Error);
  EXPECT_THROW(pwc.fill_guest(0, ctx(1), kGva, entry(0)), Error);
}

// ---- EPT walk cache ---------------------------------------------------------------

TEST(PwcTest, EptCacheByContextAndPage) {
  Pwc pwc(PwcParams{});
  Stats s;
  pwc.register_stats(s, "pwc");
  Addr hpa = 0;
  EXPECT_FALSE(pwc.lookup_ept(1, 0x5123, hpa));
  pwc.fill_ept(1, 0x5123, 0xabc000);
  EXPECT_TRUE(pwc.lookup_ept(1, 0x5000, hpa));
  EXPECT_EQ(hpa, 0xabc000u);
  EXPECT_TRUE(pwc.lookup_ept(1, 0x5ff8, hpa));  // any entry of the same table page
  EXPECT_FALSE(pwc.lookup_ept(1, 0x6000, hpa));
  EXPECT_FALSE(pwc.lookup_ept(2, 0x5000, hpa));  // other EPT context
  pwc.fill_ept(2, 0x5000, 0xdef000);
  EXPECT_TRUE(pwc.lookup_ept(2, 0x5000, hpa));
  EXPECT_EQ(hpa, 0xdef000u);
  EXPECT_TRUE(pwc.lookup_ept(1, 0x5000, hpa));
  EXPECT_EQ(hpa, 0xabc000u);
  EXPECT_EQ(s.get("pwc.ept.hits"), 4);
  EXPECT_EQ(s.get("pwc.ept.misses"), 3);
}

// ---- invalidation -------------------------------------------------------------------

TEST(PwcTest, InvalidateVpidDropsThatVpidOnly) {
  Pwc pwc(roomy());
  for (unsigned level : kLevels) {
    pwc.fill_guest(level, ctx(1, 0, 0), kGva, entry(1));
    pwc.fill_guest(level, ctx(1, 5, 2), kGva, entry(2));  // same VPID, other PCID/EPT
    pwc.fill_guest(level, ctx(2, 0, 0), kGva, entry(3));
  }
  pwc.fill_ept(0, 0x5000, 0xabc000);
  pwc.invalidate_vpid(1);
  for (unsigned level : kLevels) {
    EXPECT_EQ(pwc.lookup_guest(level, ctx(1, 0, 0), kGva), nullptr) << level;
    EXPECT_EQ(pwc.lookup_guest(level, ctx(1, 5, 2), kGva), nullptr) << level;
    EXPECT_NE(pwc.lookup_guest(level, ctx(2, 0, 0), kGva), nullptr) << level;
  }
  Addr hpa = 0;
  EXPECT_TRUE(pwc.lookup_ept(0, 0x5000, hpa));  // INVVPID leaves guest-physical mappings
}

TEST(PwcTest, InvalidateAddrDropsTheAddressesEntriesAtEveryLevel) {
  Pwc pwc(roomy());
  const Addr other2m = kGva + k2M;      // same 1 GiB, other 2 MiB region
  const Addr other512g = kGva ^ k512G;  // another PML4E region
  for (unsigned level : kLevels) {
    pwc.fill_guest(level, ctx(1, 0), kGva, entry(1));
    pwc.fill_guest(level, ctx(1, 4), kGva, entry(2));  // other PCID, same VPID
    pwc.fill_guest(level, ctx(2, 0), kGva, entry(3));  // other VPID
  }
  pwc.fill_guest(2, ctx(1, 0), other2m, entry(4));
  pwc.fill_guest(4, ctx(1, 0), other512g, entry(5));
  pwc.fill_guest(3, ctx(1, 0), other512g, entry(6));
  pwc.fill_ept(0, 0x5000, 0xabc000);

  pwc.invalidate_addr(1, kGva + 0x10);
  for (unsigned level : kLevels) {
    EXPECT_EQ(pwc.lookup_guest(level, ctx(1, 0), kGva), nullptr) << level;
    EXPECT_EQ(pwc.lookup_guest(level, ctx(1, 4), kGva), nullptr) << level;
    EXPECT_NE(pwc.lookup_guest(level, ctx(2, 0), kGva), nullptr) << level;
  }
  // Entries whose region does not contain the address stay.
  EXPECT_NE(pwc.lookup_guest(2, ctx(1, 0), other2m), nullptr);
  EXPECT_NE(pwc.lookup_guest(4, ctx(1, 0), other512g), nullptr);
  EXPECT_NE(pwc.lookup_guest(3, ctx(1, 0), other512g), nullptr);
  Addr hpa = 0;
  EXPECT_TRUE(pwc.lookup_ept(0, 0x5000, hpa));
}

TEST(PwcTest, InvalidateEptDropsThatContextsEntries) {
  Pwc pwc(roomy());
  pwc.fill_ept(1, 0x5000, 0xa000);
  pwc.fill_ept(1, 0x6000, 0xb000);
  pwc.fill_ept(2, 0x5000, 0xc000);
  pwc.fill_guest(2, ctx(1, 0, 1), kGva, entry(1));
  pwc.fill_guest(2, ctx(1, 0, 2), kGva, entry(2));
  pwc.invalidate_ept(1);
  Addr hpa = 0;
  EXPECT_FALSE(pwc.lookup_ept(1, 0x5000, hpa));
  EXPECT_FALSE(pwc.lookup_ept(1, 0x6000, hpa));
  EXPECT_TRUE(pwc.lookup_ept(2, 0x5000, hpa));
  EXPECT_EQ(hpa, 0xc000u);
  // Combined guest entries of EPT context 1 go too (SDM §28.3.3.1); context 2's stay.
  EXPECT_EQ(pwc.lookup_guest(2, ctx(1, 0, 1), kGva), nullptr);
  EXPECT_NE(pwc.lookup_guest(2, ctx(1, 0, 2), kGva), nullptr);
}

TEST(PwcTest, InvalidateAllDropsEverything) {
  Pwc pwc(roomy());
  for (unsigned level : kLevels) pwc.fill_guest(level, ctx(1), kGva, entry(1));
  pwc.fill_ept(1, 0x5000, 0xa000);
  pwc.invalidate_all();
  for (unsigned level : kLevels) EXPECT_EQ(pwc.lookup_guest(level, ctx(1), kGva), nullptr);
  Addr hpa = 0;
  EXPECT_FALSE(pwc.lookup_ept(1, 0x5000, hpa));
  // And they fill again afterwards.
  pwc.fill_guest(2, ctx(1), kGva, entry(7));
  EXPECT_NE(pwc.lookup_guest(2, ctx(1), kGva), nullptr);
}

// ---- disabled caches ------------------------------------------------------------------

TEST(PwcTest, DisabledCachesAlwaysMiss) {
  PwcParams p;
  p.pde = {0, 4};
  p.ept = {0, 1};
  Pwc pwc(p);
  Stats s;
  pwc.register_stats(s, "pwc");
  pwc.fill_guest(2, ctx(1), kGva, entry(1));
  EXPECT_EQ(pwc.lookup_guest(2, ctx(1), kGva), nullptr);
  pwc.fill_ept(1, 0x5000, 0xa000);
  Addr hpa = 0x1234;
  EXPECT_FALSE(pwc.lookup_ept(1, 0x5000, hpa));
  EXPECT_EQ(hpa, 0x1234u);  // untouched on a miss
  EXPECT_EQ(s.get("pwc.pde.misses"), 1);
  EXPECT_EQ(s.get("pwc.ept.misses"), 1);
  // The other caches still work.
  pwc.fill_guest(3, ctx(1), kGva, entry(1));
  EXPECT_NE(pwc.lookup_guest(3, ctx(1), kGva), nullptr);
  pwc.invalidate_all();  // harmless on a disabled cache
}

TEST(PwcTest, BadGeometryInCodeThrowsNamingTheCache) {
  PwcParams p;
  p.pdpte = {6, 4};
  try {
    Pwc pwc(p);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "pwc.pdpte: entries 6 is not a multiple of ways (4)");
  }
  p = PwcParams{};
  p.ept.ways = 0;
  EXPECT_THROW(Pwc{p}, Error);
}

// ---- configuration ------------------------------------------------------------------------

PwcParams read_pwc(ConfigTracker& t) {
  Cfg root(t);
  return PwcParams::from(root.section("pwc"));
}

std::string read_pwc_error(const char* doc) {
  ConfigTracker t(json::parse(doc), "c.json");
  try {
    read_pwc(t);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(PwcConfigTest, Defaults) {
  ConfigTracker t(json::object(), "c.json");
  const PwcParams p = read_pwc(t);
  const PwcParams d;
  EXPECT_EQ(p.pml5e.entries, d.pml5e.entries);
  EXPECT_EQ(p.pml5e.ways, d.pml5e.ways);
  EXPECT_EQ(p.pml4e.entries, d.pml4e.entries);
  EXPECT_EQ(p.pdpte.entries, d.pdpte.entries);
  EXPECT_EQ(p.pde.entries, 32u);
  EXPECT_EQ(p.pde.ways, 4u);
  EXPECT_EQ(p.ept.entries, 16u);
  EXPECT_EQ(p.ept.ways, 4u);
  const json& eff = t.effective()["pwc"];
  for (const char* name : {"pml5e", "pml4e", "pdpte", "pde", "ept"}) {
    EXPECT_TRUE(eff[name].contains("entries")) << name;
    EXPECT_TRUE(eff[name].contains("ways")) << name;
    EXPECT_EQ(eff[name]["replacement"], "lru") << name;
  }
  for (const PwcCacheParams* c : {&p.pml5e, &p.pml4e, &p.pdpte, &p.pde, &p.ept}) EXPECT_EQ(c->replacement.name, "lru");
}

TEST(PwcConfigTest, Overrides) {
  ConfigTracker t(json::parse(R"({"pwc": {"pde": {"entries": 64, "ways": 8},
                                          "ept": {"replacement": "fifo"},
                                          "pml5e": {"entries": 0}}})"),
                  "c.json");
  const PwcParams p = read_pwc(t);
  EXPECT_NO_THROW(t.check_unknown());
  EXPECT_EQ(p.pde.entries, 64u);
  EXPECT_EQ(p.pde.ways, 8u);
  EXPECT_EQ(p.pml5e.entries, 0u);
  EXPECT_EQ(p.pml5e.ways, PwcParams{}.pml5e.ways);
  EXPECT_EQ(p.pdpte.entries, PwcParams{}.pdpte.entries);
  EXPECT_EQ(p.ept.replacement.name, "fifo");
  EXPECT_EQ(p.pde.replacement.name, "lru");
  Pwc pwc(p);
  pwc.fill_guest(5, ctx(1), kGva, entry(1));
  EXPECT_EQ(pwc.lookup_guest(5, ctx(1), kGva), nullptr);
}

TEST(PwcConfigTest, ErrorsNameTheKeyPath) {
  std::string e = read_pwc_error(R"({"pwc": {"pde": {"ways": 0}}})");
  EXPECT_NE(e.find("c.json: pwc.pde.ways"), std::string::npos) << e;

  e = read_pwc_error(R"({"pwc": {"pdpte": {"entries": 6, "ways": 4}}})");
  EXPECT_NE(e.find("pwc.pdpte.entries"), std::string::npos) << e;
  EXPECT_NE(e.find("multiple"), std::string::npos) << e;

  e = read_pwc_error(R"({"pwc": {"ept": {"entries": 8589934592, "ways": 1}}})");
  EXPECT_NE(e.find("pwc.ept.entries"), std::string::npos) << e;

  e = read_pwc_error(R"({"pwc": {"pde": {"replacement": "plru"}}})");
  EXPECT_NE(e.find("c.json: pwc.pde.replacement"), std::string::npos) << e;

  e = read_pwc_error(R"({"pwc": {"pml4e": {"entries": "four"}}})");
  EXPECT_NE(e.find("pwc.pml4e.entries"), std::string::npos) << e;

  ConfigTracker t(json::parse(R"({"pwc": {"pte": {"entries": 4}}})"), "c.json");
  read_pwc(t);
  try {
    t.check_unknown();
    FAIL() << "expected an unknown-key error";
  } catch (const ConfigError& err) {
    EXPECT_NE(std::string(err.what()).find("pwc.pte"), std::string::npos) << err.what();
  }
}

}  // namespace
}  // namespace vmxsim::models
