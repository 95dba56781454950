// What the lockless fault paths (fast, spte_id, unsafe) share: their config
// (`hv.lockless_delay_cycles`, `hv.costs.fast_pf_walk`, `hv.costs.fast_pf_cmpxchg`),
// their counters (hv.fault.fast_*), and the steps of KVM's fast_page_fault():
// an RCU read-side section (walk_shadow_page_lockless_begin/end), a lockless
// read of the leaf, a compare-and-exchange, and the fall back to the slow
// path after leaving the section.
#pragma once
#include <cstdint>

#include "hv/fault_env.hpp"
#include "hv/fault_path.hpp"

namespace vmxsim {
class Cfg;
}

namespace vmxsim::hv {

struct LocklessParams {
  Cycles walk = 60;     // hv.costs.fast_pf_walk: the lockless walk to the leaf
  Cycles cmpxchg = 25;  // hv.costs.fast_pf_cmpxchg: one compare-and-exchange on the leaf
  // hv.lockless_delay_cycles: extra cycles a lockless path spends between
  // its last check and its update — the vCPU interrupted or preempted there.
  // 0 by default; the race scenarios (configs/races/) widen the window.
  Cycles delay = 0;
  static LocklessParams from(const Cfg& hv);
};

class LocklessPath : public FaultPath {
 public:
  static constexpr unsigned kMaxTries = 4;  // fast_page_fault() gives up after 4 tries

  LocklessPath(FaultEnv& env, const LocklessParams& p) : env_(env), p_(p) {}

  FaultOutcome handle(ExecContext& ctx, unsigned vcpu, const Memslot& slot, Addr gpa, AccessType type) final;
  void register_stats(Stats& s) const override;

 protected:
  /// True if resolved without the lock (into `out`); false: take the slow path.
  virtual bool attempt(ExecContext& ctx, unsigned vcpu, Addr gpa, FaultOutcome& out) = 0;

  /// page_fault_can_be_fast() and the walk of fast_page_fault(): read the
  /// leaf at this instant, then pay the walk.
  enum class Probe { kSlow, kSpurious, kFixable };
  Probe probe(ExecContext& ctx, Addr gpa, Leaf& l);
  /// Counted as fixed without the lock, with a timeline instant.
  FaultOutcome fixed(ExecContext& ctx, Addr gpa, const char* event);
  /// The final compare-and-exchange that makes the entry writable, at this
  /// (synced) instant; on success mark the page dirty.
  bool exchange(ExecContext& ctx, Addr gpa, Addr at, std::uint64_t expected, std::uint64_t desired, FaultOutcome& out);
  /// A failed compare-and-exchange: counted, with a timeline instant.
  void retry(ExecContext& ctx, Addr gpa, const char* event);

  FaultEnv& env_;
  const LocklessParams p_;

 private:
  std::uint64_t fixed_ = 0, spurious_ = 0, retries_ = 0, to_slow_ = 0;
};

/// The config phase of a lockless path `Path(FaultEnv&, const LocklessParams&)`.
template <class Path>
FaultPathRegistry::Maker lockless_maker(const Cfg& hv) {
  const LocklessParams p = LocklessParams::from(hv);
  return [p](FaultEnv& env) { return std::make_unique<Path>(env, p); };
}

}  // namespace vmxsim::hv
