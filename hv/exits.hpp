// hv::ExitHandlers — the VM-exit handlers the vCPU calls (KVM:
// __vmx_handle_exit and handle_ept_violation): on every exit the PML buffer
// is flushed first, and an EPT violation is decoded from its exit
// qualification, its memslot looked up, and handed to the fault path.
#pragma once
#include <cstdint>

#include "hv/costs.hpp"
#include "hv/fault_path.hpp"
#include "hv/memslots.hpp"
#include "hv/requests.hpp"
#include "sim/exec_context.hpp"

namespace vmxsim {
class Stats;
}

namespace vmxsim::hv {

class DirtyLogOps;

class ExitHandlers {
 public:
  ExitHandlers(const HvCosts& costs, const Memslots& slots, FaultPath& path, DirtyLogOps& dirty_ops)
      : c_(costs), slots_(slots), path_(path), dirty_ops_(dirty_ops) {}

  /// Done at the start of every VM exit (KVM's __vmx_handle_exit flushes the
  /// PML buffer first): drain `v`'s PML log into the dirty bitmap.
  void on_vm_exit(ExecContext& ctx, VcpuHandle& v);
  /// EPT-violation exit handler (KVM: handle_ept_violation → kvm_mmu_page_fault).
  /// The faulting access is decoded from the exit qualification, as KVM
  /// derives its error code from it. Runs between VM exit and VM entry,
  /// which the vCPU charges. Throws vmxsim::Error if no memslot covers `gpa`.
  FaultOutcome handle_ept_violation(ExecContext& ctx, unsigned vcpu, Addr gpa, std::uint64_t qual);

  void register_stats(Stats& s) const;
  std::uint64_t ept_violations = 0;

 private:
  const Memslot* lookup(ExecContext& ctx, Addr gpa);
  const HvCosts& c_;
  const Memslots& slots_;
  FaultPath& path_;
  DirtyLogOps& dirty_ops_;
};

}  // namespace vmxsim::hv
