// hv::L1Hypervisor — the guest hypervisor (L1) of a nested run
// (guest.nested): a minimal KVM-like hypervisor running inside the L1 VM.
// It owns EPT12, bit-exact, in its own guest-physical memory (an L0 memslot,
// guest.nested.l1_memory, so EPT01 maps those pages like any of L1's), L2's
// memslots (L2-physical → L1-physical), and a nested EPT-violation handler
// that maps on first touch, as L1's TDP MMU would (kvm_tdp_mmu_map: tables
// allocated on the way down, the leaf last). Its code runs as L1 guest code
// on the exiting vCPU through hv::L1Cpu: it charges its cycles there, its
// loads and stores are translated by EPT01 (a store to a table L0 shadows
// exits and is emulated), and its VMREAD/VMWRITEs exit to L0 unless a shadow
// VMCS serves them. L1's own mmu_lock serialises its handlers; a vCPU
// spinning on it takes IPIs, as L1's kernel spins with interrupts on.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "hv/memslots.hpp"
#include "hv/nested/nested_mmu.hpp"
#include "sim/exec_context.hpp"
#include "sim/trace.hpp"

namespace vmxsim {
class Stats;
namespace models {
class PhysMem;
}
}  // namespace vmxsim

namespace vmxsim::hv {

/// What L1's code runs on: the vCPU, in L1 (guest mode on EPT01).
class L1Cpu {
 public:
  virtual ~L1Cpu() = default;
  virtual ExecContext& l1_context() = 0;
  /// L1 computes for `c` cycles.
  virtual void l1_compute(Cycles c) = 0;
  /// L1 loads / stores 8 bytes at an L1 GPA (through EPT01; may exit to L0).
  virtual std::uint64_t l1_read(Addr l1_gpa) = 0;
  virtual void l1_write(Addr l1_gpa, std::uint64_t value) = 0;
  /// One VMREAD or VMWRITE of L1 (a shadow VMCS, or an exit to L0).
  virtual void l1_vmcs_access() = 0;
  /// L1 spins for `c` cycles with interrupts enabled: a posted IPI is taken
  /// (an external-interrupt exit), so a remote flush never waits on a spinner.
  virtual void l1_spin(Cycles c) = 0;
};

class L1Hypervisor {
 public:
  /// EPT12's root is allocated in L1's own memory, `levels` deep.
  L1Hypervisor(const NestedParams& p, models::PhysMem& mem, const Memslots& slots, unsigned levels);
  void set_trace(Trace* t) { tl_ = t; }
  Addr root12() const { return root12_; }
  unsigned levels() const { return levels_; }

  /// guest.nested.ept12.prepopulate: map every L2 memslot before L2 runs
  /// (dirty_log_perf_test -n builds L2's EPT in L1 this way), at
  /// guest.nested.ept12.page_size where alignment allows. No simulated time.
  void prepopulate();
  /// L1's handler for a nested EPT violation at `l2_gpa` (reflected by L0),
  /// run on `cpu`: its VMCS reads and writes, the L2 memslot lookup, the
  /// EPT12 walk mapping the page, under L1's mmu_lock.
  void handle_ept_violation(L1Cpu& cpu, unsigned vcpu, Addr l2_gpa, std::uint64_t qual);
  /// The L2 memslot holding `l2_gpa`, or null.
  const L2Slot* slot_of(Addr l2_gpa) const;

  void register_stats(Stats& s) const;
  std::uint64_t handled = 0, tables = 0, leaves = 0, spurious = 0;
  std::uint64_t lock_acquisitions = 0, lock_contended = 0, lock_wait_cycles = 0;

 private:
  Addr alloc_table();                     // from L1's own memory (KVM's pre-zeroed page cache)
  unsigned map_level(Addr l2_gpa) const;  // the largest level ≤ ept12.page_size the slot allows
  Addr hpa_of(Addr l1_gpa) const;         // for prepopulate's direct writes
  NestedParams p_;
  models::PhysMem& mem_;
  const Memslots& slots_;
  unsigned levels_;
  /// L1's mmu_lock, a spinlock in L1's kernel (spun on interruptibly).
  void lock(L1Cpu& cpu);
  void unlock(L1Cpu& cpu);
  bool locked_ = false;
  Addr next_table_ = 0, table_end_ = 0;
  Addr root12_ = 0;
  Trace* tl_ = nullptr;
};

}  // namespace vmxsim::hv
