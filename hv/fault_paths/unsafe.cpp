// `unsafe`: a demonstrator of the bug class, NOT a model of any shipped KVM:
// it checks the entry, marks the page dirty, and later stores the value it
// read with W set. Between the check and the store, a dirty-log CLEAR can
// report and re-protect the page (the store then undoes the protection, and
// later writes go unlogged), and a page-track add can clear W and
// MMU-writable (the store restores W on a tracked page).
#include "hv/fault_paths/lockless.hpp"

namespace vmxsim::hv {
namespace {

class UnsafePath final : public LocklessPath {
 public:
  using LocklessPath::LocklessPath;

 protected:
  bool attempt(ExecContext& ctx, unsigned /*vcpu*/, Addr gpa, FaultOutcome& out) override {
    Leaf l;
    const Probe p = probe(ctx, gpa, l);
    if (p != Probe::kFixable) return p == Probe::kSpurious;
    env_.mark_dirty(ctx, gpa);  // the bug: marked before the entry is writable
    ctx.charge(p_.cmpxchg + p_.delay);
    ctx.sync();
    env_.store(ctx, l.at, l.value | ept::kWrite);  // a plain store of a stale value
    out = fixed(ctx, gpa, "store");
    return true;
  }
};

}  // namespace

VMXSIM_REGISTER(FaultPathRegistry, "unsafe", "check, mark dirty, plain store: a demonstrator of the bug class",
                [](const Cfg& hv, const SystemInfo&) { return lockless_maker<UnsafePath>(hv); });

}  // namespace vmxsim::hv
