// hv::Hypervisor — the KVM-like hypervisor model: memslots, the EPT (hv::Mmu),
// mmu_lock, and the VM-exit handlers. Its code runs in the exiting vCPU's
// simulated thread through hv::ExecContext and charges hv.costs for each step.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ept/entry.hpp"
#include "hv/lock.hpp"
#include "hv/memslots.hpp"
#include "hv/mmu.hpp"

namespace vmxsim {
class Cfg;
class Stats;
namespace models {
class PhysMem;
}
}  // namespace vmxsim

namespace vmxsim::hv {

class ExecContext;

/// What the hypervisor may ask of a vCPU (implemented by cpu::Vcpu).
class VcpuHandle {
 public:
  virtual ~VcpuHandle() = default;
  /// From another thread, at its synced time: post KVM_REQ_TLB_FLUSH and kick;
  /// the vCPU takes it at its next sync (within a quantum).
  virtual void request_tlb_flush() = 0;
  /// On the vCPU's own thread: INVEPT single-context for the guest's EPT.
  virtual void flush_tlb_local() = 0;
};

/// hv.costs (defaults: see docs/config.md for their sources).
struct HvCosts {
  // VM exit + VM entry ≈ 1,500 cycles with KVM on Skylake-SP: 1,530-1,560 for
  // a vmcall round trip (Wanpeng Li, "KVM: VMX: Micro-optimize vmexit time when
  // not exposing PMU", 2020). The split between the two is our estimate.
  Cycles vm_exit = 800;
  Cycles vm_entry = 700;
  Cycles ept_violation = 200;     // handle_ept_violation() + kvm_mmu_page_fault() prologue
  Cycles memslot_lookup = 20;     // fixed part of a GPA→memslot lookup
  Cycles memslot_step = 8;        // per binary-search probe
  Cycles gfn_to_pfn = 400;        // host page lookup (get_user_pages fast path)
  Cycles ipi_send = 1000;         // sending one IPI (a kick): ICR write and its exit fast path
  Cycles tlb_flush = 200;         // INVEPT single-context on one vCPU
  static HvCosts from(const Cfg& costs);
};

struct HvParams {
  HvCosts costs;
  LockCosts lock;
  MmuParams mmu;
  std::vector<MemslotSpec> memslots;
  /// Reads hv.* and ept.*.
  static HvParams from(const Cfg& hv, const Cfg& ept);
};

class Hypervisor {
 public:
  Hypervisor(const HvParams& p, models::PhysMem& mem);

  ept::Eptp eptp() const { return mmu_.eptp(); }
  const HvCosts& costs() const { return p_.costs; }
  const Memslots& memslots() const { return slots_; }
  Mmu& mmu() { return mmu_; }
  Lock& mmu_lock() { return mmu_lock_; }

  /// EPT-violation exit handler (KVM: handle_ept_violation → kvm_mmu_page_fault
  /// → kvm_tdp_mmu_map). Runs between VM exit and VM entry, which the vCPU
  /// charges. Throws vmxsim::Error if no memslot covers `gpa`.
  void handle_ept_violation(ExecContext& ctx, unsigned vcpu, Addr gpa, std::uint64_t qual,
                            AccessType type);

  /// KVM: kvm_flush_remote_tlbs(). The calling thread (vCPU `from`, or a VMM
  /// thread with from < 0) flushes its own vCPU's TLB and kicks every other
  /// vCPU with a flush request, paying an IPI each. It does not wait for the
  /// targets to acknowledge (KVM does; the targets' delay is bounded by the
  /// quantum here).
  void flush_remote_tlbs(ExecContext& ctx, int from);
  void attach_vcpu(unsigned id, VcpuHandle* v);

  void register_stats(Stats& s) const;

  std::uint64_t ept_violations = 0, remote_flushes = 0;

 private:
  HvParams p_;
  models::PhysMem& mem_;
  Memslots slots_;
  Mmu mmu_;
  Lock mmu_lock_;
  std::vector<VcpuHandle*> vcpus_;
};

}  // namespace vmxsim::hv
