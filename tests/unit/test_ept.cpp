// EPT entry format, the EPT walker (A/D, violations, leaf sizes) and the
// hypervisor's mapping path.
#include <gtest/gtest.h>

#include "ept/entry.hpp"
#include "ept/walker.hpp"
#include "fake_context.hpp"
#include "hv/mmu.hpp"
#include "models/mem_hierarchy.hpp"
#include "models/phys_mem.hpp"

using namespace vmxsim;
using namespace vmxsim::ept;

TEST(EptEntry, BitLayoutMatchesSdm) {
  EXPECT_EQ(kRead, 1u);
  EXPECT_EQ(kWrite, 2u);
  EXPECT_EQ(kExec, 4u);
  EXPECT_EQ(kIgnorePat, 1u << 6);
  EXPECT_EQ(kPageSize, 1u << 7);
  EXPECT_EQ(kAccessed, 1u << 8);
  EXPECT_EQ(kDirty, 1u << 9);
  EXPECT_EQ(kHostWritable, 1ull << 57);
  EXPECT_EQ(kMmuWritable, 1ull << 58);
  EXPECT_EQ(kSuppressVe, 1ull << 63);
}

TEST(EptEntry, EncodeDecodeLeavesAndTables) {
  const std::uint64_t leaf4k = make_leaf(0x12345000, 1, kRead | kWrite);
  EXPECT_EQ(leaf4k, 0x12345000ull | 3 | (6u << 3));  // WB memory type in bits 5:3
  EXPECT_TRUE(present(leaf4k));
  EXPECT_TRUE(is_leaf(leaf4k, 1));
  EXPECT_EQ(entry_addr(leaf4k, 1), 0x12345000u);

  const std::uint64_t leaf2m = make_leaf(0x40200000, 2, kPermMask);
  EXPECT_TRUE(leaf2m & kPageSize);
  EXPECT_TRUE(is_leaf(leaf2m, 2));
  EXPECT_EQ(entry_addr(leaf2m, 2), 0x40200000u);
  // Bits 20:12 of a 2 MiB leaf are reserved, not address.
  EXPECT_EQ(entry_addr(leaf2m | 0x1000, 2), 0x40200000u);

  const std::uint64_t table = make_table(0xABC000);
  EXPECT_FALSE(is_leaf(table, 2));
  EXPECT_EQ(entry_addr(table, 2), 0xABC000u);
  EXPECT_EQ(table & kPermMask, kPermMask);
  EXPECT_FALSE(present(0));
  EXPECT_FALSE(present(kAccessed | 0x5000));  // bits 2:0 decide presence
  // Address bits stop at 51.
  EXPECT_EQ(entry_addr(make_leaf(~0ull & ~0xFFFull, 1, kRead), 1), 0x000FFFFFFFFFF000ull);
}

TEST(EptEntry, IndexAndShiftPerLevel) {
  const Addr gpa = (Addr{0x1A5} << 39) | (Addr{0x0F3} << 30) | (Addr{0x111} << 21) | (Addr{0x0AB} << 12) | 0x123;
  EXPECT_EQ(index_at(gpa, 4), 0x1A5u);
  EXPECT_EQ(index_at(gpa, 3), 0x0F3u);
  EXPECT_EQ(index_at(gpa, 2), 0x111u);
  EXPECT_EQ(index_at(gpa, 1), 0x0ABu);
  EXPECT_EQ(level_shift(1), 12u);
  EXPECT_EQ(level_shift(2), 21u);
  EXPECT_EQ(level_shift(3), 30u);
}

TEST(EptEntry, EptpFields) {
  const Eptp p = Eptp::make(0x7654000, 4, true);
  EXPECT_EQ(p.raw, 0x7654000ull | 6 | (3u << 3) | (1u << 6));
  EXPECT_EQ(p.root(), 0x7654000u);
  EXPECT_EQ(p.levels(), 4u);
  EXPECT_TRUE(p.ad_enabled());
  const Eptp q = Eptp::make(0x1000, 5, false);
  EXPECT_EQ(q.levels(), 5u);
  EXPECT_FALSE(q.ad_enabled());
}

namespace {

// Builds EPT tables by hand so the walker is tested independently of hv::Mmu.
struct Tables {
  models::PhysMem mem{models::PhysMemParams{}};
  models::MemHierarchy hier{models::MemHierarchyParams{}};
  Walker walker{mem, hier};
  Addr root = mem.alloc_table();

  // Map `gpa` with a leaf at `leaf_level`; returns the HPA of each entry used, root first.
  std::vector<Addr> map(Addr gpa, Addr hpa, unsigned leaf_level, std::uint64_t perms,
                        std::uint64_t table_perms = kPermMask) {
    std::vector<Addr> used;
    Addr table = root;
    for (unsigned level = 4;; --level) {
      const Addr at = table + index_at(gpa, level) * 8;
      used.push_back(at);
      if (level == leaf_level) {
        mem.write(at, make_leaf(hpa, level, perms));
        return used;
      }
      std::uint64_t e = mem.read(at);
      if (!present(e)) {
        e = make_table(mem.alloc_table()) & ~kPermMask;
        e |= table_perms;
        mem.write(at, e);
      }
      table = entry_addr(e);
    }
  }
  Eptp eptp(bool ad = true) const { return Eptp::make(root, 4, ad); }
};

}  // namespace

TEST(EptWalker, TranslatesA4KPageWithFourReferences) {
  Tables t;
  t.map(0x12345000, 0x9999000, 1, kPermMask);
  const EptWalk w = t.walker.translate(t.eptp(), 0x12345678, AccessType::Read);
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.hpa, 0x9999678u);
  EXPECT_EQ(w.page_shift, 12);
  EXPECT_EQ(w.refs, 4u);
  // Cold: four different lines, each from DRAM; a second walk hits L1D.
  EXPECT_EQ(w.cycles, 4 * models::MemHierarchyParams{}.dram_latency_cycles);
  EXPECT_EQ(t.walker.translate(t.eptp(), 0x12345678, AccessType::Read).cycles,
            4 * models::MemHierarchyParams{}.l1d.latency_cycles);
  EXPECT_EQ(w.perms, kPermMask);
}

TEST(EptWalker, ReadSetsAccessedOnEveryEntryAndNoDirty) {
  Tables t;
  const auto used = t.map(0x12345000, 0x9999000, 1, kPermMask);
  const EptWalk w = t.walker.translate(t.eptp(), 0x12345000, AccessType::Read);
  ASSERT_TRUE(w.ok);
  for (Addr at : used) {
    EXPECT_TRUE(t.mem.read(at) & kAccessed) << std::hex << at;
    EXPECT_FALSE(t.mem.read(at) & kDirty) << std::hex << at;
  }
  EXPECT_FALSE(w.dirty);
  EXPECT_EQ(t.walker.a_set, 4u);
  EXPECT_EQ(t.walker.d_set, 0u);
}

TEST(EptWalker, WriteSetsDirtyOnTheLeafOnly) {
  Tables t;
  const auto used = t.map(0x12345000, 0x9999000, 1, kPermMask);
  const EptWalk w = t.walker.translate(t.eptp(), 0x12345000, AccessType::Write);
  ASSERT_TRUE(w.ok);
  EXPECT_TRUE(w.dirty);
  for (std::size_t i = 0; i < used.size(); ++i) {
    EXPECT_TRUE(t.mem.read(used[i]) & kAccessed);
    EXPECT_EQ(bool(t.mem.read(used[i]) & kDirty), i + 1 == used.size()) << i;
  }
  EXPECT_EQ(t.walker.d_set, 1u);
  // A second write finds D set and sets nothing.
  t.walker.translate(t.eptp(), 0x12345000, AccessType::Write);
  EXPECT_EQ(t.walker.d_set, 1u);
  EXPECT_EQ(t.walker.a_set, 4u);
}

TEST(EptWalker, NoFlagsWithoutEptpAdEnable) {
  Tables t;
  const auto used = t.map(0x5000, 0x8000, 1, kPermMask);
  const EptWalk w = t.walker.translate(t.eptp(false), 0x5000, AccessType::Write);
  ASSERT_TRUE(w.ok);
  EXPECT_TRUE(w.dirty);  // nothing to set: writes need no further walk
  for (Addr at : used) EXPECT_EQ(t.mem.read(at) & (kAccessed | kDirty), 0u);
}

TEST(EptWalker, TwoMegAndOneGigLeaves) {
  Tables t;
  const auto u2 = t.map(0x40200000, 0x80000000, 2, kPermMask);
  EptWalk w = t.walker.translate(t.eptp(), 0x403FFFF8, AccessType::Write);
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.page_shift, 21);
  EXPECT_EQ(w.hpa, 0x801FFFF8u);
  EXPECT_EQ(w.refs, 3u);
  EXPECT_TRUE(t.mem.read(u2.back()) & kDirty);

  const auto u1 = t.map(Addr{5} << 30, Addr{7} << 30, 3, kRead);
  w = t.walker.translate(t.eptp(), (Addr{5} << 30) + 0x12345678, AccessType::Read);
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.page_shift, 30);
  EXPECT_EQ(w.hpa, (Addr{7} << 30) + 0x12345678);
  EXPECT_EQ(w.refs, 2u);
  EXPECT_EQ(w.leaf_level, 3);
  EXPECT_EQ(u1.size(), 2u);
}

TEST(EptWalker, NotPresentViolationQualification) {
  Tables t;
  const EptWalk r = t.walker.translate(t.eptp(), 0x1000, AccessType::Read);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.refs, 1u);  // the PML4E is not present
  // bit 0 read; bits 5:3 = 0 (AND includes the non-present entry); bit 7 GLA valid; bit 8 final.
  EXPECT_EQ(r.qual, qual::kRead | qual::kGlaValid | qual::kFinalTranslation);
  EXPECT_EQ(r.qual, 0x181u);
  const EptWalk w = t.walker.translate(t.eptp(), 0x1000, AccessType::Write);
  EXPECT_EQ(w.qual, 0x182u);
  const EptWalk x = t.walker.translate(t.eptp(), 0x1000, AccessType::Exec);
  EXPECT_EQ(x.qual, 0x184u);
}

TEST(EptWalker, PermissionViolationReportsAndedPermissions) {
  Tables t;
  const auto used = t.map(0x7000, 0x9000, 1, kRead | kExec);
  const EptWalk w = t.walker.translate(t.eptp(), 0x7008, AccessType::Write);
  EXPECT_FALSE(w.ok);
  EXPECT_EQ(w.refs, 4u);
  EXPECT_EQ(w.qual, qual::kWrite | ((kRead | kExec) << qual::kPermShift) | qual::kGlaValid | qual::kFinalTranslation);
  // A faulting walk sets no flag.
  for (Addr at : used) EXPECT_EQ(t.mem.read(at) & kAccessed, 0u);
  // The AND covers non-leaf entries too: a read-only PDPTE removes W and X.
  Tables u;
  u.map(0x7000, 0x9000, 1, kPermMask, kRead);
  const EptWalk x = u.walker.translate(u.eptp(), 0x7000, AccessType::Exec);
  EXPECT_FALSE(x.ok);
  EXPECT_EQ((x.qual >> qual::kPermShift) & 7, kRead);
  EXPECT_TRUE(u.walker.translate(u.eptp(), 0x7000, AccessType::Read).ok);
}

TEST(EptWalker, GuestPagingPurposeClearsBit8) {
  Tables t;
  const EptWalk w = t.walker.translate(t.eptp(), 0x1000, AccessType::Write, WalkPurpose::kGuestPaging);
  EXPECT_EQ(w.qual, qual::kWrite | qual::kGlaValid);
  const EptWalk n = t.walker.translate(t.eptp(), 0x1000, AccessType::Read, WalkPurpose::kFinal, false);
  EXPECT_EQ(n.qual, qual::kRead);
}

// kvm-unit-tests' EPT access tests, the rows a model without execute-only or
// write-only leaves can reach: read-only and read-execute leaves, each with a
// read, a write and a fetch (SDM §27.2.1 qualification; R/W/X in bits 5:3).
TEST(EptWalker, PermissionTableOfReadOnlyAndReadExecuteLeaves) {
  const std::uint64_t kFinal = qual::kGlaValid | qual::kFinalTranslation;
  struct Row {
    std::uint64_t leaf;
    AccessType op;
    bool ok;
    std::uint64_t qual;
  } rows[] = {
      {kRead, AccessType::Read, true, 0},
      {kRead, AccessType::Write, false, qual::kWrite | (kRead << qual::kPermShift) | kFinal},
      {kRead, AccessType::Exec, false, qual::kFetch | (kRead << qual::kPermShift) | kFinal},
      {kRead | kExec, AccessType::Read, true, 0},
      {kRead | kExec, AccessType::Write, false, qual::kWrite | ((kRead | kExec) << qual::kPermShift) | kFinal},
      {kRead | kExec, AccessType::Exec, true, 0},
  };
  for (const Row& r : rows) {
    Tables t;
    t.map(0x7000, 0x9000, 1, r.leaf);
    const EptWalk w = t.walker.translate(t.eptp(), 0x7000, r.op);
    EXPECT_EQ(w.ok, r.ok) << r.leaf << " " << int(r.op);
    EXPECT_FALSE(w.misconfig);
    if (!r.ok) EXPECT_EQ(w.qual, r.qual) << std::hex << w.qual;
  }
  EXPECT_EQ(0x1aau, qual::kWrite | ((kRead | kExec) << qual::kPermShift) | kFinal);  // the read-only memslot write
}

// SDM §28.2.3.1: misconfigured entries end the walk with exit reason 49 (no
// qualification, no flag set), before any permission check.
TEST(EptWalker, MisconfiguredEntriesAreDetected) {
  EXPECT_TRUE(misconfigured(kWrite, 1));                        // write-only
  EXPECT_TRUE(misconfigured(kWrite | kExec, 1));                // write-execute: KVM's MMIO entries
  EXPECT_FALSE(misconfigured(make_leaf(0x5000, 1, kExec), 1));  // execute-only is allowed
  for (unsigned mt : {2u, 3u, 7u})
    EXPECT_TRUE(misconfigured((make_leaf(0x5000, 1, kRead) & ~kMemTypeMask) | (mt << kMemTypeShift), 1)) << mt;
  for (unsigned mt : {0u, 1u, 4u, 5u, 6u})
    EXPECT_FALSE(misconfigured((make_leaf(0x5000, 1, kRead) & ~kMemTypeMask) | (mt << kMemTypeShift), 1)) << mt;
  EXPECT_TRUE(misconfigured(make_table(0x5000) | (1u << 3), 2));              // bits 7:3 of a non-leaf entry
  EXPECT_TRUE(misconfigured(make_table(0x5000) | kPageSize, 4));              // no PML4E maps a page
  EXPECT_TRUE(misconfigured(make_leaf(0x40200000, 2, kRead) | 0x1000, 2));    // a 2 MiB frame's bit 12
  EXPECT_TRUE(misconfigured(make_leaf(0x40000000, 3, kRead) | 0x200000, 3));  // a 1 GiB frame's bit 21
  EXPECT_FALSE(misconfigured(make_leaf(0x40200000, 2, kRead) | kAccessed | kDirty | kHostWritable, 2));
  EXPECT_FALSE(misconfigured(make_table(0x5000) | kAccessed, 3));

  // In a walk: a corrupted PDE stops it at level 2.
  Tables t;
  const auto used = t.map(0x7000, 0x9000, 1, kPermMask);
  t.mem.write(used[2], t.mem.read(used[2]) | (1u << 4));
  const EptWalk w = t.walker.translate(t.eptp(), 0x7000, AccessType::Read);
  EXPECT_FALSE(w.ok);
  EXPECT_TRUE(w.misconfig);
  EXPECT_EQ(w.leaf_level, 2u);
  EXPECT_EQ(w.refs, 3u);
  EXPECT_EQ(w.qual, 0u);
  for (Addr at : used) EXPECT_EQ(t.mem.read(at) & kAccessed, 0u);
  // A misconfiguration takes priority over a violation on the same entry.
  Tables u;
  const auto u_used = u.map(0x7000, 0x9000, 1, kRead);
  u.mem.write(u_used[3], (u.mem.read(u_used[3]) & ~kMemTypeMask) | (7u << kMemTypeShift));
  EXPECT_TRUE(u.walker.translate(u.eptp(), 0x7000, AccessType::Write).misconfig);
}

// ---- hv::Mmu: mapping at the largest allowed level ------------------------

namespace {
struct MmuFixture {
  models::PhysMem mem{models::PhysMemParams{}};
  hv::MmuParams params;
  std::unique_ptr<hv::Mmu> mmu;
  test::FakeContext ctx;
  explicit MmuFixture(std::uint8_t max_shift = kPageShift1G) {
    params.max_page_shift = max_shift;
    mmu = std::make_unique<hv::Mmu>(mem, params);
  }
};
hv::Memslot slot(Addr gpa, std::uint64_t size, Addr hpa, std::uint8_t shift) {
  hv::Memslot s;
  s.gpa = gpa;
  s.size = size;
  s.hpa = hpa;
  s.backing_shift = shift;
  return s;
}
}  // namespace

TEST(Mmu, MaxLevelFollowsBackingBoundsAlignmentAndLimit) {
  MmuFixture f;
  const auto gig = slot(0, Addr{4} << 30, Addr{1} << 32, kPageShift1G);
  EXPECT_EQ(f.mmu->max_level(gig, 0x12345000), 3u);
  const auto two = slot(0, Addr{4} << 30, Addr{1} << 32, kPageShift2M);
  EXPECT_EQ(f.mmu->max_level(two, 0x12345000), 2u);
  const auto four = slot(0, Addr{4} << 30, Addr{1} << 32, kPageShift4K);
  EXPECT_EQ(f.mmu->max_level(four, 0x12345000), 1u);
  // The 2 MiB region around the GPA leaves the slot: 4 KiB only.
  const auto small = slot(0x200000, 0x100000, Addr{1} << 32, kPageShift2M);
  EXPECT_EQ(f.mmu->max_level(small, 0x200000), 1u);
  // GPA and HPA disagree within a 2 MiB page: 4 KiB only.
  const auto skew = slot(0x1000, Addr{1} << 30, Addr{1} << 32, kPageShift2M);
  EXPECT_EQ(f.mmu->max_level(skew, 0x400000), 1u);
  MmuFixture capped(kPageShift2M);
  EXPECT_EQ(capped.mmu->max_level(gig, 0x12345000), 2u);
}

TEST(Mmu, MapInstallsKvmStyleLeafThatTheWalkerTranslates) {
  MmuFixture f;
  const auto s = slot(0, Addr{1} << 30, Addr{1} << 32, kPageShift2M);
  const auto r = f.mmu->map(f.ctx, s, 0x12345678);
  EXPECT_TRUE(r.installed);
  EXPECT_EQ(r.level, 2u);
  EXPECT_EQ(f.mmu->maps[2], 1u);
  EXPECT_EQ(f.mmu->tables_allocated, 3u);  // root + PDPT + PD
  const hv::MmuParams d;
  // The leaf's install updates kvm->stat.pages: an atomic whose line comes
  // from elsewhere the first time.
  EXPECT_EQ(f.ctx.t, 3 * d.pt_level + 2 * d.pt_alloc + d.spte_set + d.line_transfer);

  models::MemHierarchy hier{models::MemHierarchyParams{}};
  Walker w(f.mem, hier);
  const EptWalk t = w.translate(f.mmu->eptp(), 0x12345678, AccessType::Write);
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.hpa, (Addr{1} << 32) + 0x12345678);
  EXPECT_EQ(t.page_shift, 21);
  // make_spte(): installed accessed and dirty, so this write set no D.
  EXPECT_EQ(w.d_set, 0u);
  // Find the leaf and check its software bits and memory type.
  Addr table = f.mmu->eptp().root();
  std::uint64_t e = 0;
  for (unsigned level = 4; level >= 2; --level) {
    e = f.mem.read(table + index_at(0x12345678, level) * 8);
    table = entry_addr(e);
  }
  EXPECT_TRUE(e & kHostWritable);
  EXPECT_TRUE(e & kMmuWritable);
  EXPECT_TRUE(e & kIgnorePat);
  EXPECT_EQ((e & kMemTypeMask) >> kMemTypeShift, unsigned(kWriteBack));

  // Mapping again is a no-op: the GPA is already covered.
  const auto again = f.mmu->map(f.ctx, s, 0x12300000);
  EXPECT_FALSE(again.installed);
  EXPECT_EQ(f.mmu->already_mapped, 1u);
}

TEST(Mmu, FiveLevelEptWalksFiveEntries) {
  models::PhysMem mem{models::PhysMemParams{}};
  hv::MmuParams p;
  p.levels = 5;
  hv::Mmu mmu(mem, p);
  test::FakeContext ctx;
  const auto s = slot(Addr{1} << 48, Addr{1} << 30, Addr{1} << 32, kPageShift4K);
  mmu.map(ctx, s, (Addr{1} << 48) + 0x5000);
  models::MemHierarchy hier{models::MemHierarchyParams{}};
  Walker w(mem, hier);
  const EptWalk t = w.translate(mmu.eptp(), (Addr{1} << 48) + 0x5010, AccessType::Read);
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.refs, 5u);
  EXPECT_EQ(t.hpa, (Addr{1} << 32) + 0x5010);
}
