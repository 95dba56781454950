// Host-time cost of the walker's memory model and the paging-structure caches:
// a reference that hits L1D, references streaming from DRAM, a PDE-cache hit.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "models/mem_hierarchy.hpp"
#include "models/pwc.hpp"
#include "models/tlb.hpp"  // TlbContext

namespace vmxsim::models {
namespace {

constexpr Addr kBase = Addr{1} << 32;  // page-table memory somewhere in host memory
constexpr Addr kEntryBytes = 8;        // one paging-structure entry

void report_levels(benchmark::State& state, const MemHierarchy& h) {
  state.SetItemsProcessed(state.iterations());
  const double refs = double(h.refs);
  state.counters["l1d_hit"] = double(h.hits[MemHierarchy::kL1d]) / refs;
  state.counters["dram"] = double(h.dram) / refs;
}

/// Entry after entry of 4 KiB of tables, warm in L1D (a 32 KiB L1D holds them).
void BM_MemHierarchyL1Hit(benchmark::State& state) {
  const MemHierarchyParams p;
  MemHierarchy h(p);
  constexpr Addr kSpan = 4096;
  for (Addr a = 0; a < kSpan; a += kEntryBytes) h.access(kBase + a);
  Addr off = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(h.access(kBase + off));
    off = (off + kEntryBytes) & (kSpan - 1);
  }
  report_levels(state, h);
}
BENCHMARK(BM_MemHierarchyL1Hit);

/// One reference per line over 64 MiB (far beyond L2 + LLC): almost all DRAM,
/// so every level misses and fills (the slowest path).
void BM_MemHierarchyStream(benchmark::State& state) {
  const MemHierarchyParams p;
  MemHierarchy h(p);
  constexpr Addr kSpan = Addr{64} << 20;
  Addr off = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(h.access(kBase + off));
    off = (off + kLineBytes) & (kSpan - 1);
  }
  report_levels(state, h);
}
BENCHMARK(BM_MemHierarchyStream);

/// PDE-cache lookups over 8 warm 2 MiB regions (the default cache holds 32).
void BM_PwcPdeHit(benchmark::State& state) {
  Pwc pwc(PwcParams{});
  const std::uint64_t ctx = TlbContext{1, 0, 0}.key();
  constexpr unsigned kRegions = 8;
  constexpr Addr k2M = Addr{1} << kPageShift2M;
  constexpr unsigned kPdeLevel = 2;
  for (unsigned i = 0; i < kRegions; ++i)
    pwc.fill_guest(kPdeLevel, ctx, kBase + i * k2M, PwcGuestEntry{kBase + i * kPageSize4K, 3});
  unsigned i = 0;
  std::uint64_t hits = 0;
  for (auto _ : state) {
    const PwcGuestEntry* e = pwc.lookup_guest(kPdeLevel, ctx, kBase + i * k2M + 0x1000);
    benchmark::DoNotOptimize(e);
    hits += e != nullptr;
    i = (i + 1) % kRegions;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["hit_rate"] = double(hits) / double(state.iterations());
}
BENCHMARK(BM_PwcPdeHit);

}  // namespace
}  // namespace vmxsim::models
