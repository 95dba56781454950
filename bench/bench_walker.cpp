// Host-time cost of one EPT walk (ept::Walker::translate) over tables built by
// hv::Mmu, for 4 KiB and 2 MiB leaves, reads and writes. Walks cycle over many
// pages, so the host's own caches see a realistic spread of table entries.
#include <benchmark/benchmark.h>

#include <memory>

#include "ept/walker.hpp"
#include "hv/mmu.hpp"
#include "models/mem_hierarchy.hpp"
#include "models/phys_mem.hpp"
#include "null_context.hpp"
#include "sim/exec_context.hpp"

namespace vmxsim {
namespace {

struct WalkFixture {
  models::PhysMem mem{models::PhysMemParams{}};
  models::MemHierarchy hier{models::MemHierarchyParams{}};
  std::unique_ptr<hv::Mmu> mmu;
  ept::Walker walker{mem, hier};
  hv::Memslot slot;
  std::uint64_t pages;
  Addr page_size;

  WalkFixture(std::uint8_t backing_shift, std::uint64_t n) : pages(n), page_size(Addr{1} << backing_shift) {
    mmu = std::make_unique<hv::Mmu>(mem, hv::MmuParams{});
    slot.gpa = 0;
    slot.size = n * page_size;
    slot.hpa = mem.alloc_data(slot.size, page_size);
    slot.backing_shift = backing_shift;
    NullContext ctx;
    for (std::uint64_t i = 0; i < n; ++i) mmu->map(ctx, slot, i * page_size);
  }
};

void walk_loop(benchmark::State& state, std::uint8_t shift, AccessType type) {
  WalkFixture f(shift, std::uint64_t(state.range(0)));
  const ept::Eptp eptp = f.mmu->eptp();
  std::uint64_t i = 0, refs = 0;
  for (auto _ : state) {
    // A stride co-prime with the page count visits every page in a scrambled order.
    const Addr gpa = ((i * 7919) % f.pages) * f.page_size + 0x40;
    const ept::EptWalk w = f.walker.translate(eptp, gpa, type);
    benchmark::DoNotOptimize(w);
    refs += w.refs;
    ++i;
  }
  state.SetItemsProcessed(std::int64_t(i));
  state.counters["refs_per_walk"] = double(refs) / double(i ? i : 1);
}

void BM_EptWalk4KRead(benchmark::State& s) { walk_loop(s, kPageShift4K, AccessType::Read); }
void BM_EptWalk4KWrite(benchmark::State& s) { walk_loop(s, kPageShift4K, AccessType::Write); }
void BM_EptWalk2MRead(benchmark::State& s) { walk_loop(s, kPageShift2M, AccessType::Read); }

BENCHMARK(BM_EptWalk4KRead)->Arg(512)->Arg(262144);  // 2 MiB and 1 GiB of 4 KiB pages
BENCHMARK(BM_EptWalk4KWrite)->Arg(262144);
BENCHMARK(BM_EptWalk2MRead)->Arg(512);

}  // namespace
}  // namespace vmxsim
