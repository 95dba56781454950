#include "hv/fault_paths/lockless.hpp"

#include "ept/entry.hpp"
#include "sim/config.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

using namespace vmxsim::ept;

LocklessParams LocklessParams::from(const Cfg& hv) {
  LocklessParams p;
  const Cfg costs = hv.section("costs");
  p.walk = costs.u64("fast_pf_walk", p.walk);
  p.cmpxchg = costs.u64("fast_pf_cmpxchg", p.cmpxchg);
  p.delay = hv.u64("lockless_delay_cycles", p.delay);
  return p;
}

FaultOutcome LocklessPath::handle(ExecContext& ctx, unsigned vcpu, const Memslot& slot, Addr gpa, AccessType type) {
  // With A/D bits on, only write faults on present entries qualify
  // (page_fault_can_be_fast).
  if (type != AccessType::Write) return env_.slow(ctx, vcpu, slot, gpa, type);
  FaultOutcome out;
  bool done;
  {
    PtReaderGuard walk(env_.pt_free(), ctx);  // rcu_read_lock / walk_shadow_page_lockless_begin
    done = attempt(ctx, vcpu, gpa, out);
  }
  if (done) return out;
  ++to_slow_;
  return env_.slow(ctx, vcpu, slot, gpa, type);
}

LocklessPath::Probe LocklessPath::probe(ExecContext& ctx, Addr gpa, Leaf& l) {
  ctx.sync();
  l = env_.leaf(ctx, gpa);
  ctx.charge(p_.walk);
  if (!l.level) return Probe::kSlow;  // not present: the slow path maps it
  if (l.value & kWrite) {             // already allowed: a lazily flushed TLB, or another vCPU fixed it
    ++spurious_;
    return Probe::kSpurious;
  }
  // Only write protection that dirty logging set may be lifted without the
  // lock (Host- and MMU-writable); a huge page being logged is split, slowly.
  const bool fixable = (l.value & kHostWritable) && (l.value & kMmuWritable) && !(l.level > 1 && env_.logged(gpa));
  return fixable ? Probe::kFixable : Probe::kSlow;
}

FaultOutcome LocklessPath::fixed(ExecContext& ctx, Addr gpa, const char* event) {
  ++fixed_;
  env_.instant(ctx, event, gpa);
  return {env_.logged(gpa), false, 0};
}

// fast_pf_fix_direct_spte: W 0→1, then mark_page_dirty_in_slot; D stays
// clear — a PML double-log is harmless, and it avoids a flush.
bool LocklessPath::exchange(ExecContext& ctx, Addr gpa, Addr at, std::uint64_t expected, std::uint64_t desired,
                            FaultOutcome& out) {
  if (env_.cmpxchg(ctx, at, expected, desired)) {
    env_.mark_dirty(ctx, gpa);
    out = fixed(ctx, gpa, "cmpxchg ok");
    return true;
  }
  retry(ctx, gpa, "cmpxchg fail");
  return false;
}

void LocklessPath::retry(ExecContext& ctx, Addr gpa, const char* event) {
  ++retries_;
  env_.instant(ctx, event, gpa);
}

void LocklessPath::register_stats(Stats& s) const {
  s.counter("hv.fault.fast_fixed", &fixed_, "faults", "write faults fixed without mmu_lock by the lockless path");
  s.counter("hv.fault.fast_spurious", &spurious_, "faults",
            "lockless faults that found the entry already writable (a stale TLB entry or another vCPU's fix)");
  s.counter("hv.fault.fast_retries", &retries_, "attempts",
            "lockless compare-and-exchanges that failed because the entry changed, and were retried");
  s.counter("hv.fault.fast_to_slow", &to_slow_, "faults", "lockless faults that fell back to the slow path");
}

}  // namespace vmxsim::hv
