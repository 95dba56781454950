// Unit tests of models::SetAssoc, models::CacheLevel, models::MemHierarchy
// and its config reader.
#include <gtest/gtest.h>

#include <string>

#include "models/mem_hierarchy.hpp"
#include "models/set_assoc.hpp"
#include "sim/config.hpp"
#include "sim/stats.hpp"

namespace vmxsim::models {
namespace {

// ---- SetAssoc -----------------------------------------------------------------

TEST(SetAssocTest, TagZeroIsAnOrdinaryTag) {
  SetAssoc<int> c(4, 4);
  EXPECT_EQ(c.lookup(0), nullptr);  // empty: invalid ways never match, tag 0 included
  c.insert(0, 7);
  ASSERT_NE(c.lookup(0), nullptr);
  EXPECT_EQ(*c.lookup(0), 7);
  EXPECT_EQ(c.occupancy(), 1u);
}

TEST(SetAssocTest, InsertReplacesAnExistingTag) {
  SetAssoc<int> c(4, 4);
  c.insert(5, 1);
  c.insert(5, 2);
  EXPECT_EQ(*c.lookup(5), 2);
  EXPECT_EQ(c.occupancy(), 1u);
  EXPECT_EQ(c.evictions, 0u);
}

TEST(SetAssocTest, EvictsTheLeastRecentlyUsed) {
  SetAssoc<int> c(4, 4);  // one set
  for (int t = 0; t < 4; ++t) c.insert(std::uint64_t(t), t);
  ASSERT_NE(c.lookup(0), nullptr);  // 0 becomes most recent; 1 is now the LRU
  c.insert(4, 4);
  EXPECT_EQ(c.evictions, 1u);
  EXPECT_EQ(c.lookup(1), nullptr);
  EXPECT_NE(c.lookup(0), nullptr);
  EXPECT_NE(c.lookup(2), nullptr);
  EXPECT_NE(c.lookup(4), nullptr);
  // Replacing in place refreshes recency too: 3 was the LRU; after this, 0 is.
  c.insert(3, 30);
  c.insert(5, 5);
  EXPECT_EQ(c.lookup(0), nullptr);
  EXPECT_EQ(*c.lookup(3), 30);
}

TEST(SetAssocTest, SetIndexIsTagModuloSets) {
  SetAssoc<int> c(6, 2);  // 3 sets: not a power of two
  EXPECT_EQ(c.sets(), 3u);
  // Tags 0, 3, 6 share set 0; 1 sits in set 1 and survives their traffic.
  c.insert(1, 1);
  c.insert(0, 0);
  c.insert(3, 3);
  c.insert(6, 6);
  EXPECT_EQ(c.lookup(0), nullptr);
  EXPECT_NE(c.lookup(1), nullptr);
  EXPECT_NE(c.lookup(3), nullptr);
  EXPECT_NE(c.lookup(6), nullptr);
}

TEST(SetAssocTest, AccessInsertsOnMissInOnePass) {
  SetAssoc<int> c(2, 2);
  EXPECT_FALSE(c.access(9));
  EXPECT_TRUE(c.access(9));
  EXPECT_FALSE(c.access(10));
  EXPECT_FALSE(c.access(11));  // evicts 9, the LRU
  EXPECT_EQ(c.evictions, 1u);
  EXPECT_FALSE(c.access(9));
}

TEST(SetAssocTest, InvalidateIfAndClear) {
  SetAssoc<int> c(8, 2);
  for (int t = 0; t < 8; ++t) c.insert(std::uint64_t(t), t * 10);
  EXPECT_EQ(c.invalidate_if([](std::uint64_t tag, const int& v) { return tag % 2 == 0 && v < 40; }),
            2u);  // tags 0 and 2
  EXPECT_EQ(c.lookup(0), nullptr);
  EXPECT_EQ(c.lookup(2), nullptr);
  EXPECT_NE(c.lookup(4), nullptr);
  EXPECT_EQ(c.occupancy(), 6u);
  c.clear();
  EXPECT_EQ(c.occupancy(), 0u);
  EXPECT_EQ(c.lookup(4), nullptr);
}

TEST(SetAssocTest, ZeroEntriesIsDisabled) {
  SetAssoc<int> c(0, 4);
  EXPECT_EQ(c.entries(), 0u);
  c.insert(1, 1);
  EXPECT_EQ(c.lookup(1), nullptr);
  EXPECT_FALSE(c.access(1));
  EXPECT_FALSE(c.access(1));
  SetAssoc<int> d;
  EXPECT_EQ(d.lookup(0), nullptr);
}

TEST(SetAssocTest, BadGeometryThrows) {
  EXPECT_THROW((SetAssoc<int>(4, 0)), Error);
  EXPECT_THROW((SetAssoc<int>(6, 4)), Error);
}

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
  EXPECT_EQ(h.access(line(0)), kL1);      // 0 is now the most recent; 1 the LRU
  EXPECT_EQ(h.access(line(8)), kDram);    // fills the set: evicts 1
  EXPECT_EQ(h.access(line(0)), kL1);      // LRU, not FIFO: 0 survived
  EXPECT_EQ(h.access(line(1)), kL2);      // 1 was evicted from L1D only
  EXPECT_EQ(h.access(line(1)), kL1);      // and refilled there
  EXPECT_EQ(h.level(MemHierarchy::kL1d).evictions(), 2u);
}

TEST(MemHierarchyTest, L2EvictionFallsBackToLlc) {
  MemHierarchyParams p = kDef;
  p.l1d.size_bytes = 0;  // so every reference reaches L2
  p.l2.size_bytes = 2 * kLineBytes;
  p.l2.ways = 2;         // one set of two lines
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
  EXPECT_EQ(b.access(kTable), kLlc);   // A's fill, B's LLC hit
  EXPECT_EQ(b.access(kTable), kL1);    // now in B's private levels
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
    CacheLevel c(l);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mem.l2.size_bytes"), std::string::npos) << e.what();
  }
  l = CacheLevelParams{"llc", 64, 0, 50};
  EXPECT_THROW(CacheLevel{l}, Error);
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
    for (const char* key : {"size_bytes", "ways", "latency_cycles"})
      EXPECT_TRUE(eff[level].contains(key)) << level << "." << key;
  EXPECT_EQ(eff["llc"]["shared"], true);
  EXPECT_EQ(eff["dram_latency_cycles"], 200);
}

TEST(MemHierarchyConfigTest, Overrides) {
  ConfigTracker t(json::parse(R"({"mem": {
      "l1d": {"size_bytes": "48KiB", "ways": 12, "latency_cycles": 4},
      "l2": {"size_bytes": 0},
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
    EXPECT_TRUE(m.find("mem.l2.assoc") != std::string::npos ||
                m.find("mem.latency_cycles") != std::string::npos)
        << m;
  }
}

}  // namespace
}  // namespace vmxsim::models
