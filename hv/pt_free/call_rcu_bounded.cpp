// `call_rcu_bounded`: call_rcu with at most hv.pt_free.max_pending pages
// waiting; a commit that would exceed it waits for a grace period first, and
// then frees its own pages at once (they were unlinked before the grace
// period began). RCU's checklist item 8 (cap the objects awaiting a grace
// period and stall updaters) and Marcelo Tosatti's "rate limit the number of
// pages freed per grace period" (FACTS H1).
#include "hv/pt_free.hpp"
#include "sim/config.hpp"

namespace vmxsim::hv {
namespace {

class CallRcuBounded final : public PtFreePolicy {
 public:
  CallRcuBounded(PtFreeEnv& env, std::uint64_t max_pending) : PtFreePolicy(env), max_(max_pending) {}
  const char* name() const override { return "call_rcu_bounded"; }

 protected:
  Cycles free(ExecContext& ctx, std::vector<Addr>& pages, bool flush) override {
    if (flush) flush_tlbs(ctx);
    if (env_.rcu.pending_pages() + pages.size() <= max_) {
      env_.rcu.call(ctx, std::move(pages));
      return 0;
    }
    ++stalls_;
    const Cycles w = env_.rcu.synchronize(ctx);  // every earlier batch is freed by its end too
    env_.rcu.free_now(ctx, pages);
    return w;
  }
  void register_own_stats(Stats& s) const override {
    s.counter("hv.pt_free.bound_stalls", &stalls_, "commits",
              "commits that found hv.pt_free.max_pending reached and waited for a grace period (call_rcu_bounded)");
  }

 private:
  std::uint64_t max_;
  std::uint64_t stalls_ = 0;
};

}  // namespace

VMXSIM_REGISTER(PtFreeRegistry, "call_rcu_bounded",
                "call_rcu with at most max_pending pages waiting; beyond it the freer waits for a grace period",
                [](const Cfg& c, const SystemInfo& sys) {
                  // Default: RCU's own callback high-water mark, rcutree.qhimark = 10000
                  // (beyond it RCU stops batching and forces grace periods).
                  const std::uint64_t max = c.u64("max_pending", 10000);
                  if (sys.selected && max == 0) c.fail("max_pending", "expected at least 1 page");
                  return PtFreeRegistry::Maker(
                      [max](PtFreeEnv& env) { return std::make_unique<CallRcuBounded>(env, max); });
                });

}  // namespace vmxsim::hv
