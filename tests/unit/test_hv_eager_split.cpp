// Eager page splitting with manual protect + INITIALLY_SET (each CLEAR
// splits only its 64-page word's range), and the split's allocation
// policies (hv.eager_split.alloc).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "ept/entry.hpp"
#include "fake_context.hpp"
#include "hv/hypervisor.hpp"
#include "models/phys_mem.hpp"
#include "sim/config.hpp"
#include "sim/shared_line.hpp"

using namespace vmxsim;

namespace {

constexpr Addr kSlot = Addr{1} << 30;  // a 1 GiB slot at 1 GiB on 1 GiB host pages

struct Fixture {
  explicit Fixture(const std::string& hv_json)
      : tracker(json::parse(R"({"hv": )" + hv_json + "}"), "c.json"), root(tracker) {
    params = hv::HvParams::from(root.section("hv"), root.section("ept"), root.section("check"), SystemInfo{});
    hv = std::make_unique<hv::Hypervisor>(params, mem);
  }
  ConfigTracker tracker;
  Cfg root;
  hv::HvParams params;
  models::PhysMem mem{models::PhysMemParams{}};
  std::unique_ptr<hv::Hypervisor> hv;
  test::FakeContext ctx;
};

std::string config(bool eager, const char* alloc = "drop_lock", const char* mode = "pml") {
  return std::string(R"({"dirty_log": {"mode": ")") + mode +
         R"(", "manual_protect": true, "initially_set": true},
           "eager_split": {"enabled": )" +
         (eager ? "true" : "false") + R"(, "alloc": ")" + alloc + R"("},
           "memslots": [{"gpa": "1GiB", "size": "1GiB", "backing": "1G"}]})";
}

}  // namespace

// With INITIALLY_SET nothing is split or protected when logging starts;
// a CLEAR of three pages of one bitmap word splits only the huge leaves over
// [first, last] — the 1 GiB leaf into 2 MiB ones, and the 2 MiB one holding
// the range into 4 KiB ones — and re-protects only the cleared pages.
TEST(EagerSplit, InitiallySetClearSplitsExactlyTheMasksRange) {
  Fixture f(config(true));
  hv::Hypervisor& hv = *f.hv;
  hv.exits().handle_ept_violation(f.ctx, 0, kSlot + 0x123000, 0x182);  // a write: one dirty 1 GiB leaf
  ASSERT_EQ(hv.mmu().maps[3], 1u);
  hv.dirty_log_ops().enable(f.ctx, kSlot, 2 * kSlot);
  EXPECT_EQ(hv.splitter().splits, 0u);
  std::uint64_t words = 0;
  EXPECT_EQ(hv.dirty_log().dirty_pages(words).size(), 262144u);  // every bit set
  EXPECT_EQ(hv.mmu().find_leaf(kSlot).level, 3u);
  const std::vector<Addr> pages = {kSlot + 0x5000, kSlot + 0x9000, kSlot + 0x14000};
  hv.dirty_log_ops().clear(f.ctx, pages);
  EXPECT_EQ(hv.splitter().splits, 2u);
  EXPECT_EQ(hv.dirty_log_ops().clear_words, 1u);
  for (Addr p = kSlot; p < kSlot + 0x200000; p += kPageSize4K) {
    const hv::Leaf l = hv.mmu().find_leaf(p);
    ASSERT_EQ(l.level, 1u) << std::hex << p;
    EXPECT_EQ(ept::entry_addr(l.value, 1), hv.memslots().find(p)->hpa_of(p)) << std::hex << p;
    EXPECT_TRUE(l.value & ept::kWrite) << std::hex << p;  // PML: only D is cleared
    const bool cleared = p == pages[0] || p == pages[1] || p == pages[2];
    EXPECT_EQ(bool(l.value & ept::kDirty), !cleared) << std::hex << p;
  }
  // The other 511 2 MiB leaves stay huge, writable and dirty.
  for (Addr p = kSlot + 0x200000; p < 2 * kSlot; p += 0x200000) {
    const hv::Leaf l = hv.mmu().find_leaf(p);
    ASSERT_EQ(l.level, 2u) << std::hex << p;
    EXPECT_TRUE(l.value & ept::kWrite);
    EXPECT_TRUE(l.value & ept::kDirty);
  }
  EXPECT_EQ(hv.dirty_log().dirty_pages(words).size(), 262144u - 3);
}

// Without eager splitting, the same CLEAR splits nothing: it write-protects
// the huge leaf at the range's ends, so the next write faults and splits.
TEST(EagerSplit, InitiallySetWithoutEagerSplitWriteProtectsTheHugeEnds) {
  Fixture f(config(false));
  hv::Hypervisor& hv = *f.hv;
  hv.exits().handle_ept_violation(f.ctx, 0, kSlot + 0x123000, 0x182);
  hv.dirty_log_ops().enable(f.ctx, kSlot, 2 * kSlot);
  hv.dirty_log_ops().clear(f.ctx, {kSlot + 0x5000, kSlot + 0x9000});
  EXPECT_EQ(hv.splitter().splits, 0u);
  const hv::Leaf l = hv.mmu().find_leaf(kSlot + 0x5000);
  EXPECT_EQ(l.level, 3u);
  EXPECT_FALSE(l.value & ept::kWrite);
}

// drop_lock releases mmu_lock once per table and retakes it; nowait keeps
// it and allocates under it. Both split the same tables into the same
// leaves, and the time spent allocating shows in the stats.
TEST(EagerSplit, AllocPoliciesSplitTheSameAndOnlyDropLockReleasesTheLock) {
  std::uint64_t leaves[2] = {0, 0};
  int i = 0;
  for (const char* alloc : {"nowait", "drop_lock"}) {
    Fixture f(R"({"dirty_log": {"mode": "wp"}, "eager_split": {"alloc": ")" + std::string(alloc) +
              R"("}, "memslots": [{"gpa": "1GiB", "size": "1GiB", "backing": "1G"}]})");
    hv::Hypervisor& hv = *f.hv;
    hv.exits().handle_ept_violation(f.ctx, 0, kSlot, 0x181);
    const std::uint64_t acquisitions = hv.mmu_lock().acquisitions;
    hv.dirty_log_ops().enable(f.ctx, kSlot, 2 * kSlot);
    const hv::EagerSplitter& s = hv.splitter();
    EXPECT_EQ(s.splits, 513u) << alloc;
    const bool drop = std::string(alloc) == "drop_lock";
    EXPECT_EQ(s.allocs_nowait, drop ? 0u : 513u) << alloc;
    EXPECT_EQ(s.lock_drops, drop ? 513u : 0u) << alloc;
    EXPECT_EQ(s.spares, 0u) << alloc;
    EXPECT_EQ(s.alloc_cycles, 513u * (drop ? f.params.eager_split.alloc_sleep : f.params.eager_split.alloc_nowait));
    // The split's read acquisition, the write-protection's, and one per drop.
    EXPECT_EQ(hv.mmu_lock().acquisitions - acquisitions, 2u + (drop ? 513u : 0u)) << alloc;
    hv.mmu().for_each_leaf(kSlot, 2 * kSlot, [&](const hv::Leaf& l) {
      EXPECT_EQ(l.level, 1u);
      ++leaves[i];
    });
    ++i;
  }
  EXPECT_EQ(leaves[0], 262144u);
  EXPECT_EQ(leaves[1], 262144u);
}

// A shared line serialises atomics from different threads and charges the
// transfer only when the line moves.
TEST(SharedLine, SerialisesAtomicsAndChargesTheTransferWhenTheLineMoves) {
  SharedLine line;
  test::FakeContext a, b;
  a.id = 0;
  b.id = 1;
  a.t = 100;
  line.rmw(a, 10, 60);  // first touch: the line comes from elsewhere
  EXPECT_EQ(a.t, 160u);
  line.rmw(a, 10, 60);  // here already
  EXPECT_EQ(a.t, 170u);
  b.t = 150;
  line.rmw(b, 10, 60);  // waits for a's atomic (until 170), then moves
  EXPECT_EQ(b.t, 230u);
  a.t = 500;
  line.rmw(a, 10, 60);  // the line went to b: moves back
  EXPECT_EQ(a.t, 560u);
}
