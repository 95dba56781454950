// The fault-path variants (hv/fault_path.hpp, docs/fault-paths.md).
#include <memory>

#include "ept/entry.hpp"
#include "sim/exec_context.hpp"
#include "hv/fault_path.hpp"
#include "hv/hypervisor.hpp"
#include "hv/rcu.hpp"
#include "models/phys_mem.hpp"

namespace vmxsim::hv {

namespace {

using namespace vmxsim::ept;

constexpr unsigned kMaxTries = 4;  // fast_page_fault() gives up after 4 tries

class SlowPath final : public FaultPath {
 public:
  FaultOutcome handle(ExecContext& ctx, Hypervisor& hv, unsigned vcpu, const Memslot& slot, Addr gpa,
                      AccessType type) override {
    return hv.slow_path(ctx, vcpu, slot, gpa, type);
  }
};

/// The lockless paths' common start (page_fault_can_be_fast() and the walk
/// of fast_page_fault()): read the leaf at this instant, then pay the walk.
enum class Probe { kSlow, kSpurious, kFixable };
Probe probe(ExecContext& ctx, Hypervisor& hv, Addr gpa, Leaf& l) {
  ctx.sync();
  l = hv.mmu().find_leaf(gpa);
  ctx.charge(hv.costs().fast_pf_walk);
  if (!l.level) return Probe::kSlow;  // not present: the slow path maps it
  if (l.value & kWrite) {  // already allowed: a lazily flushed TLB, or another vCPU fixed it
    ++hv.fast_stats().spurious;
    return Probe::kSpurious;
  }
  // Only write protection that dirty logging set may be lifted without the
  // lock (Host- and MMU-writable); a huge page being logged is split, slowly.
  const bool fixable = (l.value & kHostWritable) && (l.value & kMmuWritable) &&
                       !(l.level > 1 && hv.dirty_log().logged(gpa));
  return fixable ? Probe::kFixable : Probe::kSlow;
}

FaultOutcome fixed(ExecContext& ctx, Hypervisor& hv, Addr gpa, const char* event) {
  ++hv.fast_stats().fixed;
  hv.trace_instant(ctx, event, gpa);
  return {hv.dirty_log().logged(gpa), false, 0};
}

FaultOutcome to_slow(ExecContext& ctx, Hypervisor& hv, unsigned vcpu, const Memslot& slot, Addr gpa,
                     AccessType type) {
  ++hv.fast_stats().to_slow;
  return hv.slow_path(ctx, vcpu, slot, gpa, type);
}

/// The final compare-and-exchange that makes the entry writable, at this
/// (synced) instant; on success mark the page dirty (fast_pf_fix_direct_spte:
/// W 0→1, then mark_page_dirty_in_slot; D stays clear — a PML double-log is
/// harmless, and it avoids a flush).
bool exchange(ExecContext& ctx, Hypervisor& hv, Addr gpa, Addr at, std::uint64_t expected, std::uint64_t desired,
              FaultOutcome& out) {
  if (hv.phys().cmpxchg(at, expected, desired)) {
    hv.mark_dirty(ctx, gpa);
    out = fixed(ctx, hv, gpa, "cmpxchg ok");
    return true;
  }
  ++hv.fast_stats().retries;
  hv.trace_instant(ctx, "cmpxchg fail", gpa);
  return false;
}

/// A path that tries to fix write faults without mmu_lock, inside an RCU
/// read-side section (walk_shadow_page_lockless_begin/end), and falls back to
/// the slow path after leaving it.
class LocklessPath : public FaultPath {
 public:
  FaultOutcome handle(ExecContext& ctx, Hypervisor& hv, unsigned vcpu, const Memslot& slot, Addr gpa,
                      AccessType type) final {
    // With A/D bits on, only write faults on present entries qualify
    // (page_fault_can_be_fast).
    if (type != AccessType::Write) return hv.slow_path(ctx, vcpu, slot, gpa, type);
    FaultOutcome out;
    bool done;
    {
      RcuReadGuard rcu(hv.rcu(), ctx);
      done = attempt(ctx, hv, vcpu, gpa, out);
    }
    return done ? out : to_slow(ctx, hv, vcpu, slot, gpa, type);
  }

 protected:
  /// True if resolved without the lock (into `out`); false: take the slow path.
  virtual bool attempt(ExecContext& ctx, Hypervisor& hv, unsigned vcpu, Addr gpa, FaultOutcome& out) = 0;
};

/// Today's KVM: mmu.c fast_page_fault() → fast_pf_fix_direct_spte().
class FastPath final : public LocklessPath {
 protected:
  bool attempt(ExecContext& ctx, Hypervisor& hv, unsigned /*vcpu*/, Addr gpa, FaultOutcome& out) override {
    for (unsigned tries = 0; tries < kMaxTries; ++tries) {
      Leaf l;
      const Probe p = probe(ctx, hv, gpa, l);
      if (p != Probe::kFixable) return p == Probe::kSpurious;
      // The exchange happens a walk later than the read: a write-protect in
      // between changes the entry, and the exchange fails.
      ctx.charge(hv.costs().fast_pf_cmpxchg + hv.lockless_delay());
      ctx.sync();
      if (exchange(ctx, hv, gpa, l.at, l.value, l.value | kWrite, out)) return true;
    }
    return false;
  }
};

/// Xiao Guangrong's 2012 "KVM: fast page fault" series, in the form this
/// project's seed describes (FACTS C2: the vCPU-id form could not be
/// confirmed in the posted versions): the fast path writes an
/// identification into the entry, issues a full barrier, checks the page's
/// write-protect flag, then exchanges the identified value for one with W
/// set. The write-protect path sets the flag, barrier, then clears W and any
/// identification (track_protect_clear), leaving MMU-writable alone.
/// With a shared identification bit, a third vCPU can restore the very value
/// an earlier vCPU expects: vCPU0 marks and passes the flag check, the page is
/// write-protected (mark cleared), vCPU2 marks again and sees the flag, and
/// vCPU0's exchange then succeeds on a write-tracked page.
class SpteIdPath final : public LocklessPath {
 public:
  std::uint64_t track_protect_clear() const override { return kWrite | kSpteIdMask; }

 protected:
  bool attempt(ExecContext& ctx, Hypervisor& hv, unsigned vcpu, Addr gpa, FaultOutcome& out) override {
    const HvCosts& c = hv.costs();
    const std::uint64_t id = hv.spte_id_unique() ? (std::uint64_t(vcpu) + 1) << kSpteIdShift : 1ull << kSpteIdShift;
    for (unsigned tries = 0; tries < kMaxTries; ++tries) {
      Leaf l;
      const Probe p = probe(ctx, hv, gpa, l);
      if (p != Probe::kFixable) return p == Probe::kSpurious;
      // 1. Identify: our id replaces any other in the entry.
      ctx.charge(c.fast_pf_cmpxchg);
      ctx.sync();
      std::uint64_t expected = l.value;
      const std::uint64_t marked = (l.value & ~kSpteIdMask) | id;
      if (!hv.phys().cmpxchg(l.at, expected, marked)) {
        ++hv.fast_stats().retries;
        hv.trace_instant(ctx, "mark fail", gpa);
        continue;
      }
      // 2. Full barrier, then the page's write-protect flag.
      ctx.charge(c.barrier);
      ctx.sync();
      if (hv.page_track().tracked(gpa)) return false;  // write-protected: the slow path emulates (the mark stays)
      // 3. Exchange the identified value for a writable one.
      ctx.charge(c.fast_pf_cmpxchg + hv.lockless_delay());
      ctx.sync();
      if (exchange(ctx, hv, gpa, l.at, marked, (marked & ~kSpteIdMask) | kWrite, out)) return true;
    }
    return false;
  }
};

/// A demonstrator of the bug class, NOT a model of any shipped KVM: it checks
/// the entry, marks the page dirty, and later stores the value it read with W
/// set. Between the check and the store, a dirty-log CLEAR can report and
/// re-protect the page (the store then undoes the protection, and later
/// writes go unlogged), and a page-track add can clear W and MMU-writable
/// (the store restores W on a tracked page).
class UnsafePath final : public LocklessPath {
 protected:
  bool attempt(ExecContext& ctx, Hypervisor& hv, unsigned /*vcpu*/, Addr gpa, FaultOutcome& out) override {
    Leaf l;
    const Probe p = probe(ctx, hv, gpa, l);
    if (p != Probe::kFixable) return p == Probe::kSpurious;
    hv.mark_dirty(ctx, gpa);  // the bug: marked before the entry is writable
    ctx.charge(hv.costs().fast_pf_cmpxchg + hv.lockless_delay());
    ctx.sync();
    hv.phys().write(l.at, l.value | kWrite);  // a plain store of a stale value
    out = fixed(ctx, hv, gpa, "store");
    return true;
  }
};

}  // namespace

VMXSIM_REGISTRY_KIND(FaultPathRegistry, "hv.fault_path", "fault paths: how the hypervisor resolves an EPT violation");
VMXSIM_REGISTER(FaultPathRegistry, "slow", "every fault takes mmu_lock (kvm_tdp_mmu_map)", [](const Cfg&, const SystemInfo&) { return FaultPathRegistry::Maker([] { return std::unique_ptr<FaultPath>(new SlowPath); }); });
VMXSIM_REGISTER(FaultPathRegistry, "fast", "KVM's fast_page_fault: lockless walk, one cmpxchg setting W", [](const Cfg&, const SystemInfo&) { return FaultPathRegistry::Maker([] { return std::unique_ptr<FaultPath>(new FastPath); }); });
VMXSIM_REGISTER(FaultPathRegistry, "spte_id", "the 2012 proposal: identify, barrier, check the write-protect flag, exchange", [](const Cfg&, const SystemInfo&) { return FaultPathRegistry::Maker([] { return std::unique_ptr<FaultPath>(new SpteIdPath); }); });
VMXSIM_REGISTER(FaultPathRegistry, "unsafe", "check, mark dirty, plain store: a demonstrator of the bug class", [](const Cfg&, const SystemInfo&) { return FaultPathRegistry::Maker([] { return std::unique_ptr<FaultPath>(new UnsafePath); }); });

}  // namespace vmxsim::hv
