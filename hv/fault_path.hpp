// hv::FaultPath — how the hypervisor resolves an EPT violation, and how it
// write-protects a page for write tracking: a variant chosen by
// `hv.fault_path` from FaultPathRegistry, one file each in hv/fault_paths/
// (docs/fault-paths.md describes each as the code path it models; `vmxsim
// list` prints them). A variant sees the hypervisor only through
// hv::FaultEnv, reads its own config keys and registers its own stats.
#pragma once
#include <cstdint>

#include "ept/entry.hpp"
#include "sim/exec_context.hpp"
#include "sim/registry.hpp"
#include "sim/types.hpp"

namespace vmxsim {
class Stats;
}

namespace vmxsim::hv {

class FaultEnv;
struct Memslot;

/// What handling one EPT violation did.
struct FaultOutcome {
  bool logging = false;            // dirty logging caused it (the vCPU's cycles.dirty_logging)
  bool emulated = false;           // the hypervisor completed the access itself (a write-tracked page, or MMIO)
  Addr hpa = 0;                    // with `emulated` and not `mmio`: where the write went
  bool mmio = false;               // with `emulated`: the access went to a device (MMIO, a read-only slot), not to RAM
  bool retry = false;              // the slot is being deleted or moved: re-enter and retry (not a livelock)
  bool reflect = false;            // nested (guest.nested): L1 must handle this L2 exit as a nested EPT violation
  std::uint64_t reflect_qual = 0;  // with `reflect`: the exit qualification L1 sees
};

class FaultPath {
 public:
  virtual ~FaultPath() = default;
  /// Resolve the violation, or hand it to the slow path (FaultEnv::slow).
  virtual FaultOutcome handle(ExecContext& ctx, unsigned vcpu, const Memslot& slot, Addr gpa, AccessType type) = 0;
  /// The leaf bits that write-protecting a page for write tracking clears,
  /// after the page's flag is set (PageTrackOps::add). KVM clears W and
  /// MMU-writable, so no lockless path may restore W (FACTS C2: state 100,
  /// "shadowed guest page table").
  virtual std::uint64_t track_protect_clear() const { return ept::kWrite | ept::kMmuWritable; }
  /// The variant's own counters, under hv.fault.*.
  virtual void register_stats(Stats&) const {}
};

/// Variants read their keys from the `hv` section and are built with the
/// environment they may use.
using FaultPathRegistry = Registry<FaultPath, FaultEnv&>;

}  // namespace vmxsim::hv
