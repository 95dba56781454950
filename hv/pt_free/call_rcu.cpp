// `call_rcu`: the TDP MMU today (tdp_mmu.c, handle_removed_pt →
// call_rcu(tdp_mmu_free_sp_rcu_callback), FACTS H3): every unlinked table is
// queued and freed after a grace period, with no bound on how many wait.
#include "hv/pt_free.hpp"

namespace vmxsim::hv {
namespace {

class CallRcu final : public PtFreePolicy {
 public:
  using PtFreePolicy::PtFreePolicy;
  const char* name() const override { return "call_rcu"; }

 protected:
  Cycles free(ExecContext& ctx, std::vector<Addr>& pages, bool flush) override {
    if (flush) flush_tlbs(ctx);
    env_.rcu.call(ctx, std::move(pages));
    return 0;
  }
};

}  // namespace

VMXSIM_REGISTER(PtFreeRegistry, "call_rcu", "each unlinked table freed by call_rcu after a grace period, unbounded",
                [](const Cfg&, const SystemInfo&) { return pt_free_maker<CallRcu>(); });

}  // namespace vmxsim::hv
