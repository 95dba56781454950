// hv::FaultEnv — all a fault-path variant may use of the hypervisor: the
// EPT's leaves and their memory (read and compare-and-exchange at the
// caller's synced instant), the dirty-log and write-track flags, RCU, the
// slow path to fall back to, the shared costs, and the timeline.
#pragma once
#include <cstdint>

#include "hv/costs.hpp"
#include "hv/dirty_log.hpp"
#include "hv/fault_path.hpp"
#include "hv/mmu.hpp"
#include "hv/page_track.hpp"
#include "hv/rcu.hpp"
#include "hv/slow_path.hpp"
#include "models/phys_mem.hpp"
#include "sim/trace.hpp"

namespace vmxsim::hv {

class FaultEnv {
 public:
  FaultEnv(const HvCosts& costs, const Mmu& mmu, models::PhysMem& mem, const DirtyLog& dirty, const PageTrack& track,
           Rcu& rcu, SlowPath& slow)
      : costs_(costs), mmu_(mmu), mem_(mem), dirty_(dirty), track_(track), rcu_(rcu), slow_(slow) {}
  void set_trace(Trace* t) { tl_ = t; }

  const HvCosts& costs() const { return costs_; }
  /// The leaf mapping `gpa` now (the caller has synced), level 0 if none.
  Leaf leaf(Addr gpa) const { return mmu_.find_leaf(gpa); }
  /// Compare-and-exchange of the entry at `at`; on failure `expected` gets its value.
  bool cmpxchg(Addr at, std::uint64_t& expected, std::uint64_t desired) { return mem_.cmpxchg(at, expected, desired); }
  /// A plain store (the `unsafe` demonstrator only).
  void store(Addr at, std::uint64_t v) { mem_.write(at, v); }
  bool logged(Addr gpa) const { return dirty_.logged(gpa); }
  bool tracked(Addr gpa) const { return track_.tracked(gpa); }
  Rcu& rcu() { return rcu_; }
  void mark_dirty(ExecContext& ctx, Addr gpa) { slow_.mark_dirty(ctx, gpa); }
  FaultOutcome slow(ExecContext& ctx, unsigned vcpu, const Memslot& slot, Addr gpa, AccessType type) {
    return slow_.handle(ctx, vcpu, slot, gpa, type);
  }
  /// A point event on the calling thread's timeline track.
  void instant(ExecContext& ctx, const char* name, Addr gpa) {
    if (tl_) tl_->instant(ctx.thread_id(), name, ctx.now(), TraceArgs().hex("gpa", gpa).str());
  }

 private:
  const HvCosts& costs_;
  const Mmu& mmu_;
  models::PhysMem& mem_;
  const DirtyLog& dirty_;
  const PageTrack& track_;
  Rcu& rcu_;
  SlowPath& slow_;
  Trace* tl_ = nullptr;
};

}  // namespace vmxsim::hv
