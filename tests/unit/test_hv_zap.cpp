// Range zaps that unlink page-table pages (hv::Mmu::zap_range,
// hv.mmu.zap_tables): only tables wholly inside the range go, with their
// entries frozen; what is unlinked reaches the freeing policy, and memslot
// DELETE and MMU-notifier unmaps free the slot's tables only when asked.
#include <gtest/gtest.h>

#include <vector>

#include "ept/entry.hpp"
#include "fake_context.hpp"
#include "hv/hypervisor.hpp"
#include "models/phys_mem.hpp"
#include "sim/config.hpp"

using namespace vmxsim;

namespace {

struct Hv {
  models::PhysMem mem{models::PhysMemParams{}};
  hv::HvParams p;
  std::unique_ptr<hv::Hypervisor> hv;
  test::FakeContext ctx;
  explicit Hv(const std::string& hv_json) {
    ConfigTracker t(json::parse(R"({"hv": )" + hv_json + "}"), "c.json");
    Cfg root(t);
    p = hv::HvParams::from(root.section("hv"), root.section("ept"), root.section("check"), SystemInfo{});
    t.check_unknown();
    hv = std::make_unique<hv::Hypervisor>(p, mem);
  }
  // Map every 4 KiB page of [begin, end) (at 4 KiB: max_level 1).
  void map4k(Addr begin, Addr end) {
    const hv::Memslot* s = hv->memslots().find(begin);
    for (Addr g = begin; g < end; g += kPageSize4K) hv->mmu().map(ctx, *s, g, 1);
  }
};

const char* kSlots = R"({"memslots": [{"gpa": 0, "size": "8MiB"}, {"gpa": "8MiB", "size": "8MiB"}]})";

}  // namespace

TEST(ZapRange, UnlinksOnlyTablesWhollyInsideAndFreezesThem) {
  Hv h(kSlots);
  h.map4k(0, 4 << 20);  // two 4 KiB tables, under 2 MiB entries 0 and 1
  const hv::Leaf first = h.hv->mmu().find_leaf(0);
  const Addr table0 = first.at & ~Addr{kPageSize4K - 1};
  std::vector<Addr> unlinked;
  // [0, 2 MiB + 4 KiB): table 0 whole, one leaf of table 1.
  const std::uint64_t n = h.hv->mmu().zap_range(h.ctx, 0, (2 << 20) + kPageSize4K, true, unlinked, 0);
  EXPECT_EQ(n, 2u);  // a table link and a leaf
  ASSERT_EQ(unlinked, std::vector<Addr>{table0});
  EXPECT_EQ(h.mem.read(table0), hv::kFrozenSpte);
  EXPECT_EQ(h.mem.read(table0 + 511 * 8), hv::kFrozenSpte);
  EXPECT_EQ(h.hv->mmu().find_leaf(0).level, 0u);
  EXPECT_EQ(h.hv->mmu().find_leaf(2 << 20).level, 0u);                  // the leaf is gone
  EXPECT_EQ(h.hv->mmu().find_leaf((2 << 20) + kPageSize4K).level, 1u);  // its neighbours stay
  EXPECT_EQ(h.hv->mmu().tables_zapped, 1u);
  // Without tables, the same range only clears leaves.
  Hv l(kSlots);
  l.map4k(0, 4 << 20);
  std::vector<Addr> none;
  EXPECT_EQ(l.hv->mmu().zap_range(l.ctx, 0, 2 << 20, false, none, 0), 512u);
  EXPECT_TRUE(none.empty());
}

TEST(ZapRange, MemslotDeleteFreesTheSlotsTablesThroughThePolicyWhenAsked) {
  for (const bool tables : {false, true}) {
    Hv h(std::string(R"({"mmu": {"zap_tables": )") + (tables ? "true" : "false") +
         R"(}, "memslots": [{"gpa": 0, "size": "8MiB"}, {"gpa": "8MiB", "size": "8MiB"}]})");
    h.map4k(8 << 20, 12 << 20);  // slot 1: two 4 KiB tables
    const std::uint64_t live = h.mem.live_tables();
    h.hv->memslot_ops().remove(h.ctx, 1);
    // call_rcu with no reader: freed at the commit.
    EXPECT_EQ(h.hv->rcu().freed, tables ? 2u : 0u) << tables;
    EXPECT_EQ(h.mem.live_tables(), live - (tables ? 2 : 0));
    EXPECT_EQ(h.hv->mmu().find_leaf(9 << 20).level, 0u);
  }
}

TEST(ZapRange, NotifierUnmapOfAWholeTableFreesIt) {
  Hv h(R"({"mmu": {"zap_tables": true}, "memslots": [{"gpa": 0, "size": "8MiB", "hva": "1GiB"}]})");
  h.map4k(0, 4 << 20);
  h.hv->memslot_ops().unmap_hva(h.ctx, (1u << 30) + (2u << 20), 2u << 20);  // the second 2 MiB
  EXPECT_EQ(h.hv->rcu().freed, 1u);
  EXPECT_EQ(h.hv->mmu().find_leaf(0).level, 1u);
  EXPECT_EQ(h.hv->mmu().find_leaf(3 << 20).level, 0u);
}
