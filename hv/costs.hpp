// hv::HvCosts — the `hv.costs` the exit path, the slow path and the
// operations shared by every variant charge (defaults: docs/config.md gives
// their sources). A variant's own costs live with the variant (e.g. the
// lockless paths' walk and compare-and-exchange, hv/fault_paths/lockless.hpp).
#pragma once
#include "sim/types.hpp"

namespace vmxsim {
class Cfg;
}

namespace vmxsim::hv {

struct HvCosts {
  // VM exit + VM entry ≈ 1,500 cycles with KVM on Skylake-SP: 1,530-1,560 for
  // a vmcall round trip (Wanpeng Li, "KVM: VMX: Micro-optimize vmexit time when
  // not exposing PMU", 2020). The split between the two is our estimate.
  Cycles vm_exit = 800;
  Cycles vm_entry = 700;
  Cycles ept_violation = 200;   // handle_ept_violation() + kvm_mmu_page_fault() prologue
  Cycles memslot_lookup = 20;   // fixed part of a GPA→memslot lookup (the implementation charges its steps)
  Cycles gfn_to_pfn = 400;      // host page lookup (get_user_pages fast path)
  Cycles ipi_send = 1000;       // sending one IPI (a kick): ICR write and its exit fast path
  Cycles tlb_flush = 200;       // INVEPT single-context on one vCPU
  Cycles barrier = 33;          // a full memory barrier (MFENCE; Agner Fog's tables, Skylake)
  Cycles emulate_write = 2000;  // emulating a guest write to a write-tracked page (x86_emulate_instruction)
  static HvCosts from(const Cfg& costs);
};

}  // namespace vmxsim::hv
