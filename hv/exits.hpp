// hv::ExitHandlers — the VM-exit handlers the vCPU calls (KVM:
// __vmx_handle_exit and handle_ept_violation): on every exit the PML buffer
// is flushed first, and an EPT violation is decoded from its exit
// qualification, its memslot looked up, and handed to the fault path.
#pragma once
#include <cstdint>

#include "hv/costs.hpp"
#include "hv/fault_path.hpp"
#include "hv/memslots.hpp"
#include "hv/mmio.hpp"
#include "hv/requests.hpp"
#include "sim/exec_context.hpp"

namespace vmxsim {
class Stats;
}

namespace vmxsim::hv {

class DirtyLogOps;
class NestedMmu;

class ExitHandlers {
 public:
  ExitHandlers(const HvCosts& costs, Memslots& slots, FaultPath& path, DirtyLogOps& dirty_ops, Mmio& mmio)
      : c_(costs), slots_(slots), path_(path), dirty_ops_(dirty_ops), mmio_(mmio) {}

  /// Done at the start of every VM exit (KVM's __vmx_handle_exit flushes the
  /// PML buffer first): drain `v`'s PML log into the dirty bitmap.
  void on_vm_exit(ExecContext& ctx, VcpuHandle& v);
  /// EPT-violation exit handler (KVM: handle_ept_violation → kvm_mmu_page_fault).
  /// The faulting access is decoded from the exit qualification, as KVM
  /// derives its error code from it. Runs between VM exit and VM entry,
  /// which the vCPU charges. A GPA no memslot covers is MMIO if a device
  /// region (hv.mmio_regions) holds it, and a write to a read-only memslot is
  /// an MMIO write (hv::Mmio); any other GPA without a memslot throws
  /// vmxsim::Error.
  FaultOutcome handle_ept_violation(ExecContext& ctx, unsigned vcpu, Addr gpa, std::uint64_t qual);
  /// An EPT violation while the vCPU ran L2 (guest.nested): L0's nested MMU
  /// (hv::NestedMmu::handle), which fills EPT02 or asks for a reflection to
  /// L1. An L2 access to a device page (hv.mmio_regions) that EPT12 does not
  /// map is L1's device passed through at the same address: L0 emulates it
  /// as for L1 (the model's shortcut for L1's device emulation).
  FaultOutcome handle_l2_ept_violation(ExecContext& ctx, unsigned vcpu, Addr l2_gpa, std::uint64_t qual);
  void set_nested(NestedMmu* n) { nested_ = n; }
  /// EPT-misconfiguration exit handler (KVM: handle_ept_misconfig →
  /// kvm_mmu_page_fault with PFERR_RSVD_MASK → handle_mmio_page_fault). The
  /// exit has no qualification: `type` is the access as the emulator decodes
  /// it. A current MMIO entry is served at once; a stale one goes through the
  /// fault path as a violation would; any other misconfigured entry throws
  /// vmxsim::Error (KVM reports an internal error).
  FaultOutcome handle_ept_misconfig(ExecContext& ctx, unsigned vcpu, Addr gpa, AccessType type);

  void register_stats(Stats& s) const;
  std::uint64_t ept_violations = 0, ept_misconfigs = 0, memslot_retries = 0, l2_ept_violations = 0;

 private:
  const Memslot* lookup(ExecContext& ctx, unsigned vcpu, Addr gpa);
  /// The fault proper, once the access is known (kvm_mmu_do_page_fault).
  FaultOutcome fault(ExecContext& ctx, unsigned vcpu, Addr gpa, AccessType type, std::uint64_t qual);
  const HvCosts& c_;
  Memslots& slots_;
  FaultPath& path_;
  DirtyLogOps& dirty_ops_;
  Mmio& mmio_;
  NestedMmu* nested_ = nullptr;
};

}  // namespace vmxsim::hv
