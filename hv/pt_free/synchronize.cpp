// `synchronize`: the freer waits for a grace period before every free
// (synchronize_rcu; self-limiting, as RCU's checklist item 8 says of it).
#include "hv/pt_free.hpp"

namespace vmxsim::hv {
namespace {

class Synchronize final : public PtFreePolicy {
 public:
  using PtFreePolicy::PtFreePolicy;
  const char* name() const override { return "synchronize"; }

 protected:
  Cycles free(ExecContext& ctx, std::vector<Addr>& pages, bool flush) override {
    if (flush) flush_tlbs(ctx);
    if (pages.empty()) return 0;
    const Cycles w = env_.rcu.synchronize(ctx);
    env_.rcu.free_now(ctx, pages);
    return w;
  }
};

}  // namespace

VMXSIM_REGISTER(PtFreeRegistry, "synchronize", "the freer waits for a grace period (synchronize_rcu), then frees",
                [](const Cfg&, const SystemInfo&) { return pt_free_maker<Synchronize>(); });

}  // namespace vmxsim::hv
