// hv::PageTrackOps — write tracking from a VMM thread (KVM:
// kvm_write_track_add_gfn / kvm_write_track_remove_gfn on each page of a
// configured range). Adding a range write-protects its pages the way the
// chosen fault path requires (FaultPath::track_protect_clear).
#pragma once
#include <cstddef>

#include "hv/check/track_oracle.hpp"
#include "hv/costs.hpp"
#include "hv/dirty_log.hpp"
#include "hv/fault_path.hpp"
#include "hv/lock.hpp"
#include "hv/mmu.hpp"
#include "hv/page_track.hpp"
#include "hv/requests.hpp"
#include "sim/exec_context.hpp"
#include "sim/trace.hpp"

namespace vmxsim::hv {

class PageTrackOps {
 public:
  struct Parts {
    const HvCosts& costs;
    Mmu& mmu;
    Lock& mmu_lock;
    const DirtyLog& dirty;
    PageTrack& track;
    Requests& requests;
    const FaultPath& path;
    TrackOracle& oracle;
  };
  explicit PageTrackOps(const Parts& p) : x_(p) {}
  void set_trace(Trace* t) { tl_ = t; }

  /// Under mmu_lock for write: set the range's flag, split huge leaves over
  /// it, clear the fault path's track_protect_clear() bits on its leaves;
  /// then flush remote TLBs. Returns when no vCPU can write a page of the
  /// range without a VM exit (the oracle enforces the range from then).
  void add(ExecContext& ctx, std::size_t range);
  /// Clear the flag (the entries stay protected until their next fault).
  void remove(ExecContext& ctx, std::size_t range);

 private:
  Parts x_;
  Trace* tl_ = nullptr;
};

}  // namespace vmxsim::hv
