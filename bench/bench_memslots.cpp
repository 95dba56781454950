// Host-time cost of the memslot implementations (`array`, `tree`) at
// memslot_perf_test's slot counts: a vCPU's gfn lookup, an HVA-range walk of
// one page, a create plus the delete that restores n, and start-up (adding
// n slots). The simulated steps are counted as KVM takes them; these figures
// are the simulator's own speed. Slots are 16 KiB, in ascending GPA order.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "hv/memslots.hpp"
#include "sim/config.hpp"

namespace vmxsim::hv {
namespace {

constexpr Addr kGpa = 0x10000000;
constexpr Addr kHva = 0x7f0000000000;
constexpr std::uint64_t kSlot = 0x4000;

std::unique_ptr<Memslots> make(const char* impl) {
  return MemslotsRegistry::instance().configure(impl, "hv.memslots_impl", Cfg::detached(), SystemInfo{})();
}

Memslot slot(std::uint32_t id) {
  Memslot s;
  s.id = id;
  s.gpa = kGpa + Addr(id) * kSlot;
  s.size = kSlot;
  s.hpa = (Addr{1} << 40) + s.gpa;
  s.hva = kHva + Addr(id) * kSlot;
  return s;
}

std::unique_ptr<Memslots> filled(const char* impl, std::uint32_t n) {
  auto m = make(impl);
  for (std::uint32_t i = 0; i < n; ++i) m->add(slot(i));
  return m;
}

/// Pseudo-random slot indexes (xorshift64), the same for both implementations.
std::vector<std::uint32_t> picks(std::uint32_t n) {
  std::vector<std::uint32_t> v(4096);
  std::uint64_t x = 88172645463325252ull;
  for (auto& i : v) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    i = std::uint32_t(x % n);
  }
  return v;
}

/// kvm_vcpu_gfn_to_memslot from 4 vCPUs in turn, each at a random slot (a miss
/// of the vCPU's cache, mostly).
void BM_MemslotsGfnLookup(benchmark::State& state, const char* impl) {
  const auto n = std::uint32_t(state.range(0));
  auto m = filled(impl, n);
  const auto p = picks(n);
  std::size_t i = 0;
  Cycles cost = 0;
  for (auto _ : state) {
    const std::uint32_t k = p[i++ & 4095];
    benchmark::DoNotOptimize(m->find(kGpa + Addr(k) * kSlot + 64, unsigned(i & 3), cost));
  }
  state.SetItemsProcessed(std::int64_t(state.iterations()));
}

/// One MMU-notifier walk over a 4 KiB HVA range (one slot found).
void BM_MemslotsHvaLookup(benchmark::State& state, const char* impl) {
  const auto n = std::uint32_t(state.range(0));
  auto m = filled(impl, n);
  const auto p = picks(n);
  std::size_t i = 0, found = 0;
  Cycles cost = 0;
  for (auto _ : state) {
    const Addr h = kHva + Addr(p[i++ & 4095]) * kSlot;
    m->for_each_hva(
        h, h + 0x1000, [&found](const Memslot&) { ++found; }, cost);
  }
  benchmark::DoNotOptimize(found);
  state.SetItemsProcessed(std::int64_t(state.iterations()));
}

/// KVM_MR_CREATE of the highest-gfn slot at n slots, then its DELETE
/// (invalidate + remove); one item = the pair.
void BM_MemslotsCreateDelete(benchmark::State& state, const char* impl) {
  const auto n = std::uint32_t(state.range(0));
  auto m = filled(impl, n);
  Cycles cost = 0;
  for (auto _ : state) {
    m->create(slot(n), cost);
    m->invalidate(n, cost);
    m->remove(n, cost);
  }
  benchmark::DoNotOptimize(cost);
  state.SetItemsProcessed(std::int64_t(state.iterations()));
}

/// Start-up: a new implementation and n adds; one item = one slot.
void BM_MemslotsStartup(benchmark::State& state, const char* impl) {
  const auto n = std::uint32_t(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(filled(impl, n));
  state.SetItemsProcessed(std::int64_t(state.iterations()) * n);
}

/// Start-up with the slots listed in a random order: the array's host inserts
/// then move its tail (the steps counted are KVM's either way).
void BM_MemslotsStartupShuffled(benchmark::State& state, const char* impl) {
  const auto n = std::uint32_t(state.range(0));
  std::vector<std::uint32_t> order(n);
  for (std::uint32_t i = 0; i < n; ++i) order[i] = i;
  std::uint64_t x = 2463534242ull;
  for (std::uint32_t i = n; i > 1; --i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::swap(order[i - 1], order[x % i]);
  }
  for (auto _ : state) {
    auto m = make(impl);
    for (std::uint32_t i : order) m->add(slot(i));
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(std::int64_t(state.iterations()) * n);
}

#define VMXSIM_MEMSLOTS_BENCH(fn)                                                            \
  BENCHMARK_CAPTURE(fn, array, "array")->Arg(10)->Arg(100)->Arg(509)->Arg(8194)->Arg(32764); \
  BENCHMARK_CAPTURE(fn, tree, "tree")->Arg(10)->Arg(100)->Arg(509)->Arg(8194)->Arg(32764)

VMXSIM_MEMSLOTS_BENCH(BM_MemslotsGfnLookup);
VMXSIM_MEMSLOTS_BENCH(BM_MemslotsHvaLookup);
VMXSIM_MEMSLOTS_BENCH(BM_MemslotsCreateDelete);
BENCHMARK_CAPTURE(BM_MemslotsStartup, array, "array")->Arg(32764)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MemslotsStartup, tree, "tree")->Arg(32764)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MemslotsStartupShuffled, array, "array")->Arg(32764)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MemslotsStartupShuffled, tree, "tree")->Arg(32764)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vmxsim::hv
