// Host-time cost of the TLB hot path: L1 hit, L2 hit, miss followed by fill.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "models/tlb.hpp"

namespace vmxsim::models {
namespace {

/// Skylake's L1 DTLB: 64-entry 4-way 4K, 32-entry 4-way 2M, 4-entry 1G.
TlbLevelParams skylake_l1() {
  TlbLevelParams p;
  p.arrays = {TlbArrayParams{"4k", 64, 4, std::uint8_t(kHolds4K)}, TlbArrayParams{"2m", 32, 4, std::uint8_t(kHolds2M)},
              TlbArrayParams{"1g", 4, 4, std::uint8_t(kHolds1G)}};
  return p;
}

/// Skylake's STLB: 1536-entry 12-way shared 4K/2M.
TlbLevelParams skylake_l2() {
  TlbLevelParams p;
  p.arrays = {TlbArrayParams{"shared", 1536, 12, std::uint8_t(kHolds4K | kHolds2M)}};
  return p;
}

TlbEntry page(Addr va) {
  TlbEntry e;
  e.hpa_base = (va & ~(kPageSize4K - 1)) ^ (Addr{1} << kPageShift1G);
  e.perms = 7;
  e.dirty = true;
  return e;
}

const TlbContext kCtx{1, 0, 0};
constexpr Addr kBase = Addr{1} << kPageShift1G;

/// Addresses of `n` consecutive 4K pages (with an offset inside each page).
std::vector<Addr> pages(std::size_t n) {
  std::vector<Addr> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = kBase + (Addr(i) << kPageShift4K) + (8 * i) % kPageSize4K;
  return v;
}

/// Deterministic Fisher–Yates shuffle (xorshift64).
void shuffle(std::vector<Addr>& v, std::uint64_t seed) {
  for (std::size_t i = v.size(); i > 1; --i) {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    std::swap(v[i - 1], v[seed % i]);
  }
}

void run_hits(benchmark::State& state, Tlb& tlb, const std::vector<Addr>& order) {
  for (Addr va : order) tlb.fill(kCtx, va, page(va));
  const std::size_t n = order.size();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(tlb.lookup(kCtx, order[i]));
    if (++i == n) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["hit_rate"] = double(tlb.hits) / double(tlb.hits + tlb.misses);
}

void BM_TlbL1Hit(benchmark::State& state) {
  Tlb tlb(skylake_l1());
  run_hits(state, tlb, pages(32));
}
BENCHMARK(BM_TlbL1Hit);

void BM_TlbL2Hit(benchmark::State& state) {
  Tlb tlb(skylake_l2());
  std::vector<Addr> order = pages(1024);
  shuffle(order, 0x2545f4914f6cdd1dULL);
  run_hits(state, tlb, order);
}
BENCHMARK(BM_TlbL2Hit);

void BM_TlbMissFill(benchmark::State& state) {
  Tlb tlb(skylake_l1());
  // Cycling over 16x the capacity in LRU order: every lookup misses.
  const std::vector<Addr> order = pages(16 * std::size_t(tlb.capacity()));
  const std::size_t n = order.size();
  std::size_t i = 0;
  for (auto _ : state) {
    const Addr va = order[i];
    const TlbEntry* e = tlb.lookup(kCtx, va);
    benchmark::DoNotOptimize(e);
    if (!e) tlb.fill(kCtx, va, page(va));
    if (++i == n) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["hit_rate"] = double(tlb.hits) / double(tlb.hits + tlb.misses);
}
BENCHMARK(BM_TlbMissFill);

}  // namespace
}  // namespace vmxsim::models
