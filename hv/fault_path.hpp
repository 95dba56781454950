// hv::FaultPath — how the hypervisor resolves an EPT violation, and how it
// write-protects a page for write tracking: a variant chosen by
// `hv.fault_path` from FaultPathRegistry (hv/fault_paths.cpp; a class and a
// registration line each). docs/fault-paths.md describes each as the code
// path it models:
//   slow     every fault takes mmu_lock (Hypervisor::slow_path).
//   fast     today's KVM fast_page_fault(): lockless walk, one
//            compare-and-exchange setting W, then mark_page_dirty_in_slot.
//   spte_id  the 2012 proposal in the seed's form: identify, barrier, check
//            the page's write-protect flag, then exchange (hv.spte_id.unique).
//   unsafe   check-then-store, marking dirty before the store: a
//            demonstrator of the bug class, never a model of shipped code.
#pragma once
#include "sim/exec_context.hpp"
#include <cstdint>

#include "ept/entry.hpp"
#include "sim/registry.hpp"
#include "sim/types.hpp"

namespace vmxsim::hv {

class Hypervisor;
struct Memslot;

/// What handling one EPT violation did.
struct FaultOutcome {
  bool logging = false;   // dirty logging caused it (the vCPU's cycles.dirty_logging)
  bool emulated = false;  // the hypervisor completed the write itself (a write-tracked page)
  Addr hpa = 0;           // with `emulated`: where the write went
};

class FaultPath {
 public:
  virtual ~FaultPath() = default;
  /// Resolve the violation, or hand it to hv.slow_path.
  virtual FaultOutcome handle(ExecContext& ctx, Hypervisor& hv, unsigned vcpu, const Memslot& slot,
                              Addr gpa, AccessType type) = 0;
  /// The leaf bits that write-protecting a page for write tracking clears,
  /// after the page's flag is set (Hypervisor::add_page_track). KVM clears W
  /// and MMU-writable, so no lockless path may restore W (FACTS C2: state 100,
  /// "shadowed guest page table").
  virtual std::uint64_t track_protect_clear() const { return ept::kWrite | ept::kMmuWritable; }
};

using FaultPathRegistry = Registry<FaultPath>;

}  // namespace vmxsim::hv
