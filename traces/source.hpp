// Access streams: a trace file or the synthetic generator, one Source per vCPU.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/types.hpp"

namespace vmxsim {
class Cfg;
}

namespace vmxsim::traces {

/// One vCPU's access stream. Streams in constant memory.
class Source {
 public:
  virtual ~Source() = default;
  /// Writes up to `n` accesses to `out`; returns how many (0 = end of stream).
  /// Throws vmxsim::Error ("file:line: what was expected") on malformed input.
  virtual std::size_t next(Access* out, std::size_t n) = 0;
};

/// `workload.generator` (docs/config.md documents every key).
struct GeneratorParams {
  std::string pattern = "uniform";            // uniform | sequential | hot_cold
  std::uint64_t working_set_bytes = 1 << 20;  // per vCPU unless `shared`
  std::uint64_t accesses_per_vcpu = 1000000;
  double write_fraction = 0.3;
  std::uint64_t seed = 1;
  std::uint64_t base = 0;            // first address of the working set(s)
  bool shared = false;               // all vCPUs use one region
  std::uint64_t stride = 64;         // sequential: bytes between accesses
  double hot_fraction = 0.1;         // hot_cold: share of the working set that is hot
  double hot_access_fraction = 0.9;  // hot_cold: share of accesses that go to it
  std::uint32_t gap_cycles = 0;      // guest cycles between accesses
  std::uint16_t access_size = 8;
  std::uint64_t sync_every = 0;  // after every this many accesses, one write to sync_addr (0: none)
  std::uint64_t sync_addr = 0;   // the sync write's address (a host/guest sync page, e.g. memslot_perf_test's)

  static GeneratorParams from(const Cfg& generator_section);
};

/// The generator's stream for `vcpu`: a pure function of (params, vcpu), so the
/// same config and seed give the same accesses. Addresses are aligned to
/// access_size and lie in [base + vcpu*ws, +ws) (or [base, base+ws) if shared).
std::unique_ptr<Source> make_generator(const GeneratorParams& p, unsigned vcpu);

/// Summary of a whole text trace.
struct TraceInfo {
  std::uint64_t accesses = 0;
  std::vector<std::uint64_t> per_vcpu;  // indexed by vCPU
};

/// Text trace v1: `<vcpu> <R|W|X> <hex addr> [size] [gap_cycles]`, `#` comments.
/// One full streaming pass that checks every line, including vcpu < `vcpus`;
/// throws Error("path:line: ...") on the first bad line, or if unreadable.
TraceInfo validate_text_trace(const std::string& path, unsigned vcpus);

/// The accesses of one vCPU from a text trace, streamed (other vCPUs' lines skipped).
std::unique_ptr<Source> open_text_trace(const std::string& path, unsigned vcpu);

}  // namespace vmxsim::traces
