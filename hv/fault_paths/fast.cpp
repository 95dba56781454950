// `fast`: today's KVM, mmu.c fast_page_fault() → fast_pf_fix_direct_spte():
// a lockless walk, then one compare-and-exchange setting W on an entry that
// dirty logging write-protected, then mark_page_dirty_in_slot.
#include "hv/fault_paths/lockless.hpp"

namespace vmxsim::hv {
namespace {

class FastPath final : public LocklessPath {
 public:
  using LocklessPath::LocklessPath;

 protected:
  bool attempt(ExecContext& ctx, unsigned /*vcpu*/, Addr gpa, FaultOutcome& out) override {
    for (unsigned tries = 0; tries < kMaxTries; ++tries) {
      Leaf l;
      const Probe p = probe(ctx, gpa, l);
      if (p != Probe::kFixable) return p == Probe::kSpurious;
      // The exchange happens a walk later than the read: a write-protect in
      // between changes the entry, and the exchange fails.
      ctx.charge(p_.cmpxchg + p_.delay);
      ctx.sync();
      if (exchange(ctx, gpa, l.at, l.value, l.value | ept::kWrite, out)) return true;
    }
    return false;
  }
};

}  // namespace

VMXSIM_REGISTER(FaultPathRegistry, "fast", "KVM's fast_page_fault: lockless walk, one cmpxchg setting W",
                [](const Cfg& hv, const SystemInfo&) { return lockless_maker<FastPath>(hv); });

}  // namespace vmxsim::hv
