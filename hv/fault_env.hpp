// hv::FaultEnv — all a fault-path variant may use of the hypervisor: the
// EPT's leaves and their memory (read and compare-and-exchange at the
// caller's synced instant), the dirty-log and write-track flags, the
// page-table freeing policy's reader side, the slow path to fall back to, the
// shared costs, and the timeline. Each thread's last leaf read is a hold for
// the use-after-free oracle (check.pt_free): an exchange or store through it
// after its table was freed is a violation, and is not done.
#pragma once
#include <cstdint>
#include <vector>

#include "hv/check/pt_free_oracle.hpp"
#include "hv/costs.hpp"
#include "hv/dirty_log.hpp"
#include "hv/fault_path.hpp"
#include "hv/mmu.hpp"
#include "hv/page_track.hpp"
#include "hv/pt_free.hpp"
#include "hv/slow_path.hpp"
#include "models/phys_mem.hpp"
#include "sim/trace.hpp"

namespace vmxsim::hv {

class FaultEnv {
 public:
  FaultEnv(const HvCosts& costs, const Mmu& mmu, models::PhysMem& mem, const DirtyLog& dirty, const PageTrack& track,
           PtFreePolicy& pt_free, PtFreeOracle& oracle, SlowPath& slow)
      : costs_(costs), mmu_(mmu), mem_(mem), dirty_(dirty), track_(track), pt_free_(pt_free), oracle_(oracle),
        slow_(slow) {}
  void set_trace(Trace* t) { tl_ = t; }

  const HvCosts& costs() const { return costs_; }
  /// The leaf mapping `gpa` now (the caller has synced), level 0 if none;
  /// the thread now holds a pointer into its table.
  Leaf leaf(ExecContext& ctx, Addr gpa) {
    const Leaf l = mmu_.find_leaf(gpa);
    if (l.level) hold(ctx) = oracle_.hold(l.at, ctx.now());
    return l;
  }
  /// Compare-and-exchange of the entry at `at` (in the table of the thread's
  /// last leaf); on failure `expected` gets its value. False without
  /// touching memory if that table was freed meanwhile.
  bool cmpxchg(ExecContext& ctx, Addr at, std::uint64_t& expected, std::uint64_t desired) {
    if (!still_held(ctx)) return false;
    return mem_.cmpxchg(at, expected, desired);
  }
  /// A plain store (the `unsafe` demonstrator only); none if the table was freed.
  void store(ExecContext& ctx, Addr at, std::uint64_t v) {
    if (still_held(ctx)) mem_.write(at, v);
  }
  bool logged(Addr gpa) const { return dirty_.logged(gpa); }
  bool tracked(Addr gpa) const { return track_.tracked(gpa); }
  PtFreePolicy& pt_free() { return pt_free_; }
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
  PtHold& hold(ExecContext& ctx) {
    const unsigned t = ctx.thread_id();
    if (holds_.size() <= t) holds_.resize(t + 1);
    return holds_[t];
  }
  bool still_held(ExecContext& ctx) { return oracle_.use(hold(ctx), ctx.thread_id(), "fast_page_fault", ctx.now()); }
  PtFreePolicy& pt_free_;
  PtFreeOracle& oracle_;
  std::vector<PtHold> holds_;  // per thread id: the table of its last leaf read
  SlowPath& slow_;
  Trace* tl_ = nullptr;
};

}  // namespace vmxsim::hv
