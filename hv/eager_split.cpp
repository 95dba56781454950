#include "hv/eager_split.hpp"

#include <algorithm>
#include <vector>

#include "ept/entry.hpp"
#include "sim/config.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

EagerSplitParams EagerSplitParams::from(const Cfg& e, const Cfg& costs) {
  EagerSplitParams p;
  p.enabled = e.boolean("enabled", p.enabled);
  p.alloc = e.choice("alloc", "drop_lock", {"nowait", "drop_lock"}) == "nowait" ? Alloc::kNowait : Alloc::kDropLock;
  p.alloc_nowait = costs.u64("split_alloc_nowait", p.alloc_nowait);
  p.alloc_sleep = costs.u64("split_alloc", p.alloc_sleep);
  return p;
}

void EagerSplitter::split_range(ExecContext& ctx, Addr begin, Addr end, LockMode mode) {
  split_huge(ctx, begin, end, begin, end, mode);
}

void EagerSplitter::split_down(ExecContext& ctx, Leaf l, Addr begin, Addr end, LockMode mode) {
  const Addr size = Addr{1} << ept::level_shift(l.level);
  if (p_.alloc == EagerSplitParams::Alloc::kNowait) {
    ++allocs_nowait;
    ctx.charge(p_.alloc_nowait);
    alloc_cycles += p_.alloc_nowait;
  } else {
    // tdp_mmu_alloc_sp_for_split: drop mmu_lock (and RCU), allocate, retake
    // it, and restart the walk at this leaf.
    ++lock_drops;
    const Cycles t0 = ctx.now();
    lock_.release(ctx);
    ctx.charge(p_.alloc_sleep);
    alloc_cycles += p_.alloc_sleep;
    lock_.acquire(ctx, mode);
    dropped_cycles += ctx.now() - t0;
    if (tl_) tl_->span(ctx.thread_id(), "split alloc (mmu_lock dropped)", t0, ctx.now());
    mmu_.charge_walk(ctx, l.level);
  }
  // The link happens at this thread's time: vCPU faults sharing mmu_lock (or
  // running while it was dropped) may have changed the leaf since it was read.
  ctx.sync();
  const Leaf now = mmu_.find_leaf(l.gpa);
  if (now.at != l.at || now.level != l.level) {
    // Split or zapped meanwhile: the spare page is freed, and what stands
    // there now is walked again.
    ++spares;
    split_huge(ctx, std::max(begin, l.gpa), std::min(end, l.gpa + size), begin, end, mode);
    return;
  }
  l = now;  // A/D bits may have changed: the compare-and-exchange uses the fresh value
  mmu_.split(
      ctx, l, [](std::uint64_t parent) { return parent; }, /*charge_alloc=*/false);
  ++splits;
  // Pre-order: the children next.
  if (l.level - 1 > 1) split_huge(ctx, std::max(begin, l.gpa), std::min(end, l.gpa + size), begin, end, mode);
}

void EagerSplitter::split_huge(ExecContext& ctx, Addr lo, Addr hi, Addr begin, Addr end, LockMode mode) {
  std::vector<Leaf> huge;
  mmu_.for_each_leaf(lo, hi, [&huge](const Leaf& l) {
    if (l.level > 1) huge.push_back(l);
  });
  for (const Leaf& l : huge) split_down(ctx, l, begin, end, mode);
}

void EagerSplitter::register_stats(Stats& s) const {
  s.counter("hv.eager_split.splits", &splits, "tables",
            "huge EPT leaves eagerly split (hv.eager_split), each into 512 smaller ones");
  s.counter("hv.eager_split.allocs_nowait", &allocs_nowait, "allocations",
            "page-table pages allocated without sleeping under mmu_lock (hv.eager_split.alloc: nowait)");
  s.counter("hv.eager_split.lock_drops", &lock_drops, "drops",
            "times the split released mmu_lock to allocate a page-table page (hv.eager_split.alloc: drop_lock)");
  s.counter("hv.eager_split.spares", &spares, "pages",
            "allocated pages freed unused: the leaf was split or zapped while mmu_lock was dropped");
  s.counter("hv.eager_split.alloc_cycles", &alloc_cycles, "cycles",
            "cycles the split spent allocating page-table pages");
  s.counter("hv.eager_split.dropped_cycles", &dropped_cycles, "cycles",
            "cycles from releasing mmu_lock to allocate until it was held again, waits included (drop_lock)");
}

}  // namespace vmxsim::hv
