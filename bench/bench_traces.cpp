// Throughput of the access sources, which feed the simulator's end-to-end
// throughput (target >= 20 M accesses/s): the generator should cost a few ns
// per access, a text trace line a few tens.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "traces/source.hpp"
#include "traces/trace_file.hpp"

namespace {

using namespace vmxsim;
using namespace vmxsim::traces;

constexpr std::size_t kBatch = 256;  // accesses per next() call, as the CPU model asks
constexpr std::size_t kTraceLines = 1000000;

void run_generator(benchmark::State& state, const std::string& pattern) {
  GeneratorParams p;
  p.pattern = pattern;
  p.accesses_per_vcpu = ~std::uint64_t{0};  // never ends during the benchmark
  p.working_set_bytes = 64u << 20;
  auto src = make_generator(p, 0);
  std::vector<Access> buf(kBatch);
  for (auto _ : state) {
    benchmark::DoNotOptimize(src->next(buf.data(), kBatch));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
}

void BM_GeneratorUniform(benchmark::State& state) { run_generator(state, "uniform"); }
void BM_GeneratorSequential(benchmark::State& state) { run_generator(state, "sequential"); }
void BM_GeneratorHotCold(benchmark::State& state) { run_generator(state, "hot_cold"); }
BENCHMARK(BM_GeneratorUniform);
BENCHMARK(BM_GeneratorSequential);
BENCHMARK(BM_GeneratorHotCold);

/// Writes kTraceLines generated accesses of one vCPU to `path`, in the format
/// its extension names, with `gap` cycles between accesses.
void write_generated(const std::string& path, std::uint32_t gap) {
  GeneratorParams p;
  p.accesses_per_vcpu = kTraceLines;
  p.base = 0x7f0000000000;  // realistic 12-digit addresses
  p.gap_cycles = gap;
  auto src = make_generator(p, 0);
  auto out = create_trace(path, 1);
  std::vector<Access> buf(kBatch);
  Record r;
  while (std::size_t n = src->next(buf.data(), kBatch))
    for (std::size_t i = 0; i < n; ++i) {
      r.access = buf[i];
      out->write(r);
    }
  out->finish();
}

/// A 1M-access single-vCPU trace of generated accesses, in the format its
/// extension names (".trace" text, ".vtr" binary), written on first use and
/// removed at exit.
class BenchTrace {
 public:
  explicit BenchTrace(const char* ext)
      : path_(
            (std::filesystem::temp_directory_path() / ("vmxsim_bench_" + std::to_string(::getpid()) + ext)).string()) {
    write_generated(path_, 3);
  }
  ~BenchTrace() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

const std::string& text_trace() {
  static BenchTrace t(".trace");
  return t.path();
}
const std::string& vtr_trace() {
  static BenchTrace t(".vtr");
  return t.path();
}

// Reads every access of `path` (text or .vtr, by extension) per iteration.
void read_all(benchmark::State& state, const std::string& path) {
  std::vector<Access> buf(kBatch);
  std::size_t total = 0;
  for (auto _ : state) {
    auto src = open_trace(path, 0);
    while (std::size_t n = src->next(buf.data(), kBatch)) total += n;
  }
  if (total != state.iterations() * kTraceLines) state.SkipWithError("short read");
  state.SetItemsProcessed(static_cast<std::int64_t>(total));
}

void validate_all(benchmark::State& state, const std::string& path) {
  for (auto _ : state) benchmark::DoNotOptimize(validate_trace(path, 1).accesses);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kTraceLines));
}

void BM_TextTraceRead(benchmark::State& state) { read_all(state, text_trace()); }
BENCHMARK(BM_TextTraceRead)->Unit(benchmark::kMillisecond);

void BM_TextTraceValidate(benchmark::State& state) { validate_all(state, text_trace()); }
BENCHMARK(BM_TextTraceValidate)->Unit(benchmark::kMillisecond);

}  // namespace

// ---- binary traces (.vtr) -----------------------------------------------------

namespace {

void BM_VtrRead(benchmark::State& state) { read_all(state, vtr_trace()); }
BENCHMARK(BM_VtrRead)->Unit(benchmark::kMillisecond);

void BM_VtrValidate(benchmark::State& state) { validate_all(state, vtr_trace()); }
BENCHMARK(BM_VtrValidate)->Unit(benchmark::kMillisecond);

void BM_VtrWrite(benchmark::State& state) {
  const std::string path = vtr_trace() + ".out.vtr";
  for (auto _ : state) write_generated(path, 0);
  std::filesystem::remove(path);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kTraceLines));
}
BENCHMARK(BM_VtrWrite)->Unit(benchmark::kMillisecond);

}  // namespace
