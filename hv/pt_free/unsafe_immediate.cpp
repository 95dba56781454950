// `unsafe_immediate`: frees the unlinked tables right after the flush,
// waiting for no lockless walker — the bug class RCU and the IPI wait exist
// to prevent. A demonstrator for the use-after-free oracle (check.pt_free);
// never a model of KVM.
#include "hv/pt_free.hpp"

namespace vmxsim::hv {
namespace {

class UnsafeImmediate final : public PtFreePolicy {
 public:
  using PtFreePolicy::PtFreePolicy;
  const char* name() const override { return "unsafe_immediate"; }

 protected:
  Cycles free(ExecContext& ctx, std::vector<Addr>& pages, bool flush) override {
    if (flush) flush_tlbs(ctx);
    env_.rcu.free_now(ctx, pages);
    return 0;
  }
};

}  // namespace

VMXSIM_REGISTER(PtFreeRegistry, "unsafe_immediate",
                "frees at once, waiting for no lockless walker: a use-after-free demonstrator",
                [](const Cfg&, const SystemInfo&) { return pt_free_maker<UnsafeImmediate>(); });

}  // namespace vmxsim::hv
