// hv::FaultPath — how the hypervisor resolves an EPT violation, a variant
// chosen by `hv.fault_path` from FaultPathRegistry (one file and one
// registration line each; hv/fault_paths.cpp):
//   slow  every fault takes mmu_lock, looks up the memslot and maps or fixes
//         the entry (Hypervisor::slow_path).
//   fast  today's KVM (mmu.c fast_page_fault): a write fault on a present leaf
//         that is Host- and MMU-writable is fixed without mmu_lock — a
//         lockless walk (its cycles pass between the read and the exchange),
//         one compare-and-exchange setting W, then mark_page_dirty_in_slot;
//         at most 4 tries, then the slow path. A fault whose access is already
//         allowed is spurious and returns at once.
#pragma once
#include <cstdint>

#include "sim/registry.hpp"
#include "sim/types.hpp"

namespace vmxsim::hv {

class ExecContext;
class Hypervisor;
struct Memslot;

class FaultPath {
 public:
  virtual ~FaultPath() = default;
  /// Resolve the violation (or hand it to hv.slow_path). Returns true if
  /// dirty logging caused it (for the vCPU's accounting).
  virtual bool handle(ExecContext& ctx, Hypervisor& hv, unsigned vcpu, const Memslot& slot, Addr gpa,
                      AccessType type) = 0;
};

using FaultPathRegistry = Registry<FaultPath>;

}  // namespace vmxsim::hv
