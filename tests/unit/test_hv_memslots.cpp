// hv::Memslots implementations: `array` (KVM 5.7-5.16) and `tree` (5.17+)
// agree on every lookup under random changes; their step counts follow the
// complexity of the KVM code they model; the vCPU cache follows the set
// generation; hv.memslots errors name the key path.
#include <gtest/gtest.h>

#include <random>

#include "error_of.hpp"
#include "hv/memslots.hpp"
#include "sim/config.hpp"
#include "sim/stats.hpp"

using namespace vmxsim;

namespace {

constexpr Addr kMiB = Addr{1} << 20;

hv::Memslot mk(std::uint32_t id, Addr gpa, std::uint64_t size, Addr hva = 0) {
  hv::Memslot s;
  s.id = id;
  s.gpa = gpa;
  s.size = size;
  s.hpa = (Addr{1} << 40) + Addr(id) * (Addr{1} << 32);  // disjoint backings
  s.hva = hva ? hva : 0x7f0000000000 + gpa;
  return s;
}

/// An implementation with its stats, built from `costs` (hv.costs) or the defaults.
struct Impl {
  explicit Impl(const std::string& name, const std::string& costs = "{}") {
    ConfigTracker t(json::parse(R"({"hv": {"costs": )" + costs + "}}"), "c.json");
    Cfg root(t);
    m = hv::MemslotsRegistry::instance().configure(name, "hv.memslots_impl", root.section("hv"), SystemInfo{})();
    m->register_stats(stats);
  }
  std::uint64_t stat(const std::string& name) const { return std::uint64_t(stats.get("hv.memslots." + name)); }
  hv::Memslots* operator->() { return m.get(); }
  std::unique_ptr<hv::Memslots> m;
  Stats stats;
};

/// `n` slots of 16 KiB in ascending GPA order (as memslot_perf_test adds them).
void fill(Impl& m, unsigned n, Addr base = 0x10000000) {
  for (unsigned i = 0; i < n; ++i) m->add(mk(i, base + Addr(i) * 0x4000, 0x4000));
}

std::vector<std::uint32_t> hva_ids(hv::Memslots& m, Addr b, Addr e) {
  std::vector<std::uint32_t> ids;
  Cycles c = 0;
  m.for_each_hva(
      b, e, [&ids](const hv::Memslot& s) { ids.push_back(s.id); }, c);
  return ids;
}

std::string describe(const hv::Memslot* s) {
  if (!s) return "none";
  return std::to_string(s->id) + "@" + std::to_string(s->gpa) + (s->invalid ? "i" : "") + (s->dirty_log ? "d" : "");
}

}  // namespace

// ---- both implementations agree ------------------------------------------------

// Thousands of random changes (each a whole KVM ioctl: CREATE, DELETE and MOVE
// in their two phases, FLAGS_ONLY) on random slot sets with aliased HVAs; after
// each, every lookup of `tree` matches `array`'s.
TEST(MemslotsProperty, ArrayAndTreeAgreeUnderRandomChanges) {
  Impl a("array"), t("tree");
  std::mt19937_64 rng(20211104);  // fixed seed
  const Addr space = 256 * kMiB;  // GPAs and HVAs drawn from here: dense enough to collide
  auto rnd = [&rng](std::uint64_t n) { return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng); };
  std::vector<std::uint32_t> live;
  std::uint32_t next_id = 0;
  unsigned ops[4] = {};  // creates, deletes, moves, flag changes done
  for (int step = 0; step < 4000; ++step) {
    Cycles ca = 0, ct = 0;
    const unsigned op = live.size() < 8 ? 0 : unsigned(rnd(4));
    if (op == 0) {  // create, unless its GPAs overlap (both must refuse it alike)
      const hv::Memslot s =
          mk(next_id, rnd(space / 4096) * 4096, (1 + rnd(64)) * 4096, 0x7f0000000000 + rnd(space / 4096) * 4096);
      const std::string ea = test::error_of([&] { a->create(s, ca); });
      const std::string et = test::error_of([&] { t->create(s, ct); });
      ASSERT_EQ(ea == "(no error)", et == "(no error)") << ea << " / " << et;
      if (ea == "(no error)") live.push_back(next_id++), ++ops[0];
    } else {
      const std::size_t i = std::size_t(rnd(live.size()));
      const std::uint32_t id = live[i];
      if (op == 1) {  // delete
        a->invalidate(id, ca);
        t->invalidate(id, ct);
        ASSERT_TRUE(a->by_id(id)->invalid && t->by_id(id)->invalid);
        ASSERT_TRUE(t->find(a->by_id(id)->gpa)->invalid);
        a->remove(id, ca);
        t->remove(id, ct);
        live.erase(live.begin() + std::ptrdiff_t(i));
        ++ops[1];
      } else if (op == 2) {  // move, when the target is free (refusals: MemslotsErrors)
        const Addr to = rnd(space / 4096) * 4096;
        const std::uint64_t size = a->by_id(id)->size;
        bool free = true;
        a->for_each([&](const hv::Memslot& o) { free &= o.id == id || to + size <= o.gpa || o.end() <= to; });
        if (free) {
          a->invalidate(id, ca);
          t->invalidate(id, ct);
          a->move(id, to, ca);
          t->move(id, to, ct);
          ++ops[2];
        }
      } else {  // dirty logging on or off
        const bool on = !a->by_id(id)->dirty_log;
        a->set_flags(id, false, on, ca);
        t->set_flags(id, false, on, ct);
        ++ops[3];
      }
    }
    // Every lookup agrees.
    ASSERT_EQ(a->size(), t->size());
    std::vector<std::uint32_t> order_a, order_t;
    a->for_each([&](const hv::Memslot& s) { order_a.push_back(s.id); });
    t->for_each([&](const hv::Memslot& s) { order_t.push_back(s.id); });
    ASSERT_EQ(order_a, order_t);
    for (std::uint32_t id = 0; id < next_id; ++id) ASSERT_EQ(describe(a->by_id(id)), describe(t->by_id(id))) << id;
    for (int k = 0; k < 20; ++k) {
      const Addr g = rnd(space);
      ASSERT_EQ(describe(a->find(g)), describe(t->find(g))) << g;
      Cycles c1 = 0, c2 = 0;
      const unsigned vcpu = unsigned(rnd(3));
      ASSERT_EQ(describe(a->find(g, vcpu, c1)), describe(t->find(g, vcpu, c2)));
      ASSERT_EQ(describe(a->find(g, hv::Memslots::kVmWide, c1)), describe(t->find(g, hv::Memslots::kVmWide, c2)));
      const Addr hb = 0x7f0000000000 + rnd(space), he = hb + 1 + rnd(8 * kMiB);
      ASSERT_EQ(hva_ids(*a.m, hb, he), hva_ids(*t.m, hb, he));
      if (!live.empty()) {
        const hv::Memslot* s = a->by_id(live[rnd(live.size())]);
        const Addr hpa = s->hpa + rnd(s->size);
        ASSERT_EQ(describe(a->find_hpa(hpa)), describe(t->find_hpa(hpa)));
        ASSERT_EQ(a->find_hpa(hpa)->id, s->id);
      }
    }
  }
  // The run exercised every kind of change.
  for (unsigned k = 0; k < 4; ++k) EXPECT_GT(ops[k], 100u) << k;
}

// The interface's example from docs/extending.md still holds for every
// implementation (HVA aliasing included).
TEST(MemslotsProperty, HvaLookupsFindAliasesInHvaOrder) {
  for (const char* name : {"array", "tree"}) {
    Impl m(name);
    m->add(mk(0, 0x0, 0x10000, 0x7f0000100000));
    m->add(mk(1, 0x100000, 0x10000, 0x7f0000100000));  // the same HVAs as slot 0
    m->add(mk(2, 0x200000, 0x10000, 0x7f0000000000));  // lower HVAs
    m->add(mk(3, 0x300000, 0x10000, 0x7f0000200000));
    EXPECT_EQ(hva_ids(*m.m, 0x7f0000000000, 0x7f0000300000), (std::vector<std::uint32_t>{2, 0, 1, 3})) << name;
    EXPECT_EQ(hva_ids(*m.m, 0x7f000010f000, 0x7f0000110000), (std::vector<std::uint32_t>{0, 1})) << name;
    EXPECT_EQ(hva_ids(*m.m, 0x7f0000110000, 0x7f0000200000), (std::vector<std::uint32_t>{})) << name;
  }
}

// ---- array: the steps of KVM 5.7-5.16 ------------------------------------------

// A CREATE at n slots: the overlap check visits n, kvm_dup_memslots copies n
// and the id_to_index table once, and the new (highest-gfn) slot moves past
// all n. Costs are those counts times the per-step keys.
TEST(MemslotsArray, CreateAtNSlotsCopiesShiftsAndScansN) {
  for (unsigned n : {1u, 10u, 509u, 8194u}) {
    Impl m("array", R"({"memslot_copy": 1, "memslot_shift": 1000, "memslot_scan": 1000000, "memslot_id_table": 0})");
    fill(m, n);
    Cycles cost = 0;
    m->create(mk(n, 0x80000000, 0x1000), cost);
    EXPECT_EQ(m.stat("array.copies"), n);
    EXPECT_EQ(m.stat("array.dups"), 1u);
    EXPECT_EQ(m.stat("array.shifts"), n);
    EXPECT_EQ(m.stat("array.scan_visits"), n);
    EXPECT_EQ(cost, Cycles(n) * 1001001);
    // The same create at the lowest GPA passes no neighbour.
    m->create(mk(n + 1, 0x0, 0x1000), cost);
    EXPECT_EQ(m.stat("array.shifts"), n);
  }
}

// Start-up adds count KVM's steps (n(n-1)/2 of each kind for n slots in GPA
// order) but report no cost; the defaults give their would-be cycles.
TEST(MemslotsArray, StartUpAddsAreCountedNotCharged) {
  Impl m("array");
  fill(m, 100);
  const std::uint64_t k = 100 * 99 / 2;
  EXPECT_EQ(m.stat("startup_steps"), 3 * k + 100);  // copies, shifts and scans; one table copy each
  EXPECT_EQ(m.stat("startup_cycles"), k * (14 + 53 + 4) + 100 * 10644);
  EXPECT_EQ(m.stat("changes"), 0u);
  EXPECT_EQ(m.stat("array.copies"), 0u);
}

// An HVA lookup visits every slot, whatever it finds.
TEST(MemslotsArray, HvaLookupVisitsEverySlot) {
  Impl m("array");
  fill(m, 8194);
  Cycles cost = 0;
  unsigned found = 0;
  m->for_each_hva(
      0x7f0010000000, 0x7f0010001000, [&found](const hv::Memslot&) { ++found; }, cost);
  EXPECT_EQ(found, 1u);
  EXPECT_EQ(m.stat("array.scan_visits"), 8194u);
  EXPECT_EQ(cost, 8194u * 4);  // hv.costs.memslot_scan
}

// search_memslots: the lru slot first (one probe), then a binary search of
// ceil(log2(n+1)) probes at most, which updates the lru slot.
TEST(MemslotsArray, GfnLookupTriesTheLruSlotThenBinarySearches) {
  Impl m("array");
  fill(m, 1000);
  const Addr g = 0x10000000 + 777 * 0x4000 + 0x123;
  Cycles cost = 0;
  EXPECT_EQ(m->find(g, 0, cost)->id, 777u);
  const std::uint64_t probes = m.stat("array.probes");
  EXPECT_GE(probes, 1u + 9);
  EXPECT_LE(probes, 1u + 10);  // ceil(log2(1001)) = 10
  EXPECT_EQ(cost, probes * 8);
  EXPECT_EQ(m->find(g + 0x1000, 1, cost)->id, 777u);  // any vCPU: the set's lru slot
  EXPECT_EQ(m.stat("array.probes"), probes + 1);
  EXPECT_EQ(m.stat("array.lru_hits"), 1u);
  EXPECT_EQ(m->find(0x1000, 0, cost), nullptr);  // below every slot
}

// DELETE: the invalidation is a duplication; phase 2 shifts the slots below
// it. MOVE: the overlap check scans every slot and the slot passes each
// neighbour between its places. FLAGS_ONLY: a duplication, no shift.
TEST(MemslotsArray, DeleteMoveAndFlagsFollowUpdateMemslots) {
  Impl m("array");
  fill(m, 100);
  Cycles cost = 0;
  m->invalidate(40, cost);
  EXPECT_EQ(m.stat("array.copies"), 100u);
  EXPECT_TRUE(m->find(0x10000000 + 40 * 0x4000)->invalid);
  m->remove(40, cost);
  EXPECT_EQ(m.stat("array.copies"), 200u);  // phase 2 refreshes the old set: kvm_copy_memslots (v5.13-5.16)
  EXPECT_EQ(m.stat("array.shifts"), 40u);   // the 40 slots with lower gfns
  EXPECT_EQ(m->find(0x10000000 + 40 * 0x4000), nullptr);
  m->invalidate(10, cost);
  m->move(10, 0x10000000 + Addr(40) * 0x4000, cost);  // into the hole: past slots 11..39
  EXPECT_EQ(m.stat("array.shifts"), 40u + 29);
  EXPECT_EQ(m.stat("array.scan_visits"), 99u);
  EXPECT_EQ(m->find(0x10000000 + 40 * 0x4000)->id, 10u);
  EXPECT_FALSE(m->by_id(10)->invalid);
  m->set_flags(20, false, true, cost);
  EXPECT_EQ(m.stat("array.copies"), 200u + 99 + 99 + 99);  // invalidate, move's refresh, flags
  EXPECT_EQ(m.stat("array.shifts"), 69u);
  EXPECT_TRUE(m->by_id(20)->dirty_log);
  const std::uint64_t changes = m.stat("changes");
  m->set_flags(20, false, true, cost);  // nothing to change: KVM returns early
  EXPECT_EQ(m.stat("changes"), changes);
}

// ---- tree: the steps of KVM 5.17+ ------------------------------------------------

// An HVA lookup descends the interval tree and walks the k slots it reports.
TEST(MemslotsTree, HvaLookupIsLogNPlusK) {
  Impl m("tree");
  fill(m, 32764);
  Cycles cost = 0;
  const std::uint64_t before = m.stat("tree.tree_steps");
  EXPECT_EQ(hva_ids(*m.m, 0x7f0010000000, 0x7f0010000000 + 3 * 0x4000), (std::vector<std::uint32_t>{0, 1, 2}));
  EXPECT_EQ(m.stat("tree.tree_steps") - before, 15u + 3);  // ceil(log2(32765)) + k
  m->for_each_hva(
      0x7f0010000000, 0x7f0010001000, [](const hv::Memslot&) {}, cost);
  EXPECT_EQ(cost, (15u + 1) * 32);  // hv.costs.memslot_tree_step
}

// A gfn lookup is one red-black-tree descent: between log2(n+1) and
// 2 log2(n+1) nodes, so 32k slots take no more than 30 steps.
TEST(MemslotsTree, GfnLookupIsOneDescent) {
  Impl m("tree");
  fill(m, 32764);
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    const std::uint64_t before = m.stat("tree.tree_steps");
    Cycles cost = 0;
    const std::uint32_t id = rng() % 32764;
    EXPECT_EQ(m->find(0x10000000 + Addr(id) * 0x4000, hv::Memslots::kVmWide, cost)->id, id);
    const std::uint64_t steps = m.stat("tree.tree_steps") - before;
    EXPECT_GE(steps, 8u);  // a red-black tree's black height: at least log2(n+1)/2
    EXPECT_LE(
        steps,
        1u +
            30);  // the set's last_used_slot check, then at most 2 log2(n+1)  // the set's last_used_slot check, then the descent
  }
}

// A CREATE's steps grow as log n, plus the id hash's chain (n/128 entries):
// per create, 62.3 at 509 slots and 236.0 at 32764 in memslot_perf_test's
// order (the counts docs/config.md derives hv.costs.memslot_tree_step from).
TEST(MemslotsTree, CreateStepsAtMemslotPerfTestCounts) {
  for (const auto& [n, expect] : {std::pair<unsigned, double>{509, 62.34}, {32764, 236.0}}) {
    Impl m("tree");
    m->add(mk(0, 0, 2 * kMiB));  // the VM's slot 0
    const std::uint64_t base = m.stat("startup_steps");
    for (unsigned i = 1; i < n; ++i) m->add(mk(i, 0x10000000 + Addr(i - 1) * 0x4000, 0x4000));
    EXPECT_NEAR(double(m.stat("startup_steps") - base) / (n - 1), expect, 0.5) << n;
  }
}

// FLAGS_ONLY replaces in place in both sets: hash delete + add, interval
// remove + insert, rb_replace_node; no gfn descent.
TEST(MemslotsTree, FlagsOnlyReplacesInPlaceInBothSets) {
  Impl m("tree");
  fill(m, 1000);
  Cycles cost = 0;
  const std::uint64_t tree0 = m.stat("tree.tree_steps"), hash0 = m.stat("tree.hash_steps");
  m->set_flags(500, false, true, cost);
  EXPECT_EQ(m.stat("tree.tree_steps") - tree0, 2u * (10 + 10 + 1));  // ceil(log2(1001)) = 10
  const std::uint64_t hash = m.stat("tree.hash_steps") - hash0;
  EXPECT_GE(hash, 1u + 4);       // id_to_memslot walked to slot 500, then 2 x (del + add)
  EXPECT_LE(hash, 1u + 20 + 4);  // its bucket holds about 1000/128 slots
  EXPECT_EQ(m.stat("tree.swaps"), 1000u + 1);
  EXPECT_TRUE(m->by_id(500)->dirty_log);
}

// kvm_vcpu_gfn_to_memslot: a vCPU's last_used_slot answers only while its
// generation is the set's; every swap starts a new one. A miss searches
// without touching the set's cache.
TEST(MemslotsTree, VcpuCacheHitsOnlyAtTheCurrentGeneration) {
  Impl m("tree");
  fill(m, 100);
  const Addr g = 0x10000000 + 50 * 0x4000;
  Cycles cost = 0;
  EXPECT_EQ(m->find(g, 0, cost)->id, 50u);  // no cached slot: search
  EXPECT_EQ(m.stat("tree.vcpu_misses"), 1u);
  cost = 0;
  EXPECT_EQ(m->find(g + 8, 0, cost)->id, 50u);
  EXPECT_EQ(m.stat("tree.vcpu_hits"), 1u);
  EXPECT_EQ(cost, 32u);                     // one slot checked
  EXPECT_EQ(m->find(g, 1, cost)->id, 50u);  // another vCPU has its own
  EXPECT_EQ(m.stat("tree.vcpu_misses"), 2u);
  EXPECT_EQ(m->find(g + 0x4000, 0, cost)->id, 51u);  // another slot: search, and cache it
  EXPECT_EQ(m.stat("tree.vcpu_misses"), 3u);
  EXPECT_EQ(m->find(g + 0x4000, 0, cost)->id, 51u);
  EXPECT_EQ(m.stat("tree.vcpu_hits"), 2u);
  m->create(mk(100, 0x80000000, 0x1000), cost);  // a swap: a new generation
  EXPECT_EQ(m->find(g + 0x4000, 0, cost)->id, 51u);
  EXPECT_EQ(m.stat("tree.vcpu_misses"), 4u);  // the same slot, but cached at the old generation
  EXPECT_EQ(m->find(g + 0x4000, 0, cost)->id, 51u);
  EXPECT_EQ(m.stat("tree.vcpu_hits"), 3u);
  EXPECT_EQ(m.stat("tree.set_hits"), 0u);  // vCPU lookups leave the set's cache alone
}

// Each set has its own last_used_slot (__gfn_to_memslot), and
// kvm_replace_memslot repoints it: after two swaps the set that cached a slot
// is active again and answers with the slot's current version.
TEST(MemslotsTree, SetCachesArePerSetAndRepointedByReplace) {
  Impl m("tree");
  fill(m, 100);
  const Addr g = 0x10000000 + 30 * 0x4000;
  Cycles cost = 0;
  m->find(g, hv::Memslots::kVmWide, cost);  // cached in the active set
  m->set_flags(30, false, true, cost);      // the other set is now active
  m->set_flags(30, false, false, cost);     // and the first one again
  cost = 0;
  const hv::Memslot* s = m->find(g, hv::Memslots::kVmWide, cost);
  EXPECT_EQ(m.stat("tree.set_hits"), 1u);
  EXPECT_EQ(cost, 32u);
  EXPECT_EQ(s, m->by_id(30));           // the current slot, not a freed one
  m->set_flags(30, false, true, cost);  // the other set: its cache was never set
  m->find(g, hv::Memslots::kVmWide, cost);
  EXPECT_EQ(m.stat("tree.set_hits"), 1u);
}

// DELETE and MOVE: phase 1 swaps in the INVALID copy (lookups return it),
// phase 2 swaps again.
TEST(MemslotsTree, InvalidateThenRemoveOrMove) {
  Impl m("tree");
  fill(m, 10);
  Cycles cost = 0;
  m->invalidate(3, cost);
  EXPECT_TRUE(m->find(0x10000000 + 3 * 0x4000)->invalid);
  EXPECT_TRUE(m->by_id(3)->invalid);
  EXPECT_EQ(hva_ids(*m.m, 0x7f0010000000 + 3 * 0x4000, 0x7f0010000000 + 4 * 0x4000), (std::vector<std::uint32_t>{3}));
  m->move(3, 0x20000000, cost);
  EXPECT_EQ(m->find(0x10000000 + 3 * 0x4000), nullptr);
  EXPECT_FALSE(m->find(0x20000000)->invalid);
  EXPECT_EQ(m->find_hpa(m->by_id(3)->hpa + 5)->id, 3u);
  m->invalidate(3, cost);
  m->remove(3, cost);
  EXPECT_EQ(m->by_id(3), nullptr);
  EXPECT_EQ(m->size(), 9u);
  EXPECT_EQ(m.stat("tree.swaps"), 10u + 4);
}

// ---- errors ----------------------------------------------------------------------

TEST(MemslotsErrors, ChangesKvmRefusesAreErrors) {
  for (const char* name : {"array", "tree"}) {
    Impl m(name);
    fill(m, 4);
    Cycles c = 0;
    hv::Memslot ro = mk(9, 0x1000000, 0x1000);
    ro.readonly = true;
    m->add(ro);
    EXPECT_EQ(test::error_of([&] { m->add(mk(32767, 0x2000000, 0x1000)); }),
              "memslot id 32767 is not below KVM_MEM_SLOTS_NUM (32767)")
        << name;
    EXPECT_EQ(test::error_of([&] { m->create(mk(1, 0x2000000, 0x1000), c); }), "memslot id 1 is already in use");
    EXPECT_NE(test::error_of([&] { m->create(mk(5, 0x10002000, 0x4000), c); }).find("overlaps"), std::string::npos);
    EXPECT_EQ(
        test::error_of([&] { m->set_flags(9, false, false, c); }),
        "memslot id 9: KVM_MEM_READONLY cannot change on an existing slot (__kvm_set_memory_region returns -EINVAL)");
    EXPECT_NE(test::error_of([&] { m->remove(2, c); }).find("without its invalidate first"), std::string::npos);
    m->invalidate(2, c);
    EXPECT_NE(test::error_of([&] { m->set_flags(1, false, true, c); }).find("while memslot id 2 is invalidated"),
              std::string::npos);
    EXPECT_NE(test::error_of([&] { m->move(2, 0x10004000, c); }).find("overlaps"), std::string::npos);  // onto slot 1
    EXPECT_NE(test::error_of([&] { m->invalidate(77, c); }).find("does not exist"), std::string::npos);
  }
}

namespace {
std::string spec_error(const std::string& hv) {
  ConfigTracker t(json::parse(R"({"hv": )" + hv + "}"), "c.json");
  Cfg root(t);
  return test::error_of([&] { hv::MemslotSpec::from(root.section("hv")); });
}
std::vector<hv::MemslotSpec> specs(const std::string& hv) {
  ConfigTracker t(json::parse(R"({"hv": )" + hv + "}"), "c.json");
  Cfg root(t);
  return hv::MemslotSpec::from(root.section("hv"));
}
}  // namespace

TEST(MemslotsErrors, ConfigErrorsNameTheKeyPath) {
  json many = json::array();
  for (unsigned i = 0; i < 32765; ++i) many.push_back({{"gpa", Addr(i) * 4096}, {"size", 4096}});
  EXPECT_EQ(spec_error(json{{"memslots", many}}.dump()),
            "c.json: hv.memslots: 32765 slots, more than the 32764 user memslots x86 KVM allows (KVM_USER_MEM_SLOTS)");
  many.erase(many.end() - 1);
  EXPECT_EQ(spec_error(json{{"memslots", many}}.dump()), "(no error)");
  EXPECT_EQ(spec_error(R"({"memslots": [{"size": "8TiB", "hva": "1TiB"}]})"),
            "c.json: hv.memslots[0].size: 2147483648 pages, more than KVM's limit of 2^31 - 1 pages a slot "
            "(KVM_MEM_MAX_NR_PAGES)");
  EXPECT_EQ(spec_error(R"({"memslots": [{"size": "8388607MiB", "hva": "4KiB"}]})"), "(no error)");  // 2^31 - 256 pages
  EXPECT_EQ(spec_error(R"({"memslots": [{"size": 4096, "hva": "0x7f0000000800"}]})"),
            "c.json: hv.memslots[0].hva: expected a multiple of 4 KiB, got 0x7f0000000800");
  EXPECT_EQ(spec_error(R"({"memslots": [{"size": "2TiB"}]})"),
            "c.json: hv.memslots[0].hva: [0x7f0000000000, 0x810000000000) is not in the user address space, which "
            "ends at 0x7ffffffff000 (access_ok); lower hv.hva_base or give the slot an hva");
  EXPECT_EQ(spec_error(R"({"hva_base": 12345})"), "c.json: hv.hva_base: expected a multiple of 4 KiB, got 0x3039");
  // KVM lets slots alias HVAs; only their GPAs must be disjoint.
  EXPECT_EQ(
      spec_error(R"({"memslots": [{"size": "1MiB", "hva": "1GiB"}, {"gpa": "1MiB", "size": "1MiB", "hva": "1GiB"}]})"),
      "(no error)");
  EXPECT_EQ(spec_error(R"({"memslots": [{"gpa": "4MiB", "size": "1MiB"}, {"gpa": 0, "size": "1MiB"},
                                        {"gpa": "3MiB", "size": "2MiB"}]})"),
            "c.json: hv.memslots[2].gpa: slot [0x300000, 0x500000) overlaps hv.memslots[0]");
}

// Without `hva`, slots are laid out one after another from hv.hva_base, each
// aligned to its backing page size.
TEST(MemslotsConfig, DefaultHvasAreContiguousAndAligned) {
  const auto s = specs(
      R"({"hva_base": "0x7f0000001000", "memslots": [{"size": "1MiB"}, {"gpa": "1GiB", "size": "4MiB", "backing": "2M"},
      {"gpa": "2GiB", "size": 4096, "hva": "0x1000"}, {"gpa": "3GiB", "size": 4096}]})");
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].hva, 0x7f0000001000u);
  EXPECT_EQ(s[1].hva, 0x7f0000200000u);  // 0x7f0000101000 aligned up to 2 MiB
  EXPECT_EQ(s[2].hva, 0x1000u);
  EXPECT_EQ(s[3].hva, 0x2000u);  // after the previous slot
  EXPECT_EQ(specs("{}")[0].hva, 0x7f0000000000u);
}
