// models::MemHierarchy — what one page-walker memory reference costs.
//
// Each 8-byte walker reference goes through set-associative caches of 64-byte
// lines, L1D then L2 then LLC, and to DRAM if every level misses. Eight 8-byte
// paging-structure entries share a line, so the locality of walks shows: the
// neighbouring PTEs of a sequential scan, the upper levels every walk reuses.
// Latencies are load-to-use figures of the level that hits, not sums.
//
// Simplifications (say so when reading results):
//  - Only walker references go through these caches; the guest's own data
//    accesses do not, so nothing competes with page-table lines and hit rates
//    are an upper bound of what a loaded core sees.
//  - Fill on the way in ("inclusive, simple"): a miss allocates the line in
//    every level that missed; an eviction never back-invalidates another
//    level. Set index = line address mod sets (no LLC slice hash).
//  - A shared LLC (`mem.llc.shared`) is one object every vCPU's hierarchy
//    probes. The walker reaches it after its sync, so the order of shared-LLC
//    accesses follows global time order at walk granularity.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "models/set_assoc.hpp"
#include "sim/types.hpp"

namespace vmxsim {
class Cfg;
class Stats;
}  // namespace vmxsim

namespace vmxsim::models {

/// Bytes in a cache line, and its log2 (the low bits of an HPA a line ignores).
inline constexpr unsigned kLineShift = 6;
inline constexpr std::uint64_t kLineBytes = std::uint64_t{1} << kLineShift;

struct CacheLevelParams {
  std::string name;              // "l1d", "l2", "llc": stats and messages
  std::uint64_t size_bytes = 0;  // 0 disables the level; else a multiple of 64 * ways
  std::uint32_t ways = 1;        // at least 1
  Cycles latency_cycles = 0;     // load-to-use latency of a hit here
  Replacement replacement;       // `lru` unless configured

  CacheLevelParams(std::string n = "", std::uint64_t size = 0, std::uint32_t w = 1, Cycles latency = 0,
                   Replacement r = {})
      : name(std::move(n)), size_bytes(size), ways(w), latency_cycles(latency), replacement(std::move(r)) {}
};

struct MemHierarchyParams {
  // Skylake-SP figures; sources in the table at the top of mem_hierarchy.cpp.
  CacheLevelParams l1d{"l1d", 32 * 1024, 8, 5};
  CacheLevelParams l2{"l2", 1024 * 1024, 16, 14};
  CacheLevelParams llc{"llc", 1408 * 1024, 11, 50};  // 1.375 MiB: one core's share
  Cycles dram_latency_cycles = 200;
  bool llc_shared = true;  // one LLC object shared by every vCPU's hierarchy
  std::uint64_t seed = 1;  // level i (l1d 0, l2 1, llc 2) gets seed + i (random replacement)

  /// Reads mem.l1d.{size_bytes,ways,latency_cycles,replacement}, mem.l2.*,
  /// mem.llc.* plus mem.llc.shared, and mem.dram_latency_cycles. Errors name
  /// the key path.
  static MemHierarchyParams from(const Cfg& mem);
};

/// One level: a set-associative cache of 64-byte lines (LRU by default).
class CacheLevel {
 public:
  /// Throws Error on a bad geometry (size not a multiple of 64 * ways, ways 0).
  /// `seed` is the level's own (random replacement).
  CacheLevel(const CacheLevelParams& p, std::uint64_t seed);

  /// Probes the line holding `hpa`: returns whether it hit; allocates it on a
  /// miss. A disabled level always misses.
  bool access(Addr hpa) { return access_line(hpa >> kLineShift); }
  bool access_line(std::uint64_t line) {
    const bool hit = lines_.access(line, line);
    ++(hit ? hits : misses);
    return hit;
  }

  const std::string& name() const { return params_.name; }
  Cycles latency() const { return params_.latency_cycles; }
  bool enabled() const { return lines_.enabled(); }
  std::uint32_t lines() const { return lines_.entries(); }
  std::uint64_t evictions() const { return lines_.evictions; }

  /// Registers `<prefix>.hits`, `.misses`, `.evictions` (totals over every user
  /// of this level; for a shared LLC, every vCPU's).
  void register_stats(Stats& s, const std::string& prefix) const;

  std::uint64_t hits = 0, misses = 0;

 private:
  struct Line {};  // a line's presence is all we model
  CacheLevelParams params_;
  SetAssoc<std::uint64_t, Line> lines_;  // indexed and tagged by line address
};

class MemHierarchy {
 public:
  enum Level : unsigned { kL1d = 0, kL2 = 1, kLlc = 2, kLevels = 3 };

  /// `shared_llc` is used instead of a private LLC when params.llc_shared (may
  /// be null otherwise, and is ignored then). A hierarchy with llc_shared but
  /// no `shared_llc` owns its LLC, as a one-vCPU system would.
  MemHierarchy(const MemHierarchyParams& p, CacheLevel* shared_llc = nullptr);
  /// The LLC to share between hierarchies built from `p`.
  static std::unique_ptr<CacheLevel> make_llc(const MemHierarchyParams& p);

  /// Cost of one 8-byte walker reference at `hpa`: probe L1D, L2, LLC in order;
  /// the first level that hits gives the latency (its latency_cycles, a
  /// load-to-use figure); a miss everywhere costs dram_latency_cycles; the line
  /// is filled into every level that missed. Counts refs.
  Cycles access(Addr hpa) {
    ++refs;
    const std::uint64_t line = hpa >> kLineShift;
    if (probe(l1d_, kL1d, line)) return l1d_.latency();
    if (probe(l2_, kL2, line)) return l2_.latency();
    if (probe(*llc_, kLlc, line)) return llc_->latency();
    ++dram;
    return params_.dram_latency_cycles;
  }

  /// Registers `<prefix>.<level>.hits|misses` for l1d, l2, llc (for a shared
  /// LLC, those caused by this hierarchy), `<prefix>.dram` (references served
  /// by DRAM) and `<prefix>.refs`.
  void register_stats(Stats& s, const std::string& prefix) const;

  const MemHierarchyParams& params() const { return params_; }
  const CacheLevel& level(Level l) const { return l == kL1d ? l1d_ : l == kL2 ? l2_ : *llc_; }
  /// Whether the LLC is one passed in (shared) rather than this hierarchy's own.
  bool llc_is_shared() const { return !own_llc_; }

  // Movable (the LLC pointer targets the heap or the shared object), not copyable.
  MemHierarchy(MemHierarchy&&) = default;
  MemHierarchy& operator=(MemHierarchy&&) = default;

  // This hierarchy's counters (a shared LLC keeps its own totals as well).
  std::uint64_t refs = 0;
  std::uint64_t dram = 0;
  std::uint64_t hits[kLevels] = {};
  std::uint64_t misses[kLevels] = {};

 private:
  bool probe(CacheLevel& c, Level i, std::uint64_t line) {
    const bool hit = c.access_line(line);
    ++(hit ? hits[i] : misses[i]);
    return hit;
  }

  MemHierarchyParams params_;
  CacheLevel l1d_, l2_;
  std::unique_ptr<CacheLevel> own_llc_;  // null when the LLC is shared
  CacheLevel* llc_ = nullptr;            // own_llc_ or the shared one
};

}  // namespace vmxsim::models
