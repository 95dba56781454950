// The two-dimensional (guest × EPT) walk: reference counts (24 and 35 cold),
// guest and EPT accessed/dirty flags, page-size combination, violations during
// the guest walk (qualification bit 8 = 0), guest faults, and the exact savings
// of the paging-structure caches.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "ept/entry.hpp"
#include "ept/guest_entry.hpp"
#include "ept/walker.hpp"
#include "fake_context.hpp"
#include "hv/mmu.hpp"
#include "models/mem_hierarchy.hpp"
#include "models/phys_mem.hpp"
#include "models/pwc.hpp"

using namespace vmxsim;
using namespace vmxsim::ept;

namespace {

// A guest whose page tables are built by hand in guest memory (one memslot at
// GPA 0 on 4 KiB host pages), with the EPT built by hv::Mmu.
struct Guest {
  unsigned glevels, elevels;
  models::PhysMem mem{models::PhysMemParams{}};
  models::MemHierarchy hier{models::MemHierarchyParams{}};
  std::unique_ptr<hv::Mmu> mmu;
  Walker walker{mem, hier};
  hv::Memslot slot;
  test::FakeContext ctx;
  Addr next_table = 0x100000;  // guest-physical frames for guest page tables
  GuestPaging paging;

  explicit Guest(unsigned guest_levels = 4, unsigned ept_levels = 4, bool ept_ad = true)
      : glevels(guest_levels), elevels(ept_levels) {
    hv::MmuParams p;
    p.levels = ept_levels;
    p.ad = ept_ad;
    mmu = std::make_unique<hv::Mmu>(mem, p);
    slot.gpa = 0;
    slot.size = Addr{1} << 30;
    slot.backing_shift = kPageShift4K;
    slot.hpa = mem.alloc_data(slot.size, kPageSize4K);
    paging.cr3 = new_table();
    paging.levels = guest_levels;
  }
  Addr new_table() {
    const Addr gpa = next_table;
    next_table += kPageSize4K;
    mmu->map(ctx, slot, gpa);  // EPT-map the page-table page
    mem.materialize(slot.hpa_of(gpa));
    return gpa;
  }
  Addr hpa(Addr gpa) const { return slot.hpa_of(gpa); }
  // Map gva → gpa with a guest leaf at `leaf_level`; EPT-maps the data page too.
  // Returns the GPAs of the guest tables used, top first.
  std::vector<Addr> map(Addr gva, Addr gpa, unsigned leaf_level = 1, bool writable = true) {
    std::vector<Addr> tables;
    Addr table = paging.cr3;
    for (unsigned level = glevels;; --level) {
      tables.push_back(table);
      const Addr at = hpa(table) + guest::index_at(gva, level) * 8;
      if (level == leaf_level) {
        mem.write(at, guest::make_leaf(gpa, level, writable));
        break;
      }
      std::uint64_t e = mem.read(at);
      if (!guest::present(e)) {
        e = guest::make_table(new_table());
        mem.write(at, e);
      }
      table = guest::entry_addr(e, level);
    }
    mmu->map(ctx, slot, gpa);
    return tables;
  }
  // The EPT leaf entry's HPA for `gpa`.
  Addr ept_leaf(Addr gpa) {
    Addr table = mmu->eptp().root();
    for (unsigned level = elevels;; --level) {
      const Addr at = table + index_at(gpa, level) * 8;
      const std::uint64_t e = mem.read(at);
      if (is_leaf(e, level)) return at;
      table = entry_addr(e);
    }
  }
  // The GPA of the level-`level` guest entry for `gva` in table `table`.
  static Addr entry_gpa(Addr table, Addr gva, unsigned level) { return table + guest::index_at(gva, level) * 8; }
  void clear_ept_write(Addr gpa) { mem.write(ept_leaf(gpa), mem.read(ept_leaf(gpa)) & ~kWrite); }
  void set_ept_write(Addr gpa) { mem.write(ept_leaf(gpa), mem.read(ept_leaf(gpa)) | kWrite); }
  std::uint64_t guest_entry(Addr table, Addr gva, unsigned level) {
    return mem.read(hpa(entry_gpa(table, gva, level)));
  }
  void clear_ept_dirty(Addr gpa) { mem.write(ept_leaf(gpa), mem.read(ept_leaf(gpa)) & ~kDirty); }
  Walk2d walk(Addr gva, AccessType t, models::Pwc* pwc = nullptr) {
    return walker.translate_2d(mmu->eptp(), paging, gva, t, pwc);
  }
};

}  // namespace

TEST(Walk2d, ColdFourOverFourIs24References) {
  Guest g;
  g.map(0x7f0012345000, 0x2345000);
  const Walk2d w = g.walk(0x7f0012345678, AccessType::Read);
  ASSERT_EQ(w.status, WalkStatus::kOk);
  EXPECT_EQ(w.refs, 24u);
  EXPECT_EQ(w.guest_refs, 4u);
  EXPECT_EQ(w.gpa, 0x2345678u);
  EXPECT_EQ(w.hpa, g.hpa(0x2345678));
  EXPECT_EQ(w.page_shift, 12);
}

TEST(Walk2d, ColdFiveOverFiveIs35References) {
  Guest g(5, 5);
  g.map(0x00ff7f0012345000, 0x2345000);
  const Walk2d w = g.walk(0x00ff7f0012345008, AccessType::Write);
  ASSERT_EQ(w.status, WalkStatus::kOk);
  EXPECT_EQ(w.refs, 35u);
  EXPECT_EQ(w.guest_refs, 5u);
}

TEST(Walk2d, GuestAndEptAccessedDirtyFlags) {
  Guest g;
  const auto tables = g.map(0x400000, 0x800000);
  // Start as dirty logging would leave things: no EPT D anywhere.
  for (Addr t : tables) g.clear_ept_dirty(t);
  g.clear_ept_dirty(0x800000);

  Walk2d r = g.walk(0x400010, AccessType::Read);
  ASSERT_EQ(r.status, WalkStatus::kOk);
  // Guest A on every guest entry used, no guest D.
  for (unsigned i = 0; i < tables.size(); ++i) {
    const std::uint64_t e = g.mem.read(g.hpa(tables[i]) + guest::index_at(0x400010, 4 - i) * 8);
    EXPECT_TRUE(e & guest::kAccessed) << i;
    EXPECT_FALSE(e & guest::kDirty) << i;
  }
  // With EPT A/D on, the guest paging-structure accesses were EPT writes:
  // EPT D is now set on every guest page-table page, but not on the data page.
  for (Addr t : tables) EXPECT_TRUE(g.mem.read(g.ept_leaf(t)) & kDirty) << std::hex << t;
  EXPECT_TRUE(g.mem.read(g.ept_leaf(0x800000)) & kAccessed);
  EXPECT_FALSE(g.mem.read(g.ept_leaf(0x800000)) & kDirty);
  EXPECT_FALSE(r.dirty);

  Walk2d w = g.walk(0x400010, AccessType::Write);
  ASSERT_EQ(w.status, WalkStatus::kOk);
  EXPECT_TRUE(w.dirty);
  const std::uint64_t pte = g.mem.read(g.hpa(tables[3]) + guest::index_at(0x400010, 1) * 8);
  EXPECT_TRUE(pte & guest::kDirty);
  EXPECT_TRUE(g.mem.read(g.ept_leaf(0x800000)) & kDirty);
  EXPECT_EQ(g.walker.guest_d_set, 1u);
  EXPECT_EQ(g.walker.guest_a_set, 4u);
}

TEST(Walk2d, TwoMegGuestPageOverFourKEptPagesGivesA4KTranslation) {
  Guest g;
  g.map(0x40000000, 0x600000, 2);  // guest PDE maps 2 MiB; EPT maps 4 KiB (4K backing)
  g.mmu->map(g.ctx, g.slot, 0x6ff000);
  const Walk2d w = g.walk(0x400ff123, AccessType::Read);
  ASSERT_EQ(w.status, WalkStatus::kOk);
  EXPECT_EQ(w.gpa, 0x6ff123u);
  EXPECT_EQ(w.page_shift, 12);  // min(2 MiB guest, 4 KiB EPT)
  EXPECT_EQ(w.guest_refs, 3u);
  EXPECT_EQ(w.refs, 3u * 5 + 4);
}

TEST(Walk2d, ReadOnlyEptMappingOfAGuestPageTableFaultsWithBit8Clear) {
  Guest g;
  const auto tables = g.map(0x400000, 0x800000);
  // Write-protect the EPT mapping of the guest PD page (as KVM does for a
  // shadowed or tracked page).
  const Addr leaf = g.ept_leaf(tables[2]);
  g.mem.write(leaf, g.mem.read(leaf) & ~kWrite);
  const Walk2d w = g.walk(0x400000, AccessType::Read);
  ASSERT_EQ(w.status, WalkStatus::kEptViolation);
  EXPECT_EQ(w.fault_gpa, Guest::entry_gpa(tables[2], 0x400000, 2));  // the PDE's GPA
  // A/D on: the guest paging access reads and updates the entry: bits 0 and 1
  // (as hardware reports it); R and X remain (bits 3, 5); bit 7 GLA valid;
  // bit 8 clear: an access to a guest paging-structure entry.
  EXPECT_EQ(w.qual, qual::kRead | qual::kWrite | ((kRead | kExec) << qual::kPermShift) | qual::kGlaValid);
  EXPECT_EQ(w.qual, 0xABu);
  EXPECT_EQ(w.guest_refs, 2u);  // PML4E and PDPTE were read before the fault
}

TEST(Walk2d, FinalGpaViolationHasBit8Set) {
  Guest g;
  g.map(0x400000, 0x800000);
  const Addr leaf = g.ept_leaf(0x800000);
  g.mem.write(leaf, 0);  // zap the data page's EPT entry
  const Walk2d w = g.walk(0x400000, AccessType::Write);
  ASSERT_EQ(w.status, WalkStatus::kEptViolation);
  EXPECT_EQ(w.fault_gpa, 0x800000u);
  EXPECT_EQ(w.qual, qual::kWrite | qual::kGlaValid | qual::kFinalTranslation);
}

TEST(Walk2d, GuestFaults) {
  Guest g;
  g.map(0x400000, 0x800000, 1, /*writable=*/false);
  const Walk2d np = g.walk(0x9000000, AccessType::Read);
  EXPECT_EQ(np.status, WalkStatus::kGuestFault);
  EXPECT_EQ(np.pf_error, 4u);  // not present, read, user
  const Walk2d ro = g.walk(0x400000, AccessType::Write);
  EXPECT_EQ(ro.status, WalkStatus::kGuestFault);
  EXPECT_EQ(ro.pf_error, 1u | 2u | 4u);  // protection, write, user
  EXPECT_EQ(g.walk(0x400000, AccessType::Read).status, WalkStatus::kOk);
}

TEST(Walk2d, PagingStructureCachesCutReferencesExactly) {
  Guest g;
  g.map(0x400000, 0x800000);
  g.map(0x401000, 0x801000);    // same 2 MiB region: same guest PT
  g.map(0x40000000, 0x900000);  // another 1 GiB region: new PDPT entry's subtree
  models::PwcParams p;
  models::Pwc pwc(p);
  // Cold: nothing cached.
  EXPECT_EQ(g.walk(0x400000, AccessType::Read, &pwc).refs, 24u);
  // Same 2 MiB region: the PDE cache hits (start at the PT) and the EPT walk
  // cache holds the PT page: 1 guest reference + 4 for the final EPT walk.
  EXPECT_EQ(g.walk(0x401000, AccessType::Read, &pwc).refs, 5u);
  // Another 1 GiB region: the PML4E cache hits (start at the PDPT); the PDPT
  // page's EPT translation is cached, the new PD and PT pages' are not:
  // PDPTE (1) + PD (4+1) + PT (4+1) + final (4).
  EXPECT_EQ(g.walk(0x40000000, AccessType::Read, &pwc).refs, 1u + 5 + 5 + 4);

  // Without the EPT walk cache, the PDE-cache hit still needs the PT page's EPT walk.
  models::PwcParams q;
  q.ept.entries = 0;
  models::Pwc no_ept(q);
  EXPECT_EQ(g.walk(0x400000, AccessType::Read, &no_ept).refs, 24u);
  EXPECT_EQ(g.walk(0x401000, AccessType::Read, &no_ept).refs, 4u + 1 + 4);
}

TEST(Walk2d, PagingStructureCacheKeepsTheRightsOfTheLevelsAbove) {
  // A read-only PDPTE forbids writes below it. Once a read has cached the PDE
  // (whose own entry is writable), a write that starts its walk at the PDE
  // cache must still see the PDPTE's R/W = 0 (SDM §4.10.3: a PSC entry holds
  // the rights combined down to it).
  Guest g;
  const auto tables = g.map(0x400000, 0x800000);
  const Addr pdpte = g.hpa(tables[1]) + guest::index_at(0x400000, 3) * 8;
  g.mem.write(pdpte, g.mem.read(pdpte) & ~guest::kWritable);
  models::Pwc pwc(models::PwcParams{});
  ASSERT_EQ(g.walk(0x400000, AccessType::Read, &pwc).status, WalkStatus::kOk);
  EXPECT_EQ(g.walk(0x400000, AccessType::Write).status, WalkStatus::kGuestFault);  // no caches
  const Walk2d w = g.walk(0x400000, AccessType::Write, &pwc);                      // starts at the PDE cache
  EXPECT_EQ(w.guest_refs, 1u);
  EXPECT_EQ(w.status, WalkStatus::kGuestFault);
  EXPECT_EQ(w.pf_error, 1u | 2u | 4u);
}

// ---- SDM fidelity (issue 11) -------------------------------------------------

// SDM §27.2.1: the guest-physical address of an EPT violation taken while the
// walker accesses a guest paging-structure entry is that entry's address.
TEST(Walk2dSdm, ViolationOnAGuestEntryReportsTheEntrysGpa) {
  const Addr gva = 0x7f1234567000;
  {
    // Cold: the EPT does not map the guest's top table yet.
    Guest g;
    g.mem.write(g.ept_leaf(g.paging.cr3), 0);
    const Walk2d w = g.walk(gva, AccessType::Read);
    ASSERT_EQ(w.status, WalkStatus::kEptViolation);
    EXPECT_EQ(w.fault_gpa, g.paging.cr3 + 0x7f0);  // PML4 index 254
    EXPECT_EQ(w.qual & qual::kFinalTranslation, 0u);
  }
  // Write-protected page-table pages, one level at a time: the entry offsets
  // of this GVA are 0x7f0, 0x240, 0xd10, 0xb38.
  const Addr offsets[4] = {0x7f0, 0x240, 0xd10, 0xb38};
  for (unsigned i = 0; i < 4; ++i) {
    Guest g;
    const auto tables = g.map(gva, 0x2345000);
    g.clear_ept_write(tables[i]);
    const Walk2d w = g.walk(gva, AccessType::Read);
    ASSERT_EQ(w.status, WalkStatus::kEptViolation) << i;
    EXPECT_EQ(w.fault_gpa, tables[i] + offsets[i]) << i;
    EXPECT_EQ(w.fault_gpa, Guest::entry_gpa(tables[i], gva, 4 - i)) << i;
  }
}

// With EPT A/D off, setting a guest A or D flag is a write to guest memory:
// on a page-table page without EPT W it is an EPT violation at the entry's
// GPA, reported as a read-modify-write of a guest paging-structure entry.
TEST(Walk2dSdm, GuestFlagUpdatesNeedEptWriteWithAdOff) {
  Guest g(4, 4, /*ept_ad=*/false);
  const Addr gva = 0x400010;
  const auto tables = g.map(gva & ~Addr{0xfff}, 0x800000);
  // Reads need only R while the A flags are already set.
  ASSERT_EQ(g.walk(gva, AccessType::Read).status, WalkStatus::kOk);
  for (unsigned i = 0; i < 4; ++i) EXPECT_TRUE(g.guest_entry(tables[i], gva, 4 - i) & guest::kAccessed);
  g.clear_ept_write(tables[3]);  // write-protect the PT page (as `wp` dirty logging does)
  EXPECT_EQ(g.walk(gva, AccessType::Read).status, WalkStatus::kOk);

  // A write must set the PTE's D flag: a write to the protected PT page.
  const Walk2d w = g.walk(gva, AccessType::Write);
  ASSERT_EQ(w.status, WalkStatus::kEptViolation);
  EXPECT_EQ(w.fault_gpa, Guest::entry_gpa(tables[3], gva, 1));
  EXPECT_EQ(w.qual, qual::kRead | qual::kWrite | ((kRead | kExec) << qual::kPermShift) | qual::kGlaValid);
  EXPECT_FALSE(g.guest_entry(tables[3], gva, 1) & guest::kDirty);  // a faulting walk changes nothing
  EXPECT_EQ(g.walker.guest_d_set, 0u);

  // Once the hypervisor makes the page writable, the write sets D.
  g.set_ept_write(tables[3]);
  ASSERT_EQ(g.walk(gva, AccessType::Write).status, WalkStatus::kOk);
  EXPECT_TRUE(g.guest_entry(tables[3], gva, 1) & guest::kDirty);

  // An A flag still clear on a protected upper-level page faults a read too.
  Guest h(4, 4, false);
  const auto t2 = h.map(gva & ~Addr{0xfff}, 0x800000);
  h.clear_ept_write(t2[1]);
  const Walk2d r = h.walk(gva, AccessType::Read);
  ASSERT_EQ(r.status, WalkStatus::kEptViolation);
  EXPECT_EQ(r.fault_gpa, Guest::entry_gpa(t2[1], gva, 3));
  EXPECT_EQ(r.guest_refs, 2u);  // the PDPTE was read, its A update faulted
  // With every A and D flag already set, a read-only page-table page is fine.
  h.set_ept_write(t2[1]);
  ASSERT_EQ(h.walk(gva, AccessType::Write).status, WalkStatus::kOk);
  for (Addr t : t2) h.clear_ept_write(t);
  EXPECT_EQ(h.walk(gva, AccessType::Write).status, WalkStatus::kOk);
}

// The EPT walk cache keeps the rights of its translation: with A/D off a hit
// without W cannot update a guest flag; the exit's invalidation of the
// faulting GPA (SDM §28.3.3.1) lets the retry see the new rights.
TEST(Walk2dSdm, EptWalkCacheKeepsRightsAndIsInvalidatedByTheViolation) {
  Guest g(4, 4, /*ept_ad=*/false);
  const Addr gva = 0x400010;
  const auto tables = g.map(gva & ~Addr{0xfff}, 0x800000);
  models::Pwc pwc{models::PwcParams{}};
  ASSERT_EQ(g.walk(gva, AccessType::Read, &pwc).status, WalkStatus::kOk);  // sets the A flags
  g.clear_ept_write(tables[3]);
  pwc.invalidate_ept(0);                                                   // write-protection flushes (INVEPT)
  ASSERT_EQ(g.walk(gva, AccessType::Read, &pwc).status, WalkStatus::kOk);  // caches the PT page R-X
  g.set_ept_write(tables[3]);  // a permission upgrade: no flush, as KVM does
  const Walk2d w = g.walk(gva, AccessType::Write, &pwc);
  ASSERT_EQ(w.status, WalkStatus::kEptViolation);  // the cached rights still lack W
  pwc.invalidate_ept_addr(0, w.fault_gpa);         // what the VM exit does
  EXPECT_EQ(g.walk(gva, AccessType::Write, &pwc).status, WalkStatus::kOk);
}

// The walker reports its writes to guest memory (the dirty-log oracle's feed).
TEST(Walk2dSdm, WalkerReportsItsGuestWrites) {
  struct Recorder : GuestWriteObserver {
    std::vector<Addr> hpas;
    void walker_wrote(Addr hpa) override { hpas.push_back(hpa); }
  } rec;
  for (bool ad : {true, false}) {
    rec.hpas.clear();
    Guest g(4, 4, ad);
    g.walker.set_guest_write_observer(&rec);
    const Addr gva = 0x400010;
    const auto tables = g.map(gva & ~Addr{0xfff}, 0x800000);
    ASSERT_EQ(g.walk(gva, AccessType::Read).status, WalkStatus::kOk);
    ASSERT_EQ(rec.hpas.size(), 4u) << ad;  // A in each of the four entries
    for (unsigned i = 0; i < 4; ++i) EXPECT_EQ(rec.hpas[i], g.hpa(Guest::entry_gpa(tables[i], gva, 4 - i)));
    ASSERT_EQ(g.walk(gva, AccessType::Read).status, WalkStatus::kOk);
    EXPECT_EQ(rec.hpas.size(), 4u);  // nothing changed: nothing written
    ASSERT_EQ(g.walk(gva, AccessType::Write).status, WalkStatus::kOk);
    ASSERT_EQ(rec.hpas.size(), 5u);  // the PTE's D
    EXPECT_EQ(rec.hpas[4], g.hpa(Guest::entry_gpa(tables[3], gva, 1)));
  }
}
