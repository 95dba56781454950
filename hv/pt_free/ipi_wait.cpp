// `ipi_wait`: the legacy/shadow MMU (mmu.c, FACTS H2). A lockless walker
// runs with interrupts off in READING_SHADOW_PAGE_TABLES mode
// (walk_shadow_page_lockless_begin/end); kvm_mmu_commit_zap_page's
// kvm_flush_remote_tlbs sends its IPI to every vCPU in guest mode or in such
// a walk and waits (KVM_REQUEST_WAIT, smp_call_function_many with wait), so
// it returns only when every walker that was inside has finished; then the
// pages are freed at once. The walk's reader section is the same bracket as
// RCU's, so hv::Rcu's reader tracking serves; no RCU latency applies. A
// walker off a vCPU (the VMM's lockless write-protect) counts as one with
// interrupts off on its own CPU, as Marcelo Tosatti proposed (FACTS H1).
#include "hv/pt_free.hpp"

namespace vmxsim::hv {
namespace {

class IpiWait final : public PtFreePolicy {
 public:
  using PtFreePolicy::PtFreePolicy;
  const char* name() const override { return "ipi_wait"; }

 protected:
  Cycles free(ExecContext& ctx, std::vector<Addr>& pages, bool flush) override {
    // The walkers inside when the IPIs go out; the flush's own IPIs go to
    // the vCPUs in guest mode at the same time.
    Rcu::Snapshot walkers = env_.rcu.snapshot();
    ctx.charge(walkers.readers.size() * env_.ipi_send);
    walker_ipis_ += walkers.readers.size();
    if (flush || !walkers.readers.empty()) flush_tlbs(ctx);
    const Cycles w = env_.rcu.wait(ctx, std::move(walkers));
    env_.rcu.free_now(ctx, pages);
    return w;
  }
  void register_own_stats(Stats& s) const override {
    s.counter("hv.pt_free.walker_ipis", &walker_ipis_, "IPIs",
              "IPIs a commit sent to threads inside a lockless walk, and waited on (ipi_wait)");
  }

 private:
  std::uint64_t walker_ipis_ = 0;
};

}  // namespace

VMXSIM_REGISTER(PtFreeRegistry, "ipi_wait",
                "the flush IPI waits for every lockless walker (interrupts off), then frees at once (legacy MMU)",
                [](const Cfg&, const SystemInfo&) { return pt_free_maker<IpiWait>(); });

}  // namespace vmxsim::hv
