// The fault-path variants (hv/fault_path.hpp).
#include <memory>

#include "ept/entry.hpp"
#include "hv/exec_context.hpp"
#include "hv/fault_path.hpp"
#include "hv/hypervisor.hpp"
#include "models/phys_mem.hpp"

namespace vmxsim::hv {

namespace {

using namespace vmxsim::ept;

class SlowPath final : public FaultPath {
 public:
  bool handle(ExecContext& ctx, Hypervisor& hv, unsigned vcpu, const Memslot& slot, Addr gpa,
              AccessType type) override {
    return hv.slow_path(ctx, vcpu, slot, gpa, type);
  }
};

class FastPath final : public FaultPath {
 public:
  bool handle(ExecContext& ctx, Hypervisor& hv, unsigned vcpu, const Memslot& slot, Addr gpa,
              AccessType type) override {
    // page_fault_can_be_fast(): with A/D bits on, only write faults on
    // present entries qualify.
    if (type != AccessType::Write) return hv.slow_path(ctx, vcpu, slot, gpa, type);
    FastPathStats& st = hv.fast_stats();
    const HvCosts& c = hv.costs();
    for (unsigned tries = 0; tries < kMaxTries; ++tries) {
      // Lockless walk (under RCU read-side in the TDP MMU): read the leaf now,
      // pay the walk, then exchange at a later instant — another thread may
      // change the entry in between, and the exchange then fails.
      ctx.sync();
      const Leaf l = hv.mmu().find_leaf(gpa);
      ctx.charge(c.fast_pf_walk);
      if (!l.level) break;  // not present: the slow path maps it
      if (l.value & kWrite) {  // already allowed: a lazily flushed TLB, or another vCPU fixed it
        ++st.spurious;
        return false;
      }
      const bool can_fix = (l.value & kHostWritable) && (l.value & kMmuWritable) &&
                           !(l.level > 1 && hv.dirty_log().logged(gpa));  // huge + logging: split, slow path
      if (!can_fix) break;
      ctx.sync();
      std::uint64_t expected = l.value;
      ctx.charge(c.fast_pf_cmpxchg);
      if (hv.phys().cmpxchg(l.at, expected, l.value | kWrite)) {
        // fast_pf_fix_direct_spte(): W 0→1, then mark the page dirty; D is
        // left clear (a PML double-log is harmless, and it avoids a flush).
        ++st.fixed;
        hv.mark_dirty(ctx, gpa);
        return hv.dirty_log().logged(gpa);
      }
      ++st.retries;
      hv.trace_instant(ctx, "cmpxchg fail", gpa);
    }
    ++st.to_slow;
    return hv.slow_path(ctx, vcpu, slot, gpa, type);
  }

 private:
  static constexpr unsigned kMaxTries = 4;  // fast_page_fault gives up after 4 retries
};

}  // namespace

VMXSIM_REGISTER(FaultPathRegistry, "slow", [] { return std::unique_ptr<FaultPath>(new SlowPath); });
VMXSIM_REGISTER(FaultPathRegistry, "fast", [] { return std::unique_ptr<FaultPath>(new FastPath); });

}  // namespace vmxsim::hv
