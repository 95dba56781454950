// Memslots, host physical memory, and the EPT-violation handler's steps.
#include <gtest/gtest.h>

#include "ept/entry.hpp"
#include "fake_context.hpp"
#include "hv/hypervisor.hpp"
#include "models/phys_mem.hpp"
#include "sim/config.hpp"

using namespace vmxsim;

namespace {
hv::Memslot mk(std::uint32_t id, Addr gpa, std::uint64_t size) {
  hv::Memslot s;
  s.id = id;
  s.gpa = gpa;
  s.size = size;
  s.hpa = 0x100000000 + gpa;
  return s;
}
std::unique_ptr<hv::Memslots> make_memslots(const std::string& impl) {
  return hv::MemslotsRegistry::instance().configure(impl, "hv.memslots_impl", Cfg::detached(), SystemInfo{})();
}
}  // namespace

TEST(Memslots, FindsTheSlotContainingAGpa) {
  auto slots = make_memslots("array");
  hv::Memslots& m = *slots;
  m.add(mk(0, 0x100000, 0x100000));
  m.add(mk(1, 0x0, 0x10000));
  m.add(mk(2, 0x400000, 0x1000));
  ASSERT_NE(m.find(0x0), nullptr);
  EXPECT_EQ(m.find(0x0)->id, 1u);
  EXPECT_EQ(m.find(0xFFFF)->id, 1u);
  EXPECT_EQ(m.find(0x10000), nullptr);  // end is exclusive
  EXPECT_EQ(m.find(0x1FFFFF)->id, 0u);
  EXPECT_EQ(m.find(0x400FFF)->id, 2u);
  EXPECT_EQ(m.find(0x401000), nullptr);
  EXPECT_EQ(m.find(0x300000), nullptr);
  Cycles cost = 0;
  m.find(0x300000, 0, cost);
  EXPECT_EQ(cost, 3u * 8);  // the lru_slot check, then 2 binary-search probes over 3 slots (hv.costs.memslot_step)
  std::vector<Addr> order;
  m.for_each([&order](const hv::Memslot& s) { order.push_back(s.gpa); });
  EXPECT_EQ(order, (std::vector<Addr>{0x0, 0x100000, 0x400000}));  // GPA order
  EXPECT_EQ(m.by_id(2)->gpa, 0x400000u);
  EXPECT_EQ(m.by_id(7), nullptr);
  EXPECT_EQ(m.find(0x100000)->hpa_of(0x100010), 0x100100010u);
}

TEST(Memslots, RejectsOverlap) {
  auto slots = make_memslots("array");
  hv::Memslots& m = *slots;
  m.add(mk(0, 0x100000, 0x100000));
  EXPECT_THROW(m.add(mk(1, 0x1FF000, 0x2000)), Error);
  EXPECT_THROW(m.add(mk(1, 0xFF000, 0x2000)), Error);
  EXPECT_NO_THROW(m.add(mk(1, 0x200000, 0x1000)));
  EXPECT_THROW(m.add(mk(1, 0x300000, 0x1000)), Error);  // id 1 is taken
}

TEST(Memslots, ConfigValidation) {
  auto err = [](const char* text) -> std::string {
    ConfigTracker t(json::parse(text), "c.json");
    Cfg root(t);
    try {
      hv::MemslotSpec::from(root.section("hv"));
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(err(R"({"hv": {"memslots": [{"gpa": 4097, "size": 4096}]}})"),
            "c.json: hv.memslots[0].gpa: expected a multiple of 4 KiB, got 0x1001");
  EXPECT_EQ(err(R"({"hv": {"memslots": [{"gpa": 0, "size": 0}]}})"),
            "c.json: hv.memslots[0].size: expected a non-zero multiple of 4 KiB, got 0");
  EXPECT_EQ(err(R"({"hv": {"memslots": [{"gpa": 0, "size": "1MiB"}, {"gpa": "0x80000", "size": "1MiB"}]}})"),
            "c.json: hv.memslots[1].gpa: slot [0x80000, 0x180000) overlaps hv.memslots[0]");
  EXPECT_EQ(err(R"({"hv": {"memslots": [{"gpa": 0, "size": 4096, "backing": "3M"}]}})"),
            "c.json: hv.memslots[0].backing: expected one of 4K, 2M, 1G, got \"3M\"");
  EXPECT_EQ(err(R"({"hv": {"memslots": {"gpa": 0}}})"),
            "c.json: hv.memslots: expected an array of objects, got object");
  EXPECT_EQ(err(R"({"hv": {"memslots": [{"gpa": 0, "size": "2GiB", "backing": "1G"}]}})"), "");
}

TEST(PhysMem, TablesAreZeroedReusedAndBoundsChecked) {
  models::PhysMem m{models::PhysMemParams{}};
  const Addr a = m.alloc_table();
  const Addr b = m.alloc_table();
  EXPECT_EQ(b - a, kPageSize4K);
  m.write(a + 8, 42);
  EXPECT_EQ(m.read(a + 8), 42u);
  std::uint64_t exp = 41;
  EXPECT_FALSE(m.cmpxchg(a + 8, exp, 7));
  EXPECT_EQ(exp, 42u);
  EXPECT_TRUE(m.cmpxchg(a + 8, exp, 7));
  EXPECT_EQ(m.read(a + 8), 7u);
  m.free_table(a);
  EXPECT_EQ(m.live_tables(), 1u);
  EXPECT_THROW(m.read(a), Error);       // freed
  EXPECT_THROW(m.read(b + 4), Error);   // misaligned
  EXPECT_THROW(m.read(0x1000), Error);  // not a table frame
  const Addr c = m.alloc_table();
  EXPECT_EQ(c, a);               // reused
  EXPECT_EQ(m.read(a + 8), 0u);  // zeroed
}

TEST(PhysMem, DataBackingIsAlignedAndBounded) {
  models::PhysMemParams p;
  p.data_base = 0x1000;
  p.table_base = Addr{1} << 32;
  models::PhysMem m(p);
  EXPECT_EQ(m.alloc_data(0x1000, 0x1000), 0x1000u);
  EXPECT_EQ(m.alloc_data(0x200000, 0x200000), 0x200000u);
  EXPECT_THROW(m.alloc_data(Addr{4} << 30, 0x1000), Error);
}

TEST(Hypervisor, EptViolationMapsAndChargesEachStep) {
  ConfigTracker t(json::parse(R"({"hv": {"memslots": [{"gpa": 0, "size": "1GiB", "backing": "2M"}]}})"), "c.json");
  Cfg root(t);
  const auto p = hv::HvParams::from(root.section("hv"), root.section("ept"), root.section("check"), SystemInfo{});
  models::PhysMem mem{models::PhysMemParams{}};
  hv::Hypervisor hv(p, mem);
  test::FakeContext ctx;
  hv.exits().handle_ept_violation(ctx, 0, 0x12345000, 0x182);
  EXPECT_EQ(hv.exits().ept_violations, 1u);
  EXPECT_EQ(hv.mmu().maps[2], 1u);
  EXPECT_EQ(hv.mmu_lock().acquisitions, 1u);
  EXPECT_EQ(hv.mmu_lock().contended, 0u);
  const auto& c = p.costs;
  const Cycles expected =
      c.ept_violation + c.memslot_lookup + 1 * 8 /* the lru_slot check hits (hv.costs.memslot_step) */ + c.gfn_to_pfn +
      p.lock.handoff /* the lock word's line comes from elsewhere */ + 3 * p.mmu.pt_level + 2 * p.mmu.pt_alloc +
      p.mmu.spte_set + p.mmu.line_transfer /* kvm->stat.pages */ + p.lock.release /* the line is here now */;
  EXPECT_EQ(ctx.t, expected);
}

TEST(Hypervisor, UnresolvableGpaIsAClearError) {
  ConfigTracker t(json::parse(R"({"hv": {"memslots": [{"gpa": 0, "size": "1MiB"}]}})"), "c.json");
  Cfg root(t);
  models::PhysMem mem{models::PhysMemParams{}};
  hv::Hypervisor hv(hv::HvParams::from(root.section("hv"), root.section("ept"), root.section("check"), SystemInfo{}),
                    mem);
  test::FakeContext ctx;
  try {
    hv.exits().handle_ept_violation(ctx, 3, 0x100000, 0x181);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("vcpu3: EPT violation on read of GPA 0x100000 (exit qualification 0x181)"), std::string::npos)
        << m;
    EXPECT_NE(m.find("no memslot covers this GPA"), std::string::npos) << m;
  }
}

namespace {
hv::HvParams read_hv(const char* doc, unsigned vcpus) {
  ConfigTracker t(json::parse(doc), "c.json");
  Cfg root(t);
  hv::HvParams p =
      hv::HvParams::from(root.section("hv"), root.section("ept"), root.section("check"), SystemInfo{vcpus});
  t.check_unknown();
  return p;
}
}  // namespace

TEST(FaultPaths, SpteIdChecksItsVcpuLimitOnlyWhenChosen) {
  // A base config shared by a sweep over hv.fault_path keeps spte_id's key.
  EXPECT_NO_THROW(read_hv(R"({"hv": {"fault_path": "fast", "spte_id": {"unique": true}}})", 64));
  EXPECT_NO_THROW(read_hv(R"({"hv": {"fault_path": "spte_id", "spte_id": {"unique": false}}})", 64));
  EXPECT_NO_THROW(read_hv(R"({"hv": {"fault_path": "spte_id"}})", 31));
  try {
    read_hv(R"({"hv": {"fault_path": "spte_id"}})", 32);
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "c.json: hv.spte_id.unique: true identifies a fault by vCPU id + 1 in entry bits 56:52, so at most 31 "
              "vCPUs (cpu.vcpus is 32)");
  }
}

// Every registered fault path (a new one too, without editing this test)
// maps a cold page on a read fault and on a write fault, as the slow path does.
class EveryFaultPath : public testing::TestWithParam<std::string> {};

TEST_P(EveryFaultPath, MapsColdPagesOnReadAndWriteFaults) {
  const std::string doc =
      R"({"hv": {"fault_path": ")" + GetParam() + R"(", "memslots": [{"gpa": 0, "size": "1GiB"}]}})";
  const hv::HvParams p = read_hv(doc.c_str(), 1);
  models::PhysMem mem{models::PhysMemParams{}};
  hv::Hypervisor hv(p, mem);
  test::FakeContext ctx;
  hv.exits().handle_ept_violation(ctx, 0, 0x1000, 0x181);  // read, GLA valid, final translation
  hv.exits().handle_ept_violation(ctx, 0, 0x2000, 0x182);  // write
  EXPECT_EQ(hv.mmu().maps[1], 2u);
  EXPECT_NE(hv.mmu().find_leaf(0x1000).level, 0u);
  EXPECT_NE(hv.mmu().find_leaf(0x2000).value & ept::kWrite, 0u);
  EXPECT_EQ(hv.exits().ept_violations, 2u);
}

INSTANTIATE_TEST_SUITE_P(Registry, EveryFaultPath, testing::ValuesIn(hv::FaultPathRegistry::instance().names()),
                         [](const testing::TestParamInfo<std::string>& i) { return i.param; });

// Every registered memslot implementation finds what the array finds.
class EveryMemslotsImpl : public testing::TestWithParam<std::string> {};

TEST_P(EveryMemslotsImpl, AgreesWithTheArrayOnLookups) {
  auto ref = make_memslots("array");
  auto m = make_memslots(GetParam());
  for (std::uint32_t i = 0; i < 50; ++i) {
    ref->add(mk(i, Addr(i) * 0x300000, 0x100000 + (i % 3) * 0x1000));
    m->add(mk(i, Addr(i) * 0x300000, 0x100000 + (i % 3) * 0x1000));
  }
  for (Addr g = 0; g < 50 * 0x300000; g += 0x7000) {
    const hv::Memslot* a = ref->find(g);
    const hv::Memslot* b = m->find(g);
    ASSERT_EQ(a == nullptr, b == nullptr) << std::hex << g;
    if (a) {
      EXPECT_EQ(a->id, b->id);
    }
  }
  EXPECT_EQ(m->size(), 50u);
}

INSTANTIATE_TEST_SUITE_P(Registry, EveryMemslotsImpl, testing::ValuesIn(hv::MemslotsRegistry::instance().names()),
                         [](const testing::TestParamInfo<std::string>& i) { return i.param; });

TEST(DirtyLogBitmaps, ForEachBitmapVisitsEverySlotsBitsInGpaOrder) {
  auto slots = make_memslots("array");
  slots->add(mk(0, 0x200000, 0x100000));  // 256 pages: 4 words
  slots->add(mk(1, 0x0, 0x3000));         // 3 pages: 1 word
  hv::DirtyLog log{hv::DirtyLogParams{}};
  log.attach(*slots);
  log.enable(0, 0x300000);
  log.mark(0x1000);
  log.mark(0x200000 + 65 * 0x1000);  // word 1, bit 1
  std::vector<std::pair<std::uint32_t, std::vector<std::uint64_t>>> seen;
  log.for_each_bitmap(
      [&seen](const hv::Memslot& s, const std::vector<std::uint64_t>& w) { seen.emplace_back(s.id, w); });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].first, 1u);  // GPA order
  EXPECT_EQ(seen[0].second, std::vector<std::uint64_t>({0b10}));
  EXPECT_EQ(seen[1].first, 0u);
  EXPECT_EQ(seen[1].second, std::vector<std::uint64_t>({0, 0b10, 0, 0}));
  EXPECT_EQ(log.bits_set, 2u);  // read only
}

// Eager splitting leaves no huge leaf in the logged range, each new leaf maps
// the frame of the huge page it replaces with its rights, and the split
// itself flushes no TLB (only the write-protection does).
TEST(EagerSplit, NoHugeLeafRemainsAndEveryFrameIsTheSame) {
  ConfigTracker t(json::parse(R"({"hv": {"eager_split": {"enabled": true},
      "memslots": [{"gpa": 0, "size": "1GiB", "backing": "1G"}, {"gpa": "1GiB", "size": "64MiB", "backing": "2M"}]}})"),
                  "c.json");
  Cfg root(t);
  models::PhysMem mem{models::PhysMemParams{}};
  hv::Hypervisor hv(hv::HvParams::from(root.section("hv"), root.section("ept"), root.section("check"), SystemInfo{}),
                    mem);
  test::FakeContext ctx;
  hv.exits().handle_ept_violation(ctx, 0, 0x12345000, 0x181);  // a 1 GiB leaf
  hv.exits().handle_ept_violation(ctx, 0, 0x40200000, 0x181);  // a 2 MiB leaf
  hv.exits().handle_ept_violation(ctx, 0, 0x40600000, 0x181);
  ASSERT_EQ(hv.mmu().maps[3], 1u);
  ASSERT_EQ(hv.mmu().maps[2], 2u);
  const std::uint64_t flushes = hv.requests().remote_flushes;
  hv.dirty_log_ops().enable(ctx, 0, 0x44000000);
  EXPECT_EQ(hv.requests().remote_flushes, flushes + 1);  // the write-protection's, not the split's
  EXPECT_EQ(hv.splitter().splits, 1u + 512 + 2);
  std::uint64_t leaves = 0;
  hv.mmu().for_each_leaf(0, 0x44000000, [&](const hv::Leaf& l) {
    ++leaves;
    EXPECT_EQ(l.level, 1u) << std::hex << l.gpa;
    EXPECT_EQ(ept::entry_addr(l.value, 1), hv.memslots().find(l.gpa)->hpa_of(l.gpa)) << std::hex << l.gpa;
    EXPECT_TRUE(l.value & ept::kRead);
    EXPECT_FALSE(l.value & ept::kWrite);  // wp logging: write-protected after the split
  });
  EXPECT_EQ(leaves, 512u * 512 + 2 * 512);
}
