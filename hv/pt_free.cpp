#include "hv/pt_free.hpp"

namespace vmxsim::hv {

VMXSIM_REGISTRY_KIND(PtFreeRegistry, "hv.pt_free.policy",
                     "page-table freeing policies: when an unlinked table returns to the allocator");

void PtFreePolicy::commit(ExecContext& ctx, std::vector<Addr> pages, bool flush, const char* what) {
  if (pages.empty() && !flush) return;
  ctx.sync();
  const Cycles t0 = ctx.now();
  const std::size_t n = pages.size();
  const Cycles waited = free(ctx, pages, flush);
  ++commits_;
  pages_ += n;
  stall_cycles_ += waited;
  stall_hist_.add(waited);
  commit_cycles_ += ctx.now() - t0;
  if (tl_)
    tl_->span(ctx.thread_id(), what, t0, ctx.now(),
              TraceArgs().text("policy", name()).num("tables", n).num("stall_cycles", waited).str());
}

void PtFreePolicy::register_stats(Stats& s) const {
  s.counter("hv.pt_free.commits", &commits_, "commits", "zaps committed: a remote TLB flush, then the policy's free");
  s.counter("hv.pt_free.tables", &pages_, "pages", "page-table pages unlinked and handed to the freeing policy");
  s.counter("hv.pt_free.stall_cycles", &stall_cycles_, "cycles",
            "cycles freers waited for lockless readers or a grace period, summed over commits");
  s.histogram("hv.pt_free.stall_per_commit", &stall_hist_, "cycles",
              "the freer's wait for readers or a grace period, per commit");
  s.counter("hv.pt_free.commit_cycles", &commit_cycles_, "cycles",
            "cycles in commits (flush and wait), summed: the updater's cost");
  s.counter("hv.pt_free.forced_exits", &forced_exits_, "exits",
            "vCPUs in guest mode that commits' remote flushes interrupted (each an IPI and a VM exit)");
  register_own_stats(s);
}

}  // namespace vmxsim::hv
