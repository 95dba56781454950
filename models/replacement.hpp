// models::ReplacementPolicy — which way of a full set a set-associative array
// (models::SetAssoc) evicts, chosen by name in config:
// `tlb.<level>.replacement`, `pwc.<cache>.replacement`, `mem.<level>.replacement`.
//
// Every array keeps one stamp per way from a per-array clock: 0 for a free
// way, else the clock at the way's last fill (and, for policies that say so,
// its last hit). A policy states in traits() what the engine does for it by
// itself, so the built-in stamp policies (LRU, FIFO) cost no virtual call on
// the hit or fill path; a policy with state of its own asks for the hooks.
//
// A policy's own config keys live in a section named after it, beside the
// key that selects it: `tlb.l1.<policy>.<key>`, `pwc.pde.<policy>.<key>`,
// `mem.l2.<policy>.<key>` (no built-in policy has any yet). Its factory reads
// them once at config time (sim/registry.hpp); its Maker builds one instance
// per array from ReplacementArgs.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "sim/registry.hpp"

namespace vmxsim::models {

/// What one policy instance is built for: one array.
struct ReplacementArgs {
  std::uint32_t sets = 0, ways = 0;
  std::uint64_t seed = 0;  // the array's own seed (distinct per vCPU, level and array; sim.seed)
};

/// The stamps of one set's ways, as the engine keeps them (0: a free way).
/// Only their order is meaningful: the engine renumbers them, order kept,
/// before its 32-bit clock would wrap.
class StampView {
 public:
  StampView(const std::uint32_t* first, std::uint32_t ways) : first_(first), ways_(ways) {}
  std::uint32_t ways() const { return ways_; }
  std::uint32_t operator[](std::uint32_t way) const { return first_[way]; }

 private:
  const std::uint32_t* first_;
  std::uint32_t ways_;
};

/// The way with the smallest stamp, ties to the lowest way: a free way (stamp
/// 0) if there is one, else the oldest. The victim rule of LRU and FIFO.
inline std::uint32_t oldest_way(const StampView& s) {
  std::uint32_t best = 0;
  for (std::uint32_t w = 1; w < s.ways(); ++w)
    if (s[w] < s[best]) best = w;
  return best;
}

class ReplacementPolicy {
 public:
  /// What the engine does for this policy without calling it.
  struct Traits {
    bool stamp_hits = false;     // a hit restamps its way (fills always do)
    bool oldest_victim = false;  // victim() is oldest_way(): the engine finds it in its own scan
    bool hooks = false;          // call on_hit and on_fill
  };
  virtual ~ReplacementPolicy() = default;
  virtual Traits traits() const = 0;
  /// The way to evict from the full set `set` (every way valid).
  virtual std::uint32_t victim(std::uint32_t set, const StampView& stamps) = 0;
  /// With traits().hooks: a lookup hit `way` of `set`; `way` of `set` was filled.
  virtual void on_hit(std::uint32_t /*set*/, std::uint32_t /*way*/) {}
  virtual void on_fill(std::uint32_t /*set*/, std::uint32_t /*way*/) {}
};

/// Configured once per array owner (a TLB level, a PWC cache, a cache level);
/// the Maker builds one policy per array.
using ReplacementRegistry = Registry<ReplacementPolicy, const ReplacementArgs&>;

/// A policy chosen by name, and configured when it was read from config.
struct Replacement {
  std::string name = "lru";
  ReplacementRegistry::Maker make;  // empty (params built in code): `name` with its defaults

  Replacement() = default;
  Replacement(std::string n) : name(std::move(n)) {}  // NOLINT: `p.replacement = "fifo"` in code
  Replacement(const char* n) : name(n) {}             // NOLINT

  /// Reads `<owner>.replacement` (one of the registered names, `def` when
  /// absent) and lets the policy read its section `<owner>.<name>`.
  static Replacement read(const Cfg& owner, const Replacement& def);
  /// One policy for one array. Throws Error for an unknown name.
  std::unique_ptr<ReplacementPolicy> build(const ReplacementArgs& a) const;
};

}  // namespace vmxsim::models
