// The read-only visitors of ept/inspect.hpp: every present EPT and guest
// paging-structure entry, with its level, table, entry address and the range
// it maps; nothing read is changed.
#include <gtest/gtest.h>

#include <vector>

#include "ept/entry.hpp"
#include "ept/guest_entry.hpp"
#include "ept/inspect.hpp"
#include "models/phys_mem.hpp"

using namespace vmxsim;
using namespace vmxsim::ept;

namespace {

constexpr Addr k1G = Addr{1} << 30;
constexpr Addr k2M = Addr{1} << 21;

std::vector<EptEntryView> ept_entries(const models::PhysMem& mem, const Eptp& eptp) {
  std::vector<EptEntryView> out;
  for_each_ept_entry(mem, eptp, [&out](const EptEntryView& v) { out.push_back(v); });
  return out;
}

}  // namespace

TEST(EptInspect, VisitsEveryPresentEptEntryParentsFirstInGpaOrder) {
  models::PhysMem mem(models::PhysMemParams{});
  const Addr root = mem.alloc_table(), pdpt = mem.alloc_table(), pd = mem.alloc_table(), pt = mem.alloc_table();
  mem.write(root + 8 * 0, make_table(pdpt));
  mem.write(pdpt + 8 * 0, make_table(pd));
  mem.write(pdpt + 8 * 2, make_leaf(0x180000000, 3, kRead) | kAccessed);        // 1 GiB at GPA 2 GiB
  mem.write(pd + 8 * 1, make_table(pt));                                        // GPA 2 MiB..4 MiB
  mem.write(pd + 8 * 5, make_leaf(0x40a00000, 2, kPermMask) | kDirty);          // 2 MiB at GPA 10 MiB
  mem.write(pt + 8 * 3, make_leaf(0x7000, 1, kRead | kWrite) | kHostWritable);  // 4 KiB at 2 MiB + 12 KiB
  mem.write(pt + 8 * 4, kDirty | kAccessed);                                    // R/W/X clear: not present
  const Eptp eptp = Eptp::make(root, 4, true);

  const std::vector<EptEntryView> v = ept_entries(mem, eptp);
  ASSERT_EQ(v.size(), 6u);
  EXPECT_EQ(v[0].level, 4u);
  EXPECT_EQ(v[0].table, root);
  EXPECT_EQ(v[0].at, root);
  EXPECT_EQ(v[0].gpa, 0u);
  EXPECT_EQ(v[0].bytes, Addr{1} << 39);
  EXPECT_FALSE(v[0].leaf);
  EXPECT_EQ(v[1].level, 3u);  // PDPT entry 0, then its subtree before PDPT entry 2
  EXPECT_EQ(v[1].bytes, k1G);
  EXPECT_EQ(v[2].level, 2u);
  EXPECT_EQ(v[2].index, 1u);
  EXPECT_EQ(v[2].at, pd + 8);
  EXPECT_EQ(v[2].gpa, k2M);
  EXPECT_FALSE(v[2].leaf);
  EXPECT_EQ(v[3].level, 1u);
  EXPECT_EQ(v[3].table, pt);
  EXPECT_EQ(v[3].index, 3u);
  EXPECT_EQ(v[3].gpa, k2M + 0x3000);
  EXPECT_EQ(v[3].bytes, 4096u);
  EXPECT_TRUE(v[3].leaf);
  EXPECT_EQ(v[3].value, make_leaf(0x7000, 1, kRead | kWrite) | kHostWritable);
  EXPECT_EQ(v[4].level, 2u);
  EXPECT_EQ(v[4].gpa, 5 * k2M);
  EXPECT_TRUE(v[4].leaf);
  EXPECT_EQ(v[5].level, 3u);
  EXPECT_EQ(v[5].at, pdpt + 16);
  EXPECT_EQ(v[5].gpa, 2 * k1G);
  EXPECT_EQ(v[5].bytes, k1G);
  EXPECT_TRUE(v[5].leaf);
  // Read only: the entries are as written (no A/D flag was set).
  EXPECT_EQ(mem.read(root), make_table(pdpt));
  EXPECT_EQ(mem.read(pt + 8 * 4), kDirty | kAccessed);
}

TEST(EptInspect, FiveLevelEptAndAnEmptyRoot) {
  models::PhysMem mem(models::PhysMemParams{});
  const Addr root = mem.alloc_table();
  EXPECT_TRUE(ept_entries(mem, Eptp::make(root, 4, true)).empty());
  const Addr pml4 = mem.alloc_table(), pdpt = mem.alloc_table();
  mem.write(root + 8 * 1, make_table(pml4));  // GPA 256 TiB
  mem.write(pml4 + 8 * 0, make_table(pdpt));
  mem.write(pdpt + 8 * 511, make_leaf(0xC0000000, 3, kPermMask));
  const std::vector<EptEntryView> v = ept_entries(mem, Eptp::make(root, 5, false));
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].level, 5u);
  EXPECT_EQ(v[0].gpa, Addr{1} << 48);
  EXPECT_EQ(v[0].bytes, Addr{1} << 48);
  EXPECT_EQ(v[2].gpa, (Addr{1} << 48) + 511 * k1G);
  EXPECT_TRUE(v[2].leaf);
}

TEST(EptInspect, GuestTablesThroughTheirHostBackingWithCanonicalGvas) {
  models::PhysMem mem(models::PhysMemParams{});
  // Guest RAM at GPA 0 backed from HPA `base` (as a memslot would be).
  const Addr base = mem.alloc_data(64 << 20, k2M);
  const auto to_hpa = [base](Addr gpa) { return gpa < (64 << 20) ? base + gpa : ~Addr{0}; };
  const Addr cr3 = 0x1000, pdpt_lo = 0x2000, pdpt_hi = 0x3000, pd = 0x4000;
  namespace g = vmxsim::ept::guest;
  mem.write(base + cr3 + 8 * 0, g::make_table(pdpt_lo));
  mem.write(base + cr3 + 8 * 256, g::make_table(pdpt_hi) | g::kAccessed);  // the upper half
  mem.write(base + cr3 + 8 * 300, g::make_table(0x7fff0000));              // a table no memslot holds
  mem.write(base + pdpt_lo + 8 * 1, g::make_table(pd));
  mem.write(base + pd + 8 * 2, g::make_leaf(0x600000, 2, true) | g::kDirty);
  mem.write(base + pdpt_hi + 8 * 0, g::make_leaf(0x40000000, 3, false, false));
  std::vector<GuestEntryView> v;
  for_each_guest_entry(mem, cr3, 4, to_hpa, [&v](const GuestEntryView& e) { v.push_back(e); });
  ASSERT_EQ(v.size(), 6u);
  EXPECT_EQ(v[0].level, 4u);
  EXPECT_EQ(v[0].table, cr3);
  EXPECT_EQ(v[0].at, cr3);
  EXPECT_EQ(v[1].level, 3u);
  EXPECT_EQ(v[1].gva, k1G);
  EXPECT_EQ(v[2].level, 2u);
  EXPECT_EQ(v[2].at, pd + 16);
  EXPECT_EQ(v[2].gva, k1G + 2 * k2M);
  EXPECT_EQ(v[2].bytes, k2M);
  EXPECT_TRUE(v[2].leaf);
  EXPECT_EQ(v[3].level, 4u);
  EXPECT_EQ(v[3].index, 256u);
  EXPECT_EQ(v[3].gva, 0xffff800000000000ull);  // bit 47 sign-extended
  EXPECT_EQ(v[4].level, 3u);
  EXPECT_EQ(v[4].gva, 0xffff800000000000ull);
  EXPECT_TRUE(v[4].leaf);
  EXPECT_TRUE(v[4].value & g::kNoExecute);
  EXPECT_EQ(v[5].index, 300u);  // listed, but its table (no host backing) is not entered
  EXPECT_FALSE(v[5].leaf);
}

TEST(EptInspect, FiveLevelGuestUpperHalfIsSignExtendedFromBit56) {
  models::PhysMem mem(models::PhysMemParams{});
  const Addr base = mem.alloc_data(1 << 20, 4096);
  namespace g = vmxsim::ept::guest;
  mem.write(base + 8 * 256, g::make_table(0x1000));
  std::vector<GuestEntryView> v;
  for_each_guest_entry(
      mem, 0, 5, [base](Addr gpa) { return base + gpa; }, [&v](const GuestEntryView& e) { v.push_back(e); });
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].level, 5u);
  EXPECT_EQ(v[0].gva, 0xff00000000000000ull);
  EXPECT_EQ(v[0].bytes, Addr{1} << 48);
}

TEST(EptInspect, AMisconfiguredEntryIsListedButNotEntered) {
  // KVM's MMIO entries are write-without-read (SDM §28.2.3.1): the walk
  // stops there, and so does the visitor, at any level.
  models::PhysMem mem(models::PhysMemParams{});
  const Addr root = mem.alloc_table(), pdpt = mem.alloc_table();
  mem.write(root, make_table(pdpt));
  mem.write(pdpt + 8 * 1, kWrite | kExec | 0x5a0);  // at the PDPT: not a table pointer
  mem.write(pdpt + 8 * 2, make_leaf(0x80000000, 3, kRead) | kAccessed);
  const std::vector<EptEntryView> v = ept_entries(mem, Eptp::make(root, 4, true));
  ASSERT_EQ(v.size(), 3u);
  EXPECT_FALSE(v[0].misconfigured);
  EXPECT_EQ(v[1].level, 3u);
  EXPECT_EQ(v[1].gpa, k1G);
  EXPECT_TRUE(v[1].misconfigured);
  EXPECT_FALSE(v[1].leaf);
  EXPECT_FALSE(v[2].misconfigured);
  EXPECT_TRUE(v[2].leaf);
}
