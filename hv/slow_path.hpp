// hv::SlowPath — resolving an EPT violation under mmu_lock, as KVM's
// direct_page_fault does: kvm_faultin_pfn (gfn_to_pfn) before the lock, then
// the TDP iterator's walk and kvm_tdp_mmu_map — map a missing page, fix a
// page that dirty logging write-protected (splitting a huge one), or emulate
// a write to a write-tracked page. Every fault path falls back to it.
#pragma once
#include <cstdint>

#include "hv/costs.hpp"
#include "hv/dirty_log.hpp"
#include "hv/fault_path.hpp"
#include "hv/lock.hpp"
#include "hv/mmu.hpp"
#include "hv/page_track.hpp"
#include "hv/requests.hpp"
#include "sim/exec_context.hpp"
#include "sim/trace.hpp"

namespace vmxsim {
class Stats;
}

namespace vmxsim::hv {

class SlowPath {
 public:
  /// `zap_split`: hv.fault_split is `zap` (a write-protected huge page is
  /// dropped and refaults) rather than `in_place` (split where it stands).
  SlowPath(const HvCosts& costs, Mmu& mmu, Cycles spte_set, Lock& mmu_lock, DirtyLog& dirty, PageTrack& track,
           Requests& requests, bool zap_split)
      : c_(costs), mmu_(mmu), spte_set_(spte_set), lock_(mmu_lock), dirty_(dirty), track_(track), requests_(requests),
        zap_split_(zap_split) {}
  void set_trace(Trace* t) { tl_ = t; }

  /// Under mmu_lock (for read with the rw kind): map a missing page, fix a
  /// write-protected one, or emulate a write to a tracked one.
  FaultOutcome handle(ExecContext& ctx, unsigned vcpu, const Memslot& slot, Addr gpa, AccessType type);
  /// mark_page_dirty_in_slot(), if `gpa` is being logged.
  void mark_dirty(ExecContext& ctx, Addr gpa);

  void register_stats(Stats& s) const;
  std::uint64_t faults = 0, wp_faults = 0, huge_zaps = 0;

 private:
  bool handle_write_protected(ExecContext& ctx, unsigned vcpu, Addr gpa);
  FaultOutcome emulate_write(ExecContext& ctx, const Memslot& slot, Addr gpa);

  const HvCosts& c_;
  Mmu& mmu_;
  Cycles spte_set_;
  Lock& lock_;
  DirtyLog& dirty_;
  PageTrack& track_;
  Requests& requests_;
  bool zap_split_;
  Trace* tl_ = nullptr;
};

}  // namespace vmxsim::hv
