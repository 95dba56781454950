// hv::Mmio and the EPT-misconfiguration handler: KVM's MMIO entries (W|X
// without R, the memslots generation in software bits), the fast path on a
// current entry, the fault path on a stale one, read-only memslots, and a
// corrupted entry as a clear error.
#include <gtest/gtest.h>

#include "ept/entry.hpp"
#include "fake_context.hpp"
#include "hv/hypervisor.hpp"
#include "models/phys_mem.hpp"
#include "sim/config.hpp"

using namespace vmxsim;

namespace {
constexpr Addr kDevice = 0x10000000;  // 256 MiB: a device region, no memslot

struct Hv {
  models::PhysMem mem{models::PhysMemParams{}};
  hv::HvParams p;
  std::unique_ptr<hv::Hypervisor> hv;
  test::FakeContext ctx;
  explicit Hv(const char* doc) {
    ConfigTracker t(json::parse(doc), "c.json");
    Cfg root(t);
    p = hv::HvParams::from(root.section("hv"), root.section("ept"), root.section("check"), SystemInfo{});
    t.check_unknown();
    hv = std::make_unique<hv::Hypervisor>(p, mem);
  }
  std::uint64_t leaf_value(Addr gpa) {
    unsigned level = 0;
    return hv->mmu().last_spte(gpa, level);
  }
};
const char* kDoc =
    R"({"hv": {"memslots": [{"gpa": 0, "size": "16MiB"}, {"gpa": "16MiB", "size": "1MiB", "readonly": true}],
                               "mmio_regions": [{"gpa": "256MiB", "size": "64KiB"}]}})";
constexpr std::uint64_t kWriteFinal = ept::qual::kWrite | ept::qual::kGlaValid | ept::qual::kFinalTranslation;
}  // namespace

TEST(MmioSpte, EncodesTheGenerationInKvmsBits) {
  const std::uint64_t e = hv::make_mmio_spte(0x12345000, 0x7ABCD);
  EXPECT_EQ(e & ept::kPermMask, ept::kWrite | ept::kExec);  // W|X without R
  EXPECT_TRUE(ept::misconfigured(e, 1));
  EXPECT_TRUE(hv::is_mmio_spte(e));
  EXPECT_FALSE(hv::shadow_present(e));
  EXPECT_EQ(hv::mmio_spte_generation(e), 0x7ABCDu);
  EXPECT_EQ((e >> 3) & 0xFF, 0xCDu);     // generation bits 7:0 in SPTE bits 10:3
  EXPECT_EQ((e >> 52) & 0x7FF, 0x7ABu);  // bits 18:8 in SPTE bits 62:52
  EXPECT_EQ(hv::mmio_spte_gpa(e), 0x12345000u);
  EXPECT_EQ(hv::mmio_spte_generation(hv::make_mmio_spte(0, 1ull << 19)), 0u);  // 19 bits kept
  EXPECT_FALSE(hv::is_mmio_spte(hv::kFrozenSpte));
}

TEST(Mmio, FirstAccessInstallsAnEntryAndLaterOnesTakeTheFastPath) {
  Hv h(kDoc);
  const hv::FaultOutcome first = h.hv->exits().handle_ept_violation(h.ctx, 0, kDevice + 0x10, kWriteFinal);
  EXPECT_TRUE(first.emulated);
  EXPECT_TRUE(first.mmio);
  EXPECT_EQ(h.hv->mmio().faults, 1u);
  EXPECT_EQ(h.hv->mmu().mmio_installed, 1u);
  const std::uint64_t e = h.leaf_value(kDevice);
  ASSERT_TRUE(hv::is_mmio_spte(e)) << std::hex << e;
  EXPECT_EQ(hv::mmio_spte_generation(e), h.hv->memslots().generation());
  EXPECT_EQ(h.hv->mmu().find_leaf(kDevice).level, 0u);  // not a mapping

  const Cycles t0 = h.ctx.t;
  const hv::FaultOutcome hit = h.hv->exits().handle_ept_misconfig(h.ctx, 0, kDevice + 0x10, AccessType::Read);
  EXPECT_TRUE(hit.mmio);
  EXPECT_EQ(h.hv->mmio().hits, 1u);
  // The fast path costs the misconfig handling and the emulation only: no
  // memslot lookup, no fault path, no lock.
  EXPECT_EQ(h.ctx.t - t0, h.p.mmio.ept_misconfig + h.p.mmio.emulate + h.p.mmio.userspace);
  EXPECT_EQ(h.hv->mmu_lock().acquisitions, 1u);  // the first fault's only
}

TEST(Mmio, AMemslotChangeMakesTheEntryStaleAndTheFaultPathMapsTheNewSlot) {
  Hv h(kDoc);
  h.hv->exits().handle_ept_violation(h.ctx, 0, kDevice, kWriteFinal);
  const std::uint64_t gen0 = h.hv->memslots().generation();
  hv::MemslotSpec spec;
  spec.gpa = kDevice;
  spec.size = 0x200000;
  h.hv->memslot_ops().create(h.ctx, spec);
  EXPECT_EQ(h.hv->memslots().generation(), gen0 + 1);
  const hv::FaultOutcome o = h.hv->exits().handle_ept_misconfig(h.ctx, 0, kDevice, AccessType::Write);
  EXPECT_FALSE(o.emulated);  // the fault path mapped RAM: the access retries
  EXPECT_EQ(h.hv->mmio().stale, 1u);
  EXPECT_EQ(h.hv->mmio().hits, 0u);
  const hv::Leaf l = h.hv->mmu().find_leaf(kDevice);
  ASSERT_NE(l.level, 0u);  // the MMIO entry was overwritten by a mapping
  EXPECT_TRUE(l.value & ept::kRead);
  EXPECT_EQ(ept::entry_addr(l.value, l.level), h.hv->memslots().find(kDevice)->hpa);
}

TEST(Mmio, StaleEntryOfAGpaStillWithoutSlotIsRemadeWithTheNewGeneration) {
  Hv h(kDoc);
  h.hv->exits().handle_ept_violation(h.ctx, 0, kDevice, kWriteFinal);
  hv::MemslotSpec spec;
  spec.gpa = 0x20000000;  // elsewhere
  spec.size = 0x1000;
  h.hv->memslot_ops().create(h.ctx, spec);
  const hv::FaultOutcome o = h.hv->exits().handle_ept_misconfig(h.ctx, 0, kDevice, AccessType::Read);
  EXPECT_TRUE(o.mmio);  // still a device: emulated after re-installing the entry
  EXPECT_EQ(h.hv->mmio().stale, 1u);
  EXPECT_EQ(h.hv->mmio().faults, 2u);
  EXPECT_EQ(hv::mmio_spte_generation(h.leaf_value(kDevice)), h.hv->memslots().generation());
  h.hv->exits().handle_ept_misconfig(h.ctx, 0, kDevice, AccessType::Read);
  EXPECT_EQ(h.hv->mmio().hits, 1u);
}

TEST(Mmio, WithoutMmioCachingEveryAccessIsAViolation) {
  Hv h(R"({"hv": {"memslots": [{"gpa": 0, "size": "16MiB"}], "mmio_caching": false,
                  "mmio_regions": [{"gpa": "256MiB", "size": "64KiB"}]}})");
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(h.hv->exits().handle_ept_violation(h.ctx, 0, kDevice, kWriteFinal).mmio);
  EXPECT_EQ(h.hv->mmu().mmio_installed, 0u);
  EXPECT_EQ(h.hv->mmio().faults, 3u);
  EXPECT_FALSE(ept::present(h.leaf_value(kDevice)));
}

TEST(Mmio, ReadOnlyMemslotIsMappedWithoutWriteAndItsWritesAreMmio) {
  Hv h(kDoc);
  const Addr rom = 0x1000000;
  const hv::FaultOutcome r = h.hv->exits().handle_ept_violation(
      h.ctx, 0, rom, ept::qual::kRead | ept::qual::kGlaValid | ept::qual::kFinalTranslation);
  EXPECT_FALSE(r.emulated);
  const hv::Leaf l = h.hv->mmu().find_leaf(rom);
  ASSERT_NE(l.level, 0u);
  EXPECT_EQ(l.value & ept::kPermMask, ept::kRead | ept::kExec);  // R|X
  EXPECT_FALSE(l.value & ept::kHostWritable);                    // no fast path may make it writable
  EXPECT_FALSE(l.value & ept::kMmuWritable);
  const hv::FaultOutcome w = h.hv->exits().handle_ept_violation(h.ctx, 0, rom, kWriteFinal);
  EXPECT_TRUE(w.emulated);
  EXPECT_TRUE(w.mmio);
  EXPECT_EQ(h.hv->mmio().readonly_writes, 1u);
  EXPECT_EQ(h.hv->mmu().find_leaf(rom).value, l.value);  // unchanged
}

TEST(Mmio, CorruptedEntryIsAClearError) {
  Hv h(kDoc);
  h.hv->exits().handle_ept_violation(h.ctx, 0, 0x5000, kWriteFinal);
  const hv::Leaf l = h.hv->mmu().find_leaf(0x5000);
  ASSERT_NE(l.level, 0u);
  h.mem.write(l.at, (l.value & ~ept::kMemTypeMask) | (2ull << ept::kMemTypeShift));  // memory type 2: reserved
  try {
    h.hv->exits().handle_ept_misconfig(h.ctx, 1, 0x5000, AccessType::Read);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("vcpu1: EPT misconfiguration at GPA 0x5000 (level-1 entry 0x"), std::string::npos) << m;
    EXPECT_NE(m.find("not one of the hypervisor's MMIO entries"), std::string::npos) << m;
  }
}

TEST(Mmio, ConfigErrorsNameTheKeyPath) {
  auto err = [](const char* doc) -> std::string {
    try {
      Hv h(doc);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(
      err(R"({"hv": {"memslots": [{"gpa": 0, "size": "16MiB"}], "mmio_regions": [{"gpa": "8MiB", "size": 4096}]}})")
          .find("hv.mmio_regions[0].gpa"),
      std::string::npos);
  EXPECT_NE(err(R"({"hv": {"mmio_regions": [{"gpa": "8GiB", "size": 100}]}})").find("hv.mmio_regions[0].size"),
            std::string::npos);
  EXPECT_NE(err(R"({"hv": {"memslots": [{"gpa": 0, "size": "1MiB", "readonly": 3}]}})").find("hv.memslots[0].readonly"),
            std::string::npos);
}
