// Unit tests of models::Geometry, models::SetAssoc (the one set-associative
// engine), models::CacheLevel, models::MemHierarchy and its config reader.
#include <gtest/gtest.h>

#include <cctype>
#include <ostream>
#include <set>
#include <string>

#include "models/geometry.hpp"
#include "models/mem_hierarchy.hpp"
#include "models/replacement.hpp"
#include "models/set_assoc.hpp"
#include "sim/config.hpp"
#include "sim/stats.hpp"

namespace vmxsim::models {
namespace {

/// A registered name as a test name (letters, digits and underscores only).
std::string test_name(std::string n) {
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

// ---- Geometry: the one rule of every array -----------------------------------

TEST(GeometryTest, AcceptsWholeSetsAndZero) {
  EXPECT_FALSE(check_geometry(64, 4));
  EXPECT_FALSE(check_geometry(12, 4));  // 3 sets: not a power of two, still whole sets
  EXPECT_FALSE(check_geometry(0, 4));   // disabled
  EXPECT_FALSE(check_geometry(32768, 8, 64));
  const Geometry g = checked_geometry("x", "entries", 12, 4);
  EXPECT_EQ(g.entries, 12u);
  EXPECT_EQ(g.ways, 4u);
  EXPECT_EQ(g.sets(), 3u);
  EXPECT_EQ(checked_geometry("x", "size_bytes", 32768, 8, 64).entries, 512u);  // lines
}

TEST(GeometryTest, ProblemsNameTheFieldAndSayWhy) {
  GeometryProblem p = check_geometry(64, 0);
  EXPECT_EQ(p.field, GeometryProblem::kWays);
  EXPECT_EQ(p.message, "must be at least 1");
  p = check_geometry(0, 0);  // a disabled array still needs a valid way count
  EXPECT_EQ(p.field, GeometryProblem::kWays);
  p = check_geometry(60, 8);
  EXPECT_EQ(p.field, GeometryProblem::kSize);
  EXPECT_EQ(p.message, "60 is not a multiple of ways (8)");
  p = check_geometry(1000, 4, 64);
  EXPECT_EQ(p.field, GeometryProblem::kSize);
  EXPECT_EQ(p.message, "1000 is not a multiple of 64 * ways (256)");
  p = check_geometry(std::uint64_t{1} << 33, 1);
  EXPECT_EQ(p.field, GeometryProblem::kSize);
  EXPECT_EQ(p.message, "too large: 8589934592");
  p = check_geometry(0, std::uint64_t{1} << 33);
  EXPECT_EQ(p.field, GeometryProblem::kWays);
  EXPECT_EQ(p.message, "too large: 8589934592");
}

TEST(GeometryTest, CheckedGeometryThrowsNamingTheArrayAndKey) {
  try {
    checked_geometry("pwc.pde", "entries", 6, 4);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "pwc.pde: entries 6 is not a multiple of ways (4)");
  }
  try {
    checked_geometry("mem.l2", "size_bytes", 64, 0, 64);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "mem.l2: ways must be at least 1");
  }
}

TEST(GeometryTest, ConfigReadersFailAtTheKeyPath) {
  ConfigTracker t(json::object(), "c.json");
  const Cfg c = Cfg(t).section("a").section("b");
  try {
    geometry_from(c, "size_bytes", 1000, 4, 64);
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "c.json: a.b.size_bytes: 1000 is not a multiple of 64 * ways (256)");
  }
  try {
    geometry_from(c, "entries", 8, 0);
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "c.json: a.b.ways: must be at least 1");
  }
  EXPECT_EQ(geometry_from(c, "entries", 8, 2).entries, 8u);
}

// ---- SetAssoc: the one set-associative engine -------------------------------------

/// An array keyed by a 64-bit tag that also picks the set (as the PWC and
/// the cache levels use it).
template <std::uint32_t kLimit = UINT32_MAX>
struct Keyed {
  SetAssoc<std::uint64_t, int, kLimit> c;
  Keyed(std::uint32_t entries, std::uint32_t ways, const std::string& policy = "lru", std::uint64_t seed = 1)
      : c(Geometry{entries, ways}, policy, seed) {}
  int* lookup(std::uint64_t t) { return c.lookup(t, t); }
  void insert(std::uint64_t t, int v) { c.insert(t, t, v); }
  bool access(std::uint64_t t) { return c.access(t, t); }
};

TEST(SetAssocTest, TagZeroIsAnOrdinaryTag) {
  Keyed<> k(4, 4);
  EXPECT_EQ(k.lookup(0), nullptr);  // empty: free ways never match, tag 0 included
  k.insert(0, 7);
  ASSERT_NE(k.lookup(0), nullptr);
  EXPECT_EQ(*k.lookup(0), 7);
  EXPECT_EQ(k.c.occupancy(), 1u);
}

TEST(SetAssocTest, InsertReplacesAnExistingTag) {
  Keyed<> k(4, 4);
  k.insert(5, 1);
  const auto f = k.c.insert(5, 5, 2);
  EXPECT_TRUE(f.done);
  EXPECT_TRUE(f.replaced);
  EXPECT_FALSE(f.evicted);
  EXPECT_EQ(*k.lookup(5), 2);
  EXPECT_EQ(k.c.occupancy(), 1u);
  EXPECT_EQ(k.c.evictions, 0u);
}

TEST(SetAssocTest, EvictsTheLeastRecentlyUsed) {
  Keyed<> k(4, 4);  // one set
  for (int t = 0; t < 4; ++t) k.insert(std::uint64_t(t), t);
  ASSERT_NE(k.lookup(0), nullptr);  // 0 becomes most recent; 1 is now the LRU
  const auto f = k.c.insert(4, 4, 4);
  EXPECT_TRUE(f.evicted);
  EXPECT_EQ(f.evicted_tag, 1u);
  EXPECT_EQ(k.c.evictions, 1u);
  EXPECT_EQ(k.lookup(1), nullptr);
  EXPECT_NE(k.lookup(0), nullptr);
  EXPECT_NE(k.lookup(2), nullptr);
  EXPECT_NE(k.lookup(4), nullptr);
  // Replacing in place refreshes recency too: 3 was the LRU; after this, 0 is.
  k.insert(3, 30);
  k.insert(5, 5);
  EXPECT_EQ(k.lookup(0), nullptr);
  EXPECT_EQ(*k.lookup(3), 30);
}

TEST(SetAssocTest, CallerPicksTheIndexApartFromTheTag) {
  SetAssoc<std::uint64_t, int> c(Geometry{8, 2}, "lru", 1);  // 4 sets
  c.insert(3, 100, 1);
  EXPECT_EQ(c.lookup(100, 100), nullptr);  // set 0: not where it was put
  ASSERT_NE(c.lookup(3, 100), nullptr);
  EXPECT_EQ(c.set_of(6), 2u);  // a mask: 4 sets
}

TEST(SetAssocTest, SetIndexIsModuloSets) {
  Keyed<> k(6, 2);  // 3 sets: not a power of two
  EXPECT_EQ(k.c.sets(), 3u);
  // Tags 0, 3, 6 share set 0; 1 sits in set 1 and survives their traffic.
  k.insert(1, 1);
  k.insert(0, 0);
  k.insert(3, 3);
  k.insert(6, 6);
  EXPECT_EQ(k.lookup(0), nullptr);
  EXPECT_NE(k.lookup(1), nullptr);
  EXPECT_NE(k.lookup(3), nullptr);
  EXPECT_NE(k.lookup(6), nullptr);
}

TEST(SetAssocTest, AccessInsertsOnMissInOnePass) {
  Keyed<> k(2, 2);
  EXPECT_FALSE(k.access(9));
  EXPECT_TRUE(k.access(9));
  EXPECT_FALSE(k.access(10));
  EXPECT_FALSE(k.access(11));  // evicts 9, the LRU
  EXPECT_EQ(k.c.evictions, 1u);
  EXPECT_FALSE(k.access(9));
}

TEST(SetAssocTest, InvalidateIfInvalidateInAndClear) {
  Keyed<> k(8, 2);
  for (int t = 0; t < 8; ++t) k.insert(std::uint64_t(t), t * 10);
  EXPECT_EQ(k.c.invalidate_if([](std::uint64_t tag, const int& v) { return tag % 2 == 0 && v < 40; }),
            2u);  // tags 0 and 2
  EXPECT_EQ(k.lookup(0), nullptr);
  EXPECT_EQ(k.lookup(2), nullptr);
  EXPECT_NE(k.lookup(4), nullptr);
  EXPECT_EQ(k.c.occupancy(), 6u);
  // Within one set only: tags 5 and 1 share set 1 of 4.
  EXPECT_EQ(k.c.invalidate_in(1, [](std::uint64_t, const int&) { return true; }), 2u);
  EXPECT_EQ(k.lookup(5), nullptr);
  EXPECT_NE(k.lookup(3), nullptr);
  k.c.clear();
  EXPECT_EQ(k.c.occupancy(), 0u);
  EXPECT_EQ(k.lookup(4), nullptr);
}

TEST(SetAssocTest, ZeroEntriesIsDisabled) {
  SetAssoc<std::uint64_t, int> c(Geometry{0, 4}, "lru", 1);
  EXPECT_FALSE(c.enabled());
  EXPECT_EQ(c.entries(), 0u);
  EXPECT_EQ(c.set_of(12345), 0u);  // safe to ask
  EXPECT_FALSE(c.insert(1, 1, 1).done);
  EXPECT_EQ(c.lookup(1, 1), nullptr);
  EXPECT_FALSE(c.access(1, 1));
  EXPECT_FALSE(c.access(1, 1));
  EXPECT_EQ(c.invalidate_in(1, [](std::uint64_t, const int&) { return true; }), 0u);
  SetAssoc<std::uint64_t, int> d;
  EXPECT_EQ(d.lookup(0, 0), nullptr);
}

TEST(SetAssocTest, BadGeometryThrowsNamingTheArray) {
  EXPECT_THROW((SetAssoc<std::uint64_t, int>(Geometry{4, 0}, "lru", 1)), Error);
  try {
    SetAssoc<std::uint64_t, int> c(Geometry{6, 4}, "lru", 1, "pwc.pde");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "pwc.pde: entries 6 is not a multiple of ways (4)");
  }
  EXPECT_THROW((SetAssoc<std::uint64_t, int>(Geometry{4, 4}, "plru", 1)), Error);  // no such policy
}

TEST(SetAssocTest, ValuelessArrayStoresTagsOnly) {
  struct Line {};
  SetAssoc<std::uint64_t, Line> c(Geometry{4, 2}, "lru", 1);
  EXPECT_FALSE(c.access(7, 7));
  EXPECT_TRUE(c.access(7, 7));
  EXPECT_EQ(c.occupancy(), 1u);
}

/// Which tags `c` holds, read without touching the replacement state.
template <class C>
std::set<std::uint64_t> residents(C& c) {
  std::set<std::uint64_t> s;
  c.invalidate_if([&](std::uint64_t t, const int&) {
    s.insert(t);
    return false;
  });
  return s;
}

/// A crafted sequence of accesses, lookups, inserts and invalidations of
/// `tags` tags: one letter per operation (access h/m, lookup l/., insert i,
/// invalidate x/-), each eviction's victim in brackets.
template <class K>
std::string engine_trace(K& k, unsigned tags, unsigned ops) {
  std::uint64_t r = 0x2545f4914f6cdd1dULL;  // xorshift64
  std::string out;
  for (unsigned i = 0; i < ops; ++i) {
    r ^= r << 13;
    r ^= r >> 7;
    r ^= r << 17;
    const std::uint64_t t = r % tags;
    const unsigned op = unsigned(r >> 32) % 8;
    const auto before = residents(k.c);
    if (op < 4) out += k.access(t) ? 'h' : 'm';
    else if (op < 6) out += k.lookup(t) ? 'l' : '.';
    else if (op == 6) k.insert(t, int(i)), out += 'i';
    else out += k.c.invalidate_if([t](std::uint64_t tag, const int&) { return tag == t; }) ? 'x' : '-';
    const auto after = residents(k.c);
    for (std::uint64_t v : before)
      if (!after.count(v) && !(op == 7 && v == t)) out += "[" + std::to_string(v) + "]";
  }
  return out;
}

struct GoldenEngine {
  std::uint32_t entries, ways;
  unsigned tags;
  const char* trace;  // from the LRU SetAssoc before the engines were merged (aa4c67a)
};
void PrintTo(const GoldenEngine& g, std::ostream* os) { *os << g.entries << " entries, " << g.ways << " ways"; }

class EngineGoldenTest : public testing::TestWithParam<GoldenEngine> {};

TEST_P(EngineGoldenTest, LruGivesTheVictimsOfTheOldEngine) {
  Keyed<> k(GetParam().entries, GetParam().ways);
  EXPECT_EQ(engine_trace(k, GetParam().tags, 80), GetParam().trace);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, EngineGoldenTest,
    testing::Values(
        GoldenEngine{4, 4, 6,
                     "m-mm.hl.h..mh-m[5]-i[2].lm[1]hm[4]i[0]hm[3]xhilxhhmi[5]i.hhlhh.m[2]hhhih-m[5]m[3].i[4]m[1]."
                     "lhm[5]hlii[0]hli[3]-m[5]m[4]ihm[0]im[5]hhhim[3]m[2]h"},
        GoldenEngine{16, 4, 24,
                     "m-mm.m..h..mm-mxi.lhhmihmxmil-hm[15]miilm[23]mlmhlm[19]hhm[3]ih-mm[17].ihl.m[11]mhlii[13]h."
                     "ixm[14]m[7]i[5]m[10]m[1]ihm[4]hhi[21]m[20]hh"},
        GoldenEngine{6, 2, 10,
                     "m-mm.m[1].lhl.hh-mxillhhmihmxhi[4]l-m[0]mhi[3]i.hh.m[9]m[0].hhhhi[9]h-m[3]m[0]li[6]m[8]llhm[9]"
                     "m[3].iihlixhmihhi[5]m[9]hm[3]hihhm[2]"}),
    [](const testing::TestParamInfo<GoldenEngine>& i) {
      return std::to_string(i.param.entries) + "_entries_" + std::to_string(i.param.ways) + "_ways";
    });

/// Every policy gives the same victims with a clock that is renumbered every
/// few stamps as with one that never wraps in a test.
class ClockRenumberingTest : public testing::TestWithParam<std::string> {};

TEST_P(ClockRenumberingTest, KeepsEveryVictim) {
  Keyed<> wide(16, 4, GetParam(), 9);
  Keyed<8> narrow(16, 4, GetParam(), 9);  // renumbers after every 8 stamps
  EXPECT_EQ(engine_trace(wide, 24, 3000), engine_trace(narrow, 24, 3000));
  Keyed<> wide2(6, 2, GetParam(), 9);
  Keyed<3> narrow2(6, 2, GetParam(), 9);
  EXPECT_EQ(engine_trace(wide2, 10, 3000), engine_trace(narrow2, 10, 3000));
}

INSTANTIATE_TEST_SUITE_P(Policies, ClockRenumberingTest, testing::ValuesIn(ReplacementRegistry::instance().names()),
                         [](const testing::TestParamInfo<std::string>& i) { return test_name(i.param); });

// ---- MemHierarchy ---------------------------------------------------------------

const MemHierarchyParams kDef{};
const Cycles kL1 = kDef.l1d.latency_cycles;
const Cycles kL2 = kDef.l2.latency_cycles;
const Cycles kLlc = kDef.llc.latency_cycles;
const Cycles kDram = kDef.dram_latency_cycles;

constexpr Addr kTable = 0x40000000;  // some page-table page

TEST(MemHierarchyTest, DefaultsAreSkylakeSp) {
  EXPECT_EQ(kDef.l1d.size_bytes, 32u * 1024);
  EXPECT_EQ(kDef.l1d.ways, 8u);
  EXPECT_EQ(kL1, 5u);
  EXPECT_EQ(kDef.l2.size_bytes, 1024u * 1024);
  EXPECT_EQ(kDef.l2.ways, 16u);
  EXPECT_EQ(kL2, 14u);
  EXPECT_EQ(kDef.llc.size_bytes, 1441792u);  // 1.375 MiB
  EXPECT_EQ(kDef.llc.ways, 11u);
  EXPECT_EQ(kLlc, 50u);
  EXPECT_EQ(kDram, 200u);
  EXPECT_TRUE(kDef.llc_shared);
  MemHierarchy h(kDef);
  EXPECT_EQ(h.level(MemHierarchy::kL1d).lines(), 512u);
  EXPECT_EQ(h.level(MemHierarchy::kL2).lines(), 16384u);
  EXPECT_EQ(h.level(MemHierarchy::kLlc).lines(), 22528u);  // 2048 sets of 11
}

TEST(MemHierarchyTest, ColdReferenceCostsDramAndFillsEveryLevel) {
  MemHierarchy h(kDef);
  EXPECT_EQ(h.access(kTable), kDram);
  EXPECT_EQ(h.refs, 1u);
  EXPECT_EQ(h.dram, 1u);
  for (unsigned i = 0; i < MemHierarchy::kLevels; ++i) {
    EXPECT_EQ(h.misses[i], 1u) << i;
    EXPECT_EQ(h.hits[i], 0u) << i;
  }
  // The line is now in every level: the same line hits L1D at L1D latency.
  EXPECT_EQ(h.access(kTable), kL1);
  EXPECT_EQ(h.hits[MemHierarchy::kL1d], 1u);
  EXPECT_EQ(h.refs, 2u);
  EXPECT_EQ(h.dram, 1u);
}

TEST(MemHierarchyTest, EightEntriesShareALine) {
  MemHierarchy h(kDef);
  EXPECT_EQ(h.access(kTable), kDram);
  for (Addr off = 8; off < kLineBytes; off += 8) EXPECT_EQ(h.access(kTable + off), kL1) << off;
  EXPECT_EQ(h.hits[MemHierarchy::kL1d], 7u);
  // The ninth entry is the next line.
  EXPECT_EQ(h.access(kTable + kLineBytes), kDram);
  EXPECT_EQ(h.dram, 2u);
}

TEST(MemHierarchyTest, LruEvictionInL1dFallsBackToL2) {
  MemHierarchy h(kDef);
  // L1D: 64 sets of 8 ways, so lines 64 * 64 = 4 KiB apart share a set; in L2
  // (1024 sets) they do not.
  const Addr stride = (kDef.l1d.size_bytes / kDef.l1d.ways);
  auto line = [&](unsigned i) { return kTable + i * stride; };
  for (unsigned i = 0; i < kDef.l1d.ways; ++i) EXPECT_EQ(h.access(line(i)), kDram);
  EXPECT_EQ(h.access(line(0)), kL1);    // 0 is now the most recent; 1 the LRU
  EXPECT_EQ(h.access(line(8)), kDram);  // fills the set: evicts 1
  EXPECT_EQ(h.access(line(0)), kL1);    // LRU, not FIFO: 0 survived
  EXPECT_EQ(h.access(line(1)), kL2);    // 1 was evicted from L1D only
  EXPECT_EQ(h.access(line(1)), kL1);    // and refilled there
  EXPECT_EQ(h.level(MemHierarchy::kL1d).evictions(), 2u);
}

TEST(MemHierarchyTest, L2EvictionFallsBackToLlc) {
  MemHierarchyParams p = kDef;
  p.l1d.size_bytes = 0;  // so every reference reaches L2
  p.l2.size_bytes = 2 * kLineBytes;
  p.l2.ways = 2;  // one set of two lines
  MemHierarchy h(p);
  EXPECT_EQ(h.access(0 * kLineBytes), kDram);
  EXPECT_EQ(h.access(1 * kLineBytes), kDram);
  EXPECT_EQ(h.access(2 * kLineBytes), kDram);  // evicts line 0 from L2
  EXPECT_EQ(h.access(0 * kLineBytes), kLlc);
  EXPECT_EQ(h.access(0 * kLineBytes), kL2);
}

TEST(MemHierarchyTest, SharedLlcServesALineAnotherHierarchyBroughtIn) {
  auto llc = MemHierarchy::make_llc(kDef);
  MemHierarchy a(kDef, llc.get()), b(kDef, llc.get());
  EXPECT_TRUE(a.llc_is_shared());
  EXPECT_EQ(&a.level(MemHierarchy::kLlc), llc.get());
  EXPECT_EQ(a.access(kTable), kDram);
  EXPECT_EQ(b.access(kTable), kLlc);  // A's fill, B's LLC hit
  EXPECT_EQ(b.access(kTable), kL1);   // now in B's private levels
  // Per-hierarchy counts of the shared level, and the level's own totals.
  EXPECT_EQ(a.misses[MemHierarchy::kLlc], 1u);
  EXPECT_EQ(a.hits[MemHierarchy::kLlc], 0u);
  EXPECT_EQ(b.hits[MemHierarchy::kLlc], 1u);
  EXPECT_EQ(b.misses[MemHierarchy::kLlc], 0u);
  EXPECT_EQ(llc->hits, 1u);
  EXPECT_EQ(llc->misses, 1u);
}

TEST(MemHierarchyTest, PrivateLlcIsNotShared) {
  MemHierarchyParams p = kDef;
  p.llc_shared = false;
  auto llc = MemHierarchy::make_llc(p);
  MemHierarchy a(p, llc.get()), b(p, llc.get());  // the pointer is ignored
  EXPECT_FALSE(a.llc_is_shared());
  EXPECT_EQ(a.access(kTable), kDram);
  EXPECT_EQ(b.access(kTable), kDram);
  EXPECT_EQ(llc->hits + llc->misses, 0u);
  // Shared requested but none given: the hierarchy owns one.
  MemHierarchy c(kDef);
  EXPECT_FALSE(c.llc_is_shared());
  EXPECT_EQ(c.access(kTable), kDram);
}

TEST(MemHierarchyTest, DisabledLevelsAlwaysMissAndAddNothing) {
  MemHierarchyParams p = kDef;
  p.l1d.size_bytes = 0;
  MemHierarchy h(p);
  EXPECT_FALSE(h.level(MemHierarchy::kL1d).enabled());
  EXPECT_EQ(h.access(kTable), kDram);
  EXPECT_EQ(h.access(kTable), kL2);
  EXPECT_EQ(h.misses[MemHierarchy::kL1d], 2u);

  p.l2.size_bytes = 0;
  p.llc.size_bytes = 0;
  MemHierarchy none(p);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(none.access(kTable), kDram);
  EXPECT_EQ(none.dram, 3u);
  EXPECT_EQ(none.misses[MemHierarchy::kLlc], 3u);

  MemHierarchyParams q = kDef;
  q.l2.size_bytes = 0;  // a middle level off: L1D misses go on to the LLC
  MemHierarchy m(q);
  const Addr stride = q.l1d.size_bytes / q.l1d.ways;
  for (unsigned i = 0; i <= q.l1d.ways; ++i) m.access(kTable + i * stride);
  EXPECT_EQ(m.access(kTable), kLlc);
}

TEST(MemHierarchyTest, BadGeometryInCodeThrowsNamingTheLevel) {
  CacheLevelParams l{"l2", 1000, 4, 14};
  try {
    CacheLevel c(l, 1);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "mem.l2: size_bytes 1000 is not a multiple of 64 * ways (256)");
  }
  l = CacheLevelParams{"llc", 64, 0, 50};
  EXPECT_THROW((CacheLevel{l, 1}), Error);
}

TEST(MemHierarchyTest, LevelsTakeTheirPolicy) {
  // L1D FIFO: a hit does not save a line from eviction.
  MemHierarchyParams p = kDef;
  p.l1d.replacement = "fifo";
  MemHierarchy h(p);
  const Addr stride = p.l1d.size_bytes / p.l1d.ways;  // lines this far apart share an L1D set
  auto line = [&](unsigned i) { return kTable + i * stride; };
  for (unsigned i = 0; i < p.l1d.ways; ++i) h.access(line(i));
  EXPECT_EQ(h.access(line(0)), kL1);
  h.access(line(8));  // evicts 0, the oldest fill, despite its hit
  EXPECT_EQ(h.access(line(0)), kL2);
}

TEST(MemHierarchyTest, RandomLevelsAreSeededPerLevel) {
  // Two hierarchies with the same seed agree; the L1D's stream is its own.
  MemHierarchyParams p = kDef;
  p.l1d.replacement = p.l2.replacement = p.llc.replacement = "random";
  p.seed = 77;
  auto run = [](const MemHierarchyParams& q) {
    MemHierarchy h(q);
    Cycles total = 0;
    std::uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 20000; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      total += h.access(x % (Addr{4} << 20));
    }
    return total;
  };
  EXPECT_EQ(run(p), run(p));
  MemHierarchyParams other = p;
  other.seed = 78;
  EXPECT_NE(run(p), run(other));
}

TEST(MemHierarchyTest, RegistersStats) {
  auto llc = MemHierarchy::make_llc(kDef);
  MemHierarchy a(kDef, llc.get()), b(kDef, llc.get());
  Stats s;
  a.register_stats(s, "vcpu0.mem");
  b.register_stats(s, "vcpu1.mem");
  llc->register_stats(s, "llc");
  a.access(kTable);
  a.access(kTable + 8);
  b.access(kTable);
  EXPECT_EQ(s.get("vcpu0.mem.refs"), 2);
  EXPECT_EQ(s.get("vcpu0.mem.dram"), 1);
  EXPECT_EQ(s.get("vcpu0.mem.l1d.hits"), 1);
  EXPECT_EQ(s.get("vcpu0.mem.l1d.misses"), 1);
  EXPECT_EQ(s.get("vcpu0.mem.l2.misses"), 1);
  EXPECT_EQ(s.get("vcpu0.mem.llc.misses"), 1);
  EXPECT_EQ(s.get("vcpu0.mem.llc.hits"), 0);
  EXPECT_EQ(s.get("vcpu1.mem.llc.hits"), 1);
  EXPECT_EQ(s.get("vcpu1.mem.dram"), 0);
  EXPECT_EQ(s.get("llc.hits"), 1);
  EXPECT_EQ(s.get("llc.misses"), 1);
  EXPECT_TRUE(s.has("llc.evictions"));
}

TEST(MemHierarchyTest, IsDeterministic) {
  auto run = [] {
    MemHierarchy h(kDef);
    Cycles total = 0;
    std::uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 100000; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      total += h.access(x % (Addr{8} << 20));  // 8 MiB: all levels busy
    }
    return total;
  };
  EXPECT_EQ(run(), run());
}

// ---- configuration -------------------------------------------------------------

MemHierarchyParams read_mem(ConfigTracker& t) {
  Cfg root(t);
  return MemHierarchyParams::from(root.section("mem"));
}

std::string read_mem_error(const char* doc) {
  ConfigTracker t(json::parse(doc), "c.json");
  try {
    read_mem(t);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(MemHierarchyConfigTest, Defaults) {
  ConfigTracker t(json::object(), "c.json");
  const MemHierarchyParams p = read_mem(t);
  EXPECT_EQ(p.l1d.name, "l1d");
  EXPECT_EQ(p.l1d.size_bytes, kDef.l1d.size_bytes);
  EXPECT_EQ(p.l1d.ways, kDef.l1d.ways);
  EXPECT_EQ(p.l1d.latency_cycles, kDef.l1d.latency_cycles);
  EXPECT_EQ(p.l2.name, "l2");
  EXPECT_EQ(p.l2.size_bytes, kDef.l2.size_bytes);
  EXPECT_EQ(p.llc.name, "llc");
  EXPECT_EQ(p.llc.size_bytes, kDef.llc.size_bytes);
  EXPECT_EQ(p.llc.ways, kDef.llc.ways);
  EXPECT_EQ(p.llc_shared, true);
  EXPECT_EQ(p.dram_latency_cycles, kDef.dram_latency_cycles);
  // Every key is read and listed.
  const json& eff = t.effective()["mem"];
  for (const char* level : {"l1d", "l2", "llc"})
    for (const char* key : {"size_bytes", "ways", "latency_cycles", "replacement"})
      EXPECT_TRUE(eff[level].contains(key)) << level << "." << key;
  for (const CacheLevelParams* l : {&p.l1d, &p.l2, &p.llc}) EXPECT_EQ(l->replacement.name, "lru") << l->name;
  EXPECT_EQ(eff["l2"]["replacement"], "lru");
  EXPECT_EQ(eff["llc"]["shared"], true);
  EXPECT_EQ(eff["dram_latency_cycles"], 200);
}

TEST(MemHierarchyConfigTest, Overrides) {
  ConfigTracker t(json::parse(R"({"mem": {
      "l1d": {"size_bytes": "48KiB", "ways": 12, "latency_cycles": 4},
      "l2": {"size_bytes": 0, "replacement": "fifo"},
      "llc": {"size_bytes": "2816KiB", "shared": false},
      "dram_latency_cycles": 300}})"),
                  "c.json");
  const MemHierarchyParams p = read_mem(t);
  EXPECT_NO_THROW(t.check_unknown());
  EXPECT_EQ(p.l1d.size_bytes, 48u * 1024);
  EXPECT_EQ(p.l1d.ways, 12u);
  EXPECT_EQ(p.l1d.latency_cycles, 4u);
  EXPECT_EQ(p.l2.size_bytes, 0u);
  EXPECT_EQ(p.l2.ways, kDef.l2.ways);
  EXPECT_EQ(p.l2.replacement.name, "fifo");
  EXPECT_EQ(p.l1d.replacement.name, "lru");
  EXPECT_EQ(p.llc.size_bytes, 2u * 1441792);
  EXPECT_EQ(p.llc.ways, 11u);
  EXPECT_FALSE(p.llc_shared);
  EXPECT_EQ(p.dram_latency_cycles, 300u);
  MemHierarchy h(p);
  EXPECT_EQ(h.access(kTable), 300u);
  EXPECT_EQ(h.access(kTable), 4u);
}

TEST(MemHierarchyConfigTest, ErrorsNameTheKeyPath) {
  std::string e = read_mem_error(R"({"mem": {"l2": {"ways": 0}}})");
  EXPECT_NE(e.find("c.json: mem.l2.ways"), std::string::npos) << e;

  e = read_mem_error(R"({"mem": {"l1d": {"size_bytes": 1000}}})");
  EXPECT_NE(e.find("mem.l1d.size_bytes"), std::string::npos) << e;
  EXPECT_NE(e.find("multiple"), std::string::npos) << e;

  // 1 MiB is not a whole number of 11-way sets of 64-byte lines.
  e = read_mem_error(R"({"mem": {"llc": {"size_bytes": "1MiB"}}})");
  EXPECT_NE(e.find("mem.llc.size_bytes"), std::string::npos) << e;

  e = read_mem_error(R"({"mem": {"llc": {"shared": "yes"}}})");
  EXPECT_NE(e.find("mem.llc.shared"), std::string::npos) << e;

  e = read_mem_error(R"({"mem": {"dram_latency_cycles": -1}})");
  EXPECT_NE(e.find("mem.dram_latency_cycles"), std::string::npos) << e;

  e = read_mem_error(R"({"mem": {"llc": {"replacement": "plru"}}})");
  EXPECT_NE(e.find("c.json: mem.llc.replacement"), std::string::npos) << e;
  EXPECT_NE(e.find("lru"), std::string::npos) << e;  // the known names

  e = read_mem_error(R"({"mem": {"l2": 3}})");
  EXPECT_NE(e.find("mem.l2"), std::string::npos) << e;

  // The old flat key is gone: it is reported as unknown.
  ConfigTracker t(json::parse(R"({"mem": {"latency_cycles": 5, "l2": {"assoc": 4}}})"), "c.json");
  read_mem(t);
  try {
    t.check_unknown();
    FAIL() << "expected an unknown-key error";
  } catch (const ConfigError& err) {
    const std::string m = err.what();
    EXPECT_TRUE(m.find("mem.l2.assoc") != std::string::npos || m.find("mem.latency_cycles") != std::string::npos) << m;
  }
}

}  // namespace
}  // namespace vmxsim::models
