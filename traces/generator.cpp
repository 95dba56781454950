// The synthetic access generator (`workload.generator`).
//
// Configuration keys (all optional; defaults in brackets):
//
//   pattern              ["uniform"] uniform | sequential | hot_cold
//                          uniform:    every access picks an access_size-aligned
//                                      address uniformly in the vCPU's region.
//                          sequential: access i goes to region start +
//                                      (i * stride mod working_set_bytes); each
//                                      vCPU starts at its region start.
//                          hot_cold:   the first hot_fraction of the region (rounded
//                                      down to access_size, at least one access) gets
//                                      hot_access_fraction of the accesses, uniformly;
//                                      the rest go uniformly to the remainder (the
//                                      cold part). With no cold part, all are hot.
//   working_set_bytes    [1 MiB] size of each vCPU's region (of the one shared
//                          region if `shared`). A byte count: a number or a string
//                          such as "16MiB", "0x100000". A non-zero multiple of
//                          access_size.
//   accesses_per_vcpu    [1000000] exactly this many accesses per vCPU.
//   write_fraction       [0.3] probability that an access is a write (else a read),
//                          0 to 1; 0 and 1 are exact.
//   seed                 [1] the streams are a pure function of the config and
//                          this seed (and the vCPU number), on every platform.
//   base                 [0] first address of the working set(s); a byte count,
//                          a multiple of access_size.
//   shared               [false] false: vCPU v uses [base + v*ws, base + (v+1)*ws);
//                          true: every vCPU uses [base, base + ws).
//   stride               [64] sequential: bytes between consecutive accesses; a
//                          non-zero multiple of access_size (may exceed the
//                          working set: offsets wrap modulo working_set_bytes).
//   hot_fraction         [0.1] hot_cold: share of the working set that is hot,
//                          0 < x <= 1.
//   hot_access_fraction  [0.9] hot_cold: share of accesses that go to the hot part,
//                          0 to 1.
//   gap_cycles           [0] guest cycles of non-memory work before each access,
//                          0 to 4294967295.
//   access_size          [8] bytes per access; a power of two from 1 to 4096
//                          (so an aligned access never crosses a 4 KiB page).
//   sync_every           [0] after every this many accesses, one 8-byte write to
//                          sync_addr (a host/guest sync page, as memslot_perf_test's
//                          guest_sync); it counts as one of accesses_per_vcpu. 0: none.
//   sync_addr            [0] the sync write's address, 8-byte aligned.
//
// Every key is read whatever the pattern, so a key meant for another pattern is
// accepted (and shown in the effective config) rather than reported as unknown.
#include <algorithm>
#include <limits>

#include "sim/config.hpp"
#include "sim/hash.hpp"
#include "traces/source.hpp"

namespace vmxsim::traces {

namespace {

// GCC and Clang both provide a 128-bit integer; __extension__ keeps -Wpedantic quiet.
__extension__ using U128 = unsigned __int128;

constexpr std::uint64_t kMaxAccessSize = kPageSize4K;  // aligned accesses stay in a page
// Probabilities are compared against the top 53 bits of a random word: 2^53
// is exactly representable, so fraction * 2^53 is exact and 0 / 1 are exact.
constexpr unsigned kChanceBits = 53;
constexpr double kChanceScale = static_cast<double>(std::uint64_t{1} << kChanceBits);

/// xoshiro256** (Blackman, Vigna 2018): small, fast, and identical everywhere,
/// unlike std:: engines' distributions.
class Xoshiro256ss {
 public:
  explicit Xoshiro256ss(std::uint64_t seed) {
    for (auto& w : s_) w = splitmix64(seed);  // never all zero: splitmix is a bijection
  }

  std::uint64_t operator()() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

/// A uniform value in [0, n) from a random word (Lemire's multiply-high; the
/// bias is at most n / 2^64, far below anything a simulation could observe).
inline std::uint64_t below(std::uint64_t random, std::uint64_t n) {
  return static_cast<std::uint64_t>((static_cast<U128>(random) * n) >> 64);
}

/// The threshold for `chance`, from a probability in [0, 1].
std::uint64_t chance_threshold(double p) { return static_cast<std::uint64_t>(p * kChanceScale); }

/// True with probability threshold / 2^53.
inline bool chance(std::uint64_t random, std::uint64_t threshold) { return (random >> (64 - kChanceBits)) < threshold; }

unsigned log2_exact(std::uint64_t pow2) {
  unsigned s = 0;
  while ((std::uint64_t{1} << s) != pow2) ++s;
  return s;
}

// Patterns: each yields the byte offset of the next access in the region.
// They are template parameters of the Source, so next() has no per-access
// dispatch.

struct UniformPattern {
  std::uint64_t slots;  // access_size-aligned positions in the region
  unsigned shift;       // log2(access_size)
  std::uint64_t offset(Xoshiro256ss& rng) { return below(rng(), slots) << shift; }
};

struct SequentialPattern {
  std::uint64_t ws;
  std::uint64_t step;      // stride mod ws
  std::uint64_t next = 0;  // offset of the next access
  std::uint64_t offset(Xoshiro256ss&) {
    const std::uint64_t cur = next;
    // next = (next + step) mod ws, without overflowing when ws is near 2^64.
    next = next >= ws - step ? next - (ws - step) : next + step;
    return cur;
  }
};

struct HotColdPattern {
  std::uint64_t hot_slots;   // >= 1
  std::uint64_t cold_slots;  // may be 0: then every access is hot
  std::uint64_t hot_threshold;
  unsigned shift;
  std::uint64_t offset(Xoshiro256ss& rng) {
    const bool hot = cold_slots == 0 || chance(rng(), hot_threshold);
    const std::uint64_t slot = hot ? below(rng(), hot_slots) : hot_slots + below(rng(), cold_slots);
    return slot << shift;
  }
};

template <class Pattern>
class GeneratorSource final : public Source {
 public:
  GeneratorSource(const GeneratorParams& p, Addr region_start, Pattern pattern, std::uint64_t seed)
      : rng_(seed), pattern_(pattern), region_start_(region_start), remaining_(p.accesses_per_vcpu),
        write_threshold_(chance_threshold(p.write_fraction)), gap_(p.gap_cycles), size_(p.access_size),
        sync_every_(p.sync_every), sync_addr_(p.sync_addr) {}

  std::size_t next(Access* out, std::size_t n) override {
    const auto count = static_cast<std::size_t>(std::min<std::uint64_t>(n, remaining_));
    for (std::size_t i = 0; i < count; ++i) {
      if (sync_every_ && since_sync_ == sync_every_) {  // (off: one compare of a zero)
        since_sync_ = 0;
        out[i] = Access{sync_addr_, gap_, 8, AccessType::Write};
        continue;
      }
      ++since_sync_;
      const Addr addr = region_start_ + pattern_.offset(rng_);
      const AccessType type = chance(rng_(), write_threshold_) ? AccessType::Write : AccessType::Read;
      out[i] = Access{addr, gap_, size_, type};
    }
    remaining_ -= count;
    return count;
  }

 private:
  Xoshiro256ss rng_;
  Pattern pattern_;
  Addr region_start_;
  std::uint64_t remaining_;
  std::uint64_t write_threshold_;
  std::uint32_t gap_;
  std::uint16_t size_;
  std::uint64_t sync_every_, sync_addr_, since_sync_ = 0;
};

std::string show(double v) { return json(v).dump(); }

bool is_fraction(double v) { return v >= 0.0 && v <= 1.0; }  // false for NaN

}  // namespace

GeneratorParams GeneratorParams::from(const Cfg& g) {
  const GeneratorParams d;
  GeneratorParams p;
  // Read every key before validating any, so each is known to the tracker.
  p.pattern = g.choice("pattern", d.pattern, {"uniform", "sequential", "hot_cold"});
  p.working_set_bytes = g.bytes("working_set_bytes", d.working_set_bytes);
  p.accesses_per_vcpu = g.u64("accesses_per_vcpu", d.accesses_per_vcpu);
  p.write_fraction = g.f64("write_fraction", d.write_fraction);
  p.seed = g.u64("seed", d.seed);
  p.base = g.bytes("base", d.base);
  p.shared = g.boolean("shared", d.shared);
  p.stride = g.bytes("stride", d.stride);
  p.hot_fraction = g.f64("hot_fraction", d.hot_fraction);
  p.hot_access_fraction = g.f64("hot_access_fraction", d.hot_access_fraction);
  const std::uint64_t gap = g.u64("gap_cycles", d.gap_cycles);
  const std::uint64_t size = g.u64("access_size", d.access_size);
  p.sync_every = g.u64("sync_every", d.sync_every);
  p.sync_addr = g.bytes("sync_addr", d.sync_addr);
  if (p.sync_addr % 8) g.fail("sync_addr", "expected a multiple of 8");

  if (size == 0 || size > kMaxAccessSize || (size & (size - 1)) != 0)
    g.fail("access_size",
           "expected a power of two from 1 to " + std::to_string(kMaxAccessSize) + ", got " + std::to_string(size));
  p.access_size = static_cast<std::uint16_t>(size);
  if (gap > std::numeric_limits<std::uint32_t>::max())
    g.fail("gap_cycles", "expected a cycle count from 0 to " +
                             std::to_string(std::numeric_limits<std::uint32_t>::max()) + ", got " +
                             std::to_string(gap));
  p.gap_cycles = static_cast<std::uint32_t>(gap);

  const std::string size_str = std::to_string(size);
  if (p.working_set_bytes < size || p.working_set_bytes % size != 0)
    g.fail("working_set_bytes", "expected a non-zero multiple of access_size (" + size_str + "), got " +
                                    std::to_string(p.working_set_bytes));
  if (p.stride == 0 || p.stride % size != 0)
    g.fail("stride", "expected a non-zero multiple of access_size (" + size_str + "), got " + std::to_string(p.stride));
  if (p.base % size != 0)
    g.fail("base", "expected a multiple of access_size (" + size_str + "), got " + std::to_string(p.base));
  if (p.base > std::numeric_limits<std::uint64_t>::max() - (p.working_set_bytes - 1))
    g.fail("base", "expected base + working_set_bytes to fit in 64-bit addresses, got base " + std::to_string(p.base));
  if (!is_fraction(p.write_fraction))
    g.fail("write_fraction", "expected a number from 0 to 1, got " + show(p.write_fraction));
  if (!(p.hot_fraction > 0.0 && p.hot_fraction <= 1.0))
    g.fail("hot_fraction", "expected a number greater than 0 and at most 1, got " + show(p.hot_fraction));
  if (!is_fraction(p.hot_access_fraction))
    g.fail("hot_access_fraction", "expected a number from 0 to 1, got " + show(p.hot_access_fraction));
  return p;
}

std::unique_ptr<Source> make_generator(const GeneratorParams& p, unsigned vcpu) {
  const std::uint64_t ws = p.working_set_bytes;
  const std::uint64_t size = p.access_size;
  // from() guarantees these; a hand-built GeneratorParams must too.
  if (size == 0 || (size & (size - 1)) != 0 || ws < size || ws % size != 0 || p.stride == 0 || p.stride % size != 0)
    throw Error(
        "workload.generator: working_set_bytes and stride must be non-zero "
        "multiples of access_size, a power of two");

  const std::uint64_t index = p.shared ? 0 : vcpu;
  const U128 end = static_cast<U128>(p.base) + static_cast<U128>(index + 1) * ws;
  if (end > static_cast<U128>(std::numeric_limits<std::uint64_t>::max()) + 1)
    throw Error("workload.generator: the working set of vCPU " + std::to_string(vcpu) +
                " does not fit in 64-bit addresses (base + (vcpu + 1) * working_set_bytes)");
  const Addr start = p.base + index * ws;

  // Distinct vCPUs get unrelated streams from one seed.
  const std::uint64_t seed = p.seed ^ ((std::uint64_t{vcpu} + 1) * kGoldenGamma);
  const unsigned shift = log2_exact(size);
  const std::uint64_t slots = ws >> shift;

  if (p.pattern == "uniform")
    return std::make_unique<GeneratorSource<UniformPattern>>(p, start, UniformPattern{slots, shift}, seed);
  if (p.pattern == "sequential")
    return std::make_unique<GeneratorSource<SequentialPattern>>(p, start, SequentialPattern{ws, p.stride % ws}, seed);
  if (p.pattern == "hot_cold") {
    // Rounded down to whole accesses, at least one; computed in double, which
    // is deterministic (IEEE) though inexact beyond 2^53 slots.
    const double want = p.hot_fraction * static_cast<double>(slots);
    const std::uint64_t hot = want >= static_cast<double>(slots) ? slots
                              : want >= 1.0                      ? static_cast<std::uint64_t>(want)
                                                                 : 1;
    return std::make_unique<GeneratorSource<HotColdPattern>>(
        p, start, HotColdPattern{hot, slots - hot, chance_threshold(p.hot_access_fraction), shift}, seed);
  }
  throw Error("workload.generator.pattern: unknown pattern \"" + p.pattern + "\"");
}

}  // namespace vmxsim::traces
