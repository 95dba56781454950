// Host-time cost of the PML engine: a full log's worth of dirty pages logged
// (may_set_flags() + log() each, as the walker calls them), then one KVM-style
// drain, per iteration. items = pages logged.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "models/phys_mem.hpp"
#include "pml/log_engine.hpp"

namespace vmxsim::pml {
namespace {

constexpr Addr kGpaBase = Addr{1} << 30;

void run_log_drain(benchmark::State& state, const char* variant, std::uint32_t entries) {
  models::PhysMem mem{models::PhysMemParams{}};
  auto e = std::make_unique<LogEngine>(entries, mem);  // the engine every variant here builds
  e->enable(true);
  const std::uint32_t n = std::uint32_t(e->index()) + 1;  // the head + 1 = capacity
  std::vector<Addr> out;
  out.reserve(n);
  Addr page = 0;
  for (auto _ : state) {
    for (std::uint32_t i = 0; i < n; ++i) {
      if (!e->may_set_flags()) {
        state.SkipWithError("refused before the log was full");
        return;
      }
      e->log(kGpaBase + (page++ << kPageShift4K));
    }
    out.clear();
    benchmark::DoNotOptimize(e->drain(out));
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(std::int64_t(state.iterations()) * n);
}

/// The `intel` engine: 512 logs + one drain.
void BM_PmlLogDrain(benchmark::State& state) { run_log_drain(state, "intel", 512); }
BENCHMARK(BM_PmlLogDrain);

/// The `sized` engine at 512 entries (same work, through the multi-page layout).
void BM_PmlLogDrainSized(benchmark::State& state) { run_log_drain(state, "sized", 512); }
BENCHMARK(BM_PmlLogDrainSized);

}  // namespace
}  // namespace vmxsim::pml
