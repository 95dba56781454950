// Splitting huge EPT leaves down to 4 KiB around one GPA (KVM:
// tdp_mmu_split_huge_page, once per level), shared by the fault path and
// write tracking. Caller holds mmu_lock.
#pragma once
#include <cstdint>
#include <functional>

#include "hv/mmu.hpp"
#include "sim/exec_context.hpp"
#include "sim/trace.hpp"

namespace vmxsim::hv {

/// Split huge leaves until `gpa` is mapped by a 4 KiB one; `child(parent,
/// child_level)` gives each child's flags from its parent's (Mmu::split).
/// Each split is a "split" span on the timeline. Returns the 4 KiB leaf.
inline Leaf split_to_4k(ExecContext& ctx, Mmu& mmu, Trace* tl, Addr gpa,
                        const std::function<std::uint64_t(std::uint64_t, unsigned)>& child) {
  Leaf leaf = mmu.find_leaf(gpa);
  while (leaf.level > 1) {
    const unsigned child_level = leaf.level - 1;
    const Cycles t0 = ctx.now();
    mmu.split(ctx, leaf, [&child, child_level](std::uint64_t parent) { return child(parent, child_level); });
    if (tl)
      tl->span(ctx.thread_id(), "split", t0, ctx.now(),
               TraceArgs().hex("gpa", leaf.gpa).num("level", leaf.level).str());
    leaf = mmu.find_leaf(gpa);
  }
  return leaf;
}

}  // namespace vmxsim::hv
