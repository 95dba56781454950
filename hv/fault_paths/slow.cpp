// `slow`: every fault takes mmu_lock (hv::SlowPath, KVM's direct_page_fault
// without fast_page_fault).
#include "hv/fault_env.hpp"

namespace vmxsim::hv {
namespace {

class SlowOnly final : public FaultPath {
 public:
  explicit SlowOnly(FaultEnv& env) : env_(env) {}
  FaultOutcome handle(ExecContext& ctx, unsigned vcpu, const Memslot& slot, Addr gpa, AccessType type) override {
    return env_.slow(ctx, vcpu, slot, gpa, type);
  }

 private:
  FaultEnv& env_;
};

}  // namespace

VMXSIM_REGISTER(FaultPathRegistry, "slow", "every fault takes mmu_lock (kvm_tdp_mmu_map)",
                [](const Cfg&, const SystemInfo&) {
                  return FaultPathRegistry::Maker([](FaultEnv& env) { return std::make_unique<SlowOnly>(env); });
                });

}  // namespace vmxsim::hv
