#include "hv/page_track_ops.hpp"

#include "ept/entry.hpp"
#include "hv/split.hpp"

namespace vmxsim::hv {

using namespace vmxsim::ept;

void PageTrackOps::add(ExecContext& ctx, std::size_t range) {
  const PageTrackSpec& r = x_.track.ranges().at(range);
  const Cycles t0 = ctx.now();
  const bool pml = x_.dirty.pml();
  ++x_.track.adds;
  x_.mmu_lock.acquire(ctx, LockMode::kWrite);
  // The flag first, then a full barrier, then the entries: a lockless path
  // that checks the flag after changing the entry sees one or the other.
  x_.track.set(range, true);
  ctx.charge(x_.costs.barrier);
  const std::uint64_t clear = x_.path.track_protect_clear();
  for (Addr gpa = r.gpa; gpa < r.gpa + r.size; gpa += kPageSize4K) {
    ctx.charge(x_.dirty.params().protect_page);
    if (!x_.mmu.find_leaf(gpa).level) continue;
    // KVM disallows huge pages over a tracked page: split to 4 KiB, each
    // child as its parent (clean under PML, so a logged child's next write is logged).
    const Leaf l = split_to_4k(ctx, x_.mmu, tl_, gpa,
                               [pml](std::uint64_t parent, unsigned) { return pml ? parent & ~kDirty : parent; });
    x_.mmu.update(l.at, 0, clear);
  }
  x_.mmu_lock.release(ctx);
  x_.requests.flush_remote_tlbs(ctx, -1);
  x_.oracle.enforce(range, true);
  if (tl_)
    tl_->span(ctx.thread_id(), "page-track add", t0, ctx.now(),
              TraceArgs().hex("gpa", r.gpa).hex("size", r.size).str());
}

void PageTrackOps::remove(ExecContext& ctx, std::size_t range) {
  const Cycles t0 = ctx.now();
  ++x_.track.removes;
  x_.mmu_lock.acquire(ctx, LockMode::kWrite);
  x_.oracle.enforce(range, false);
  x_.track.set(range, false);
  x_.mmu_lock.release(ctx);
  if (tl_)
    tl_->span(ctx.thread_id(), "page-track remove", t0, ctx.now(),
              TraceArgs().hex("gpa", x_.track.ranges()[range].gpa).str());
}

}  // namespace vmxsim::hv
