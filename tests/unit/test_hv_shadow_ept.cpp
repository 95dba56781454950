// hv::ShadowEpt: EPT02 built from an EPT12 kept bit-exact in L1's memory and
// L0's map of L1, checked by the hardware walker itself: one shadow page per
// EPT12 table, the smaller page size, the intersected permissions, reflected
// walks with their qualification, zaps on L1's writes, and the budget.
#include <gtest/gtest.h>

#include "ept/entry.hpp"
#include "ept/walker.hpp"
#include "fake_context.hpp"
#include "hv/nested/shadow_ept.hpp"
#include "models/mem_hierarchy.hpp"
#include "models/phys_mem.hpp"

using namespace vmxsim;
using namespace vmxsim::ept;

namespace {

// L1's memory is 64 MiB of host memory at `base`; L1 keeps EPT12 in it,
// allocating table pages upward from 32 MiB (L1-physical).
struct Nested {
  models::PhysMem mem{models::PhysMemParams{}};
  models::MemHierarchy hier{models::MemHierarchyParams{}};
  Walker walker{mem, hier};
  std::uint64_t l1_bytes;
  Addr base;
  Addr next_table = 32 << 20;
  Addr root12 = l1_table();
  unsigned l0_level = 2;  // L0 maps L1 with 2 MiB pages
  bool l0_writable = true;
  test::FakeContext ctx;
  hv::ShadowEptParams params;
  std::unique_ptr<hv::ShadowEpt> shadow;

  explicit Nested(std::uint64_t budget = 64, std::uint64_t l1_bytes_ = 64 << 20)
      : l1_bytes(l1_bytes_), base(mem.alloc_data(l1_bytes_, std::min<std::uint64_t>(l1_bytes_, 1u << 30))) {
    params.max_pages = budget;
    shadow = std::make_unique<hv::ShadowEpt>(mem, params);
  }
  Addr l1_table() {
    const Addr t = next_table;
    next_table += kPageSize4K;
    return t;
  }
  std::uint64_t read12(Addr l1_gpa) const { return mem.read(base + l1_gpa); }
  Addr entry12(Addr table, Addr l2_gpa, unsigned level) const { return table + index_at(l2_gpa, level) * 8; }
  // L1 maps L2 GPA `l2` to L1 GPA `l1` with a leaf at `leaf_level`.
  void map12(Addr l2, Addr l1, unsigned leaf_level, std::uint64_t perms, std::uint64_t table_perms = kPermMask) {
    Addr table = root12;
    for (unsigned level = 4;; --level) {
      const Addr at = entry12(table, l2, level);
      if (level == leaf_level) {
        mem.write(base + at, make_leaf(l1, level, perms));
        return;
      }
      std::uint64_t e = read12(at);
      if (!present(e)) {
        e = (l1_table() & kAddrMask) | table_perms;
        mem.write(base + at, e);
      }
      table = entry_addr(e);
    }
  }
  hv::Ept12Walk walk(Addr l2, AccessType t) const {
    return hv::walk_ept12(root12, 4, l2, t, [this](Addr g) { return read12(g); });
  }
  hv::MapL1 l0() const {
    return [this](Addr l1) { return hv::L0Mapping{l1 < l1_bytes, base + l1, l0_level, l0_writable}; };
  }
  hv::ShadowEpt::FillResult fault(Addr l2, AccessType t, std::vector<Addr>* shadowed = nullptr) {
    std::vector<Addr> s, zapped;
    shadow->root(ctx, root12, s);
    const hv::Ept12Walk w = walk(l2, t);
    EXPECT_TRUE(w.ok) << std::hex << l2;
    hv::ShadowEpt::FillResult r = shadow->fill(ctx, l2, w, l0(), zapped);
    if (shadowed) {
      *shadowed = s;
      shadowed->insert(shadowed->end(), r.newly_shadowed.begin(), r.newly_shadowed.end());
    }
    return r;
  }
  EptWalk hw(Addr l2, AccessType t) { return walker.translate(shadow->eptp(), l2, t); }
};

}  // namespace

TEST(ShadowEpt, A4KMappingOfL1IsShadowedTableByTable) {
  Nested n;
  n.map12(0x40000000, 0x00345000, 1, kPermMask);
  std::vector<Addr> shadowed;
  const auto r = n.fault(0x40000123, AccessType::Write, &shadowed);
  EXPECT_TRUE(r.installed);
  EXPECT_EQ(r.level, 1u);
  // The root and one shadow page per EPT12 table below it: all four EPT12 tables shadowed.
  EXPECT_EQ(n.shadow->pages(), 4u);
  EXPECT_EQ(shadowed.size(), 4u);
  for (Addr t : shadowed) EXPECT_TRUE(n.shadow->shadows(t));
  // The hardware walks EPT02 to L0's frame of L1's page.
  const EptWalk w = n.hw(0x40000123, AccessType::Write);
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.hpa, n.base + 0x00345123);
  EXPECT_EQ(w.page_shift, kPageShift4K);
  // A neighbour in the same EPT12 table reuses every shadow page.
  n.map12(0x40001000, 0x00346000, 1, kPermMask);
  const std::uint64_t hits = n.shadow->hash_hits;
  n.fault(0x40001000, AccessType::Read);
  EXPECT_EQ(n.shadow->pages(), 4u);
  EXPECT_EQ(n.shadow->hash_hits, hits);  // existing links are followed without a lookup
  ASSERT_NE(n.shadow->rmap(0x00346000), nullptr);
  EXPECT_EQ(n.shadow->rmap(0x00346000)->size(), 1u);
}

TEST(ShadowEpt, PageSizeIsTheSmallerOfL1sAndL0s) {
  Nested n;
  n.map12(0x40200000, 0x00400000, 2, kPermMask);  // L1 maps 2 MiB
  n.l0_level = 1;                                 // L0 maps L1 in 4 KiB pages
  const auto r = n.fault(0x40212345, AccessType::Read);
  EXPECT_EQ(r.level, 1u);
  const EptWalk w = n.hw(0x40212345, AccessType::Read);
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.hpa, n.base + 0x00412345);
  EXPECT_EQ(w.page_shift, kPageShift4K);
  // A direct shadow page maps the 2 MiB L1 page: the root, the PDPT and PD shadows, and one direct page.
  EXPECT_EQ(n.shadow->pages(), 4u);
  // With L0 at 2 MiB too, EPT02 maps 2 MiB.
  Nested m;
  m.map12(0x40200000, 0x00400000, 2, kPermMask);
  EXPECT_EQ(m.fault(0x40212345, AccessType::Read).level, 2u);
  EXPECT_EQ(m.hw(0x40212345, AccessType::Read).page_shift, kPageShift2M);
  EXPECT_EQ(m.shadow->pages(), 3u);
}

TEST(ShadowEpt, PermissionsAreTheIntersection) {
  Nested n;
  n.map12(0x40000000, 0x00345000, 1, kPermMask, /*table_perms=*/kRead | kExec);  // W cleared above the leaf
  const hv::Ept12Walk w = n.walk(0x40000000, AccessType::Write);
  EXPECT_FALSE(w.ok);  // EPT12 does not grant the write: L0 reflects it
  EXPECT_EQ(w.qual, qual::kWrite | ((kRead | kExec) << qual::kPermShift));
  n.fault(0x40000000, AccessType::Read);
  EXPECT_EQ(n.hw(0x40000000, AccessType::Read).perms, kRead | kExec);
  EXPECT_FALSE(n.hw(0x40000000, AccessType::Write).ok);
  // L0 write-protecting L1's page (dirty logging) removes W too.
  Nested m;
  m.map12(0x40000000, 0x00345000, 1, kPermMask);
  m.l0_writable = false;
  m.fault(0x40000000, AccessType::Read);
  EXPECT_EQ(m.hw(0x40000000, AccessType::Read).perms, kRead | kExec);
}

TEST(ShadowEpt, AnEpt12MissIsReflectedWithTheQualification) {
  Nested n;
  const hv::Ept12Walk w = n.walk(0x40000000, AccessType::Read);
  EXPECT_FALSE(w.ok);
  EXPECT_EQ(w.level, 4u);  // stopped at the root
  EXPECT_EQ(w.entries, 1u);
  EXPECT_EQ(w.qual, qual::kRead);  // nothing readable on the way
}

TEST(ShadowEpt, L1sWriteToAnEpt12EntryZapsExactlyItsShadow) {
  Nested n;
  n.map12(0x40000000, 0x00345000, 1, kPermMask);
  n.map12(0x40001000, 0x00346000, 1, kPermMask);
  n.fault(0x40000000, AccessType::Read);
  n.fault(0x40001000, AccessType::Read);
  // L1 rewrites the PTE of 0x40001000: that EPT02 leaf only goes.
  hv::Ept12Walk w = n.walk(0x40001000, AccessType::Read);
  std::vector<Addr> zapped;
  EXPECT_EQ(n.shadow->track_write(n.ctx, n.entry12(w.table_gpa[1], 0x40001000, 1), zapped), 1u);
  EXPECT_TRUE(zapped.empty());
  EXPECT_FALSE(n.hw(0x40001000, AccessType::Read).ok);
  EXPECT_TRUE(n.hw(0x40000000, AccessType::Read).ok);
  EXPECT_EQ(n.shadow->rmap(0x00346000), nullptr);
  // L1 rewrites the PDE above both: the PT's shadow page loses its only parent and is zapped.
  EXPECT_EQ(n.shadow->track_write(n.ctx, n.entry12(w.table_gpa[2], 0x40000000, 2), zapped), 1u);
  EXPECT_EQ(zapped.size(), 1u);
  EXPECT_FALSE(n.hw(0x40000000, AccessType::Read).ok);
  EXPECT_EQ(n.shadow->pages(), 3u);
  EXPECT_FALSE(n.shadow->shadows(w.table_gpa[1]));
  // A write to a table nobody shadows zaps nothing.
  EXPECT_EQ(n.shadow->track_write(n.ctx, 0x00100000, zapped), 0u);
}

TEST(ShadowEpt, TheBudgetZapsTheOldestPages) {
  // A budget of 8 pages: when fewer than 5 are free, zap the oldest (roots
  // kept) until 25 are free or nothing is left to zap.
  Nested n(/*budget=*/8);
  for (unsigned i = 0; i < 4; ++i)
    n.map12(0x40000000 + Addr(i) * (1 << 21), 0x00100000 + Addr(i) * 0x1000, 1, kPermMask);
  n.fault(0x40000000, AccessType::Read);  // root, PDPT, PD, PT0: 4 pages, 4 free
  // The next fault finds 4 free: the oldest non-root page, the PDPT's
  // shadow, is zapped, and the PD's and PT0's with it (parentless).
  n.fault(0x40200000, AccessType::Read);
  EXPECT_EQ(n.shadow->recycled, 1u);
  EXPECT_EQ(n.shadow->zapped_pages, 3u);
  EXPECT_EQ(n.shadow->pages(), 4u);                     // root, PDPT, PD, PT1 again
  EXPECT_FALSE(n.hw(0x40000000, AccessType::Read).ok);  // PT0's translation went with it
  EXPECT_TRUE(n.hw(0x40200000, AccessType::Read).ok);
}

// The coherence oracle: EPT02 stays the composition while L0 zaps on L1's
// writes; a write L0 did not see (no tracking) is caught, naming the address.
TEST(ShadowEpt, TheCoherenceOracleCatchesAnUntrackedEpt12Change) {
  Nested n;
  n.map12(0x40000000, 0x00345000, 1, kPermMask);
  n.map12(0x40200000, 0x00400000, 2, kRead);
  n.fault(0x40000000, AccessType::Write);
  n.fault(0x40200000, AccessType::Read);
  const auto read = [&n](Addr g) { return n.read12(g); };
  EXPECT_TRUE(n.shadow->check(read, n.l0()).empty());
  // L1 remaps 0x40000000 to another page; L0 is told: still coherent.
  const hv::Ept12Walk w = n.walk(0x40000000, AccessType::Read);
  const Addr pte = n.entry12(w.table_gpa[1], 0x40000000, 1);
  n.mem.write(n.base + pte, make_leaf(0x00999000, 1, kPermMask));
  std::vector<Addr> zapped;
  n.shadow->track_write(n.ctx, pte, zapped);
  EXPECT_TRUE(n.shadow->check(read, n.l0()).empty());
  // The same change unseen by L0 (the fault path, then a silent write).
  n.fault(0x40000000, AccessType::Read);
  n.mem.write(n.base + pte, make_leaf(0x00777000, 1, kPermMask));
  const auto bad = n.shadow->check(read, n.l0());
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].l2_gpa, 0x40000000u);
  EXPECT_NE(bad[0].why.find("host frame"), std::string::npos) << bad[0].why;
}

// Nested eager splitting (kvm_shadow_mmu_try_split_huge_pages): a 1 GiB
// EPT02 leaf splits to 2 MiB, then each 2 MiB one to 4 KiB, in two passes,
// with no flush when nothing is reused; the hardware walk still reaches the
// same frames, and the 4 KiB rmaps hold the new leaves.
TEST(ShadowEpt, EagerSplitTurnsOneGigabyteLeafIntoFourKilobyteOnes) {
  Nested n(2000, Addr{1} << 30);
  n.l0_level = 3;
  n.map12(0, 0, 3, kPermMask);  // L1 maps L2's first GiB with one 1 GiB page
  const auto r = n.fault(0x12345, AccessType::Write);
  ASSERT_EQ(r.level, 3u);
  ASSERT_NE(n.shadow->rmap(0, 3), nullptr);
  hv::ShadowEpt::SplitHooks hooks;
  const auto s = n.shadow->split_huge(n.ctx, 0, Addr{64} << 20, hooks);  // the first 64 MiB logged
  // 1 split at 1 GiB, then the 512 new 2 MiB leaves that lie inside the range: 32.
  EXPECT_EQ(s.splits, 33u);
  EXPECT_EQ(s.reused, 0u);
  EXPECT_EQ(s.flushes, 0u);
  EXPECT_EQ(s.refused, 0u);
  EXPECT_EQ(n.shadow->rmap(0, 3), nullptr);
  ASSERT_NE(n.shadow->rmap(0x12000, 1), nullptr);
  ASSERT_NE(n.shadow->rmap(Addr{100} << 20, 2), nullptr);  // outside the range: still 2 MiB
  const EptWalk w = n.hw(0x12345, AccessType::Write);
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.hpa, n.base + 0x12345);
  EXPECT_EQ(w.page_shift, kPageShift4K);
  EXPECT_TRUE(n.shadow->check([&n](Addr g) { return n.read12(g); }, n.l0()).empty());
  // Dirty logging's write-protection reaches every leaf through the rmaps.
  EXPECT_EQ(n.shadow->protect_range(n.ctx, 0, Addr{64} << 20), 32u * 512u);
  EXPECT_FALSE(n.hw(0x12345, AccessType::Write).ok);
  EXPECT_TRUE(n.hw(Addr{100} << 20, AccessType::Write).ok);  // outside the range
}

// Two L2 GiBs aliased (through EPT12) to one L1 GiB share shadow pages with
// one role: splitting the second reuses the first one's direct child, and
// flushes only because that child holds a non-leaf entry (the split unmaps
// part of the range: __link_shadow_page).
TEST(ShadowEpt, ASplitThatReusesAChildFlushesOnlyWhenTheChildHadATable) {
  Nested n(2000, Addr{1} << 30);
  n.l0_level = 3;
  n.map12(0, 0, 3, kPermMask);
  n.map12(Addr{1} << 30, 0, 3, kPermMask);              // L2's second GiB maps the same L1 GiB
  n.fault(0x5000, AccessType::Read);                    // 1 GiB leaf for the first
  n.l0_level = 1;                                       // L0 now maps 4 KiB only (as under dirty logging)
  n.fault((Addr{1} << 30) + 0x5000, AccessType::Read);  // the second: direct 2M and 4K children
  n.l0_level = 3;
  hv::ShadowEpt::SplitHooks hooks;
  // The first GiB's 1 GiB leaf splits into the direct 2 MiB-level page the
  // second GiB made: reused, and it holds a table (its entry 0): flush.
  auto s = n.shadow->split_huge(n.ctx, 0, kPageSize4K, hooks);
  EXPECT_EQ(s.reused, 1u);
  EXPECT_EQ(s.flushes, 1u);
  // A second pair whose shared child holds leaves only: reused, no flush.
  Nested m(2000);
  m.l0_level = 2;
  m.map12(0, 0, 2, kPermMask);
  m.map12(Addr{2} << 20, 0, 2, kPermMask);  // L2's second 2 MiB maps the same L1 2 MiB
  m.fault(0x5000, AccessType::Read);
  m.l0_level = 1;
  m.fault((Addr{2} << 20) + 0x5000, AccessType::Read);  // a direct 4 KiB-level page, one leaf
  m.l0_level = 2;
  s = m.shadow->split_huge(m.ctx, 0, kPageSize4K, hooks);
  EXPECT_EQ(s.splits, 1u);
  EXPECT_EQ(s.reused, 1u);
  EXPECT_EQ(s.flushes, 0u);
  EXPECT_TRUE(m.shadow->check([&m](Addr g) { return m.read12(g); }, m.l0()).empty());
}

// The split refuses once no more than KVM_MIN_FREE_MMU_PAGES remain.
TEST(ShadowEpt, EagerSplitRefusesAtTheMinimumFree) {
  Nested n(11);  // 3 pages in use (root, PDPT, PD): room for 3 splits above min_free 5
  n.l0_level = 2;
  for (Addr a = 0; a < (Addr{8} << 20); a += Addr{2} << 20) n.map12(a, a, 2, kPermMask);
  for (Addr a = 0; a < (Addr{8} << 20); a += Addr{2} << 20) n.fault(a, AccessType::Read);
  ASSERT_EQ(n.shadow->pages(), 3u);  // root, PDPT and PD shadows; the PD holds four 2 MiB leaves
  hv::ShadowEpt::SplitHooks hooks;
  const auto s = n.shadow->split_huge(n.ctx, 0, Addr{8} << 20, hooks);
  EXPECT_EQ(s.splits, 3u);  // 3 + 3 = 6 pages: 11 - 6 = 5 available, the minimum
  EXPECT_EQ(s.refused, 1u);
  EXPECT_EQ(n.shadow->pages(), 6u);
}
