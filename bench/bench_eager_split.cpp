// Host time of eager page splitting (issue 13's bar: splitting 96 GiB takes
// at most about 60 s of host time): a slot of N GiB on 1 GiB host pages,
// mapped by N 1 GiB leaves, then dirty logging enabled with
// hv.eager_split.enabled, which splits every leaf to 4 KiB (N × 513 tables,
// N × 262,144 leaves written bit-exact in models::PhysMem) and then
// write-protects them. Each iteration builds a fresh hypervisor (not timed).
//   build/vmxsim_bench --benchmark_filter=EagerSplit
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "hv/hypervisor.hpp"
#include "models/phys_mem.hpp"
#include "null_context.hpp"
#include "sim/config.hpp"

namespace vmxsim::hv {
namespace {

void BM_EagerSplitGiB(benchmark::State& state, const char* alloc) {
  const std::uint64_t gib = std::uint64_t(state.range(0));
  const Addr base = Addr{1} << 30;
  for (auto _ : state) {
    state.PauseTiming();
    ConfigTracker t(json::parse(R"({"hv": {"dirty_log": {"mode": "pml"}, "eager_split": {"alloc": ")" +
                                std::string(alloc) + R"("}, "memslots": [{"gpa": "1GiB", "size": ")" +
                                std::to_string(gib) + R"(GiB", "backing": "1G"}]}})"),
                    "bench.json");
    Cfg root(t);
    const HvParams p = HvParams::from(root.section("hv"), root.section("ept"), root.section("check"), SystemInfo{});
    auto mem = std::make_unique<models::PhysMem>(models::PhysMemParams{});
    auto hv = std::make_unique<Hypervisor>(p, *mem);
    NullContext ctx;
    for (std::uint64_t g = 0; g < gib; ++g) hv->exits().handle_ept_violation(ctx, 0, base + (g << 30), 0x182);
    state.ResumeTiming();
    hv->dirty_log_ops().enable(ctx, base, base + (gib << 30));
    benchmark::DoNotOptimize(hv->splitter().splits);
    state.PauseTiming();
    if (hv->splitter().splits != gib * 513) state.SkipWithError("not every leaf was split");
    state.counters["tables"] = double(hv->splitter().splits);
    hv.reset();
    mem.reset();
    state.ResumeTiming();
  }
  state.counters["GiB/s"] = benchmark::Counter(double(gib) * double(state.iterations()), benchmark::Counter::kIsRate);
}

BENCHMARK_CAPTURE(BM_EagerSplitGiB, drop_lock, "drop_lock")->Arg(1)->Arg(8)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EagerSplitGiB, nowait, "nowait")->Arg(8)->Unit(benchmark::kMillisecond);
// The issue's size, once: about 200 MiB of EPT tables.
BENCHMARK_CAPTURE(BM_EagerSplitGiB, drop_lock_96, "drop_lock")->Arg(96)->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace
}  // namespace vmxsim::hv
