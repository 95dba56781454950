// models::MemHierarchy — L1D, L2, LLC and DRAM as seen by the page walker.
//
// ## Configuration (`mem`)
//
// | key                       | type       | default            | source |
// |---------------------------|------------|--------------------|--------|
// | `mem.l1d.size_bytes`      | byte count | 32768 (32 KiB)     | Skylake-SP L1D: 32 KiB, 8-way (a) |
// | `mem.l1d.ways`            | integer    | 8                  | (a) |
// | `mem.l1d.latency_cycles`  | integer    | 5                  | L1D load-to-use 4–5 cycles (a); 5, the complex-address case a walker's base+index load resembles |
// | `mem.l2.size_bytes`       | byte count | 1048576 (1 MiB)    | Skylake-SP L2: 1 MiB per core, 16-way (a) |
// | `mem.l2.ways`             | integer    | 16                 | (a) |
// | `mem.l2.latency_cycles`   | integer    | 14                 | L2 load-to-use ~14 cycles (a) |
// | `mem.llc.size_bytes`      | byte count | 1441792 (1.375 MiB)| Skylake-SP LLC: 1.375 MiB per core, 11-way (a); the default is ONE core's share (see below) |
// | `mem.llc.ways`            | integer    | 11                 | (a) |
// | `mem.llc.latency_cycles`  | integer    | 50                 | LLC ~50–70 cycles on Skylake-SP's mesh (a); the low end of that range, our choice |
// | `mem.llc.shared`          | boolean    | true               | our modelling choice: one LLC object probed by every vCPU, as on one socket |
// | `mem.<level>.replacement` | string     | `lru`              | our modelling choice: true LRU (the real policies are not published); any registered policy (`fifo`, `lru`, `random`) |
// | `mem.<level>.<policy>`    | object     | none               | the chosen policy's own keys (models/replacement.hpp) |
// | `mem.dram_latency_cycles` | integer    | 200                | DRAM ~80–90 ns loaded-idle (a) ≈ 200 cycles at 2.5 GHz (our conversion) |
//
// (a) Commonly published Skylake-SP figures (vendor optimisation-guide numbers
//     as widely reproduced, and microbenchmark results): published
//     microarchitecture figures, not from a primary source in this repo.
//
// Rules: a level with `size_bytes` 0 is disabled (always misses, adds no
// latency); otherwise `size_bytes` must be a multiple of 64 × `ways` (whole
// sets of 64-byte lines) and `ways` at least 1. Every key is read whether or
// not its level is enabled, so `config show` lists them all.
//
// With `random`, level i (l1d 0, l2 1, llc 2) is seeded with
// MemHierarchyParams::seed + i (a stream of sim.seed per vCPU, and one for a
// shared LLC).
//
// With `mem.llc.shared`, the one LLC is `mem.llc.size_bytes` big, whatever the
// number of vCPUs: to model a socket's LLC for N vCPUs, set it to
// N × 1441792 (still a multiple of 64 × ways).
#include "models/mem_hierarchy.hpp"

#include "models/geometry.hpp"
#include "sim/config.hpp"
#include "sim/stats.hpp"

namespace vmxsim::models {

namespace {

/// One level's keys as read, before validation.
struct RawLevel {
  Cfg cfg;
  CacheLevelParams params;
  std::uint64_t ways;  // before narrowing, so a huge value is reported, not truncated
};

RawLevel read_level(const Cfg& c, const CacheLevelParams& d) {
  RawLevel r{c, d, 0};
  r.params.size_bytes = c.bytes("size_bytes", d.size_bytes);
  r.ways = c.u64("ways", d.ways);
  r.params.latency_cycles = c.u64("latency_cycles", d.latency_cycles);
  r.params.replacement = Replacement::read(c, d.replacement);
  return r;
}

CacheLevelParams checked(const RawLevel& r) {
  CacheLevelParams p = r.params;
  p.ways = geometry_from(r.cfg, "size_bytes", r.params.size_bytes, r.ways, kLineBytes).ways;
  return p;
}

}  // namespace

MemHierarchyParams MemHierarchyParams::from(const Cfg& mem) {
  const MemHierarchyParams d;
  MemHierarchyParams p;
  // Every key first (so all are known and listed), then the checks.
  const RawLevel l1d = read_level(mem.section("l1d"), d.l1d);
  const RawLevel l2 = read_level(mem.section("l2"), d.l2);
  const Cfg llc_cfg = mem.section("llc");
  const RawLevel llc = read_level(llc_cfg, d.llc);
  p.llc_shared = llc_cfg.boolean("shared", d.llc_shared);
  p.dram_latency_cycles = mem.u64("dram_latency_cycles", d.dram_latency_cycles);
  p.l1d = checked(l1d);
  p.l2 = checked(l2);
  p.llc = checked(llc);
  return p;
}

// ---- CacheLevel ---------------------------------------------------------------

CacheLevel::CacheLevel(const CacheLevelParams& p, std::uint64_t seed)
    : params_(p), lines_(checked_geometry("mem." + p.name, "size_bytes", p.size_bytes, p.ways, kLineBytes),
                         p.replacement, seed, "mem." + p.name) {}

void CacheLevel::register_stats(Stats& s, const std::string& prefix) const {
  s.counter(prefix + ".hits", &hits, "accesses",
            "walker references that found their line in this level (for a shared LLC, every vCPU's)");
  s.counter(prefix + ".misses", &misses, "accesses",
            "walker references that reached this level and missed, each allocating the line here "
            "(a disabled level always misses)");
  s.counter(prefix + ".evictions", &lines_.evictions, "lines",
            "valid lines of this level replaced by a fill (their set was full)");
}

// ---- MemHierarchy -------------------------------------------------------------

MemHierarchy::MemHierarchy(const MemHierarchyParams& p, CacheLevel* shared_llc)
    : params_(p), l1d_(p.l1d, p.seed + kL1d), l2_(p.l2, p.seed + kL2) {
  if (p.llc_shared && shared_llc) {
    llc_ = shared_llc;
  } else {
    own_llc_ = make_llc(p);
    llc_ = own_llc_.get();
  }
}

std::unique_ptr<CacheLevel> MemHierarchy::make_llc(const MemHierarchyParams& p) {
  return std::make_unique<CacheLevel>(p.llc, p.seed + kLlc);
}

void MemHierarchy::register_stats(Stats& s, const std::string& prefix) const {
  // Fixed names, so stats keep their keys whatever names params carry.
  static const char* const kNames[kLevels] = {"l1d", "l2", "llc"};
  for (unsigned i = 0; i < kLevels; ++i) {
    const std::string p = prefix + "." + kNames[i];
    s.counter(p + ".hits", &hits[i], "accesses", std::string("this vCPU's walker references that hit in ") + kNames[i]);
    s.counter(p + ".misses", &misses[i], "accesses",
              std::string("this vCPU's walker references that reached ") + kNames[i] + " and missed");
  }
  s.counter(prefix + ".dram", &dram, "accesses", "this vCPU's walker references that missed every level (DRAM)");
  s.counter(prefix + ".refs", &refs, "accesses",
            "this vCPU's walker memory references (8-byte paging-structure entries)");
}

}  // namespace vmxsim::models
