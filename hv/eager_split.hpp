// hv::EagerSplitter — KVM's eager page splitting (kvm_mmu_try_split_huge_pages,
// tdp_mmu_split_huge_pages_root): every huge EPT leaf over a GPA range split
// down to 4 KiB in one pre-order pass (a 1 GiB leaf becomes 512 2 MiB leaves,
// and those inside the range become 4 KiB leaves in the same pass). Each new
// table is filled with its 512 entries while unreachable and linked in place
// of the huge leaf with one compare-and-exchange; the children map the same
// frames with the same rights and A/D bits (make_huge_page_split_spte), so
// the split issues no TLB flush. The caller holds mmu_lock (read when
// logging is enabled, write under KVM_CLEAR_DIRTY_LOG).
//
// Where the page-table page comes from is `hv.eager_split.alloc`:
//   nowait     the January 2022 design: a GFP_NOWAIT allocation while
//              holding mmu_lock (none failed in Matlack's 40 runs, so it
//              never falls back here)
//   drop_lock  since Linux 6.11 (tdp_mmu_alloc_sp_for_split): release
//              mmu_lock, allocate with GFP_KERNEL_ACCOUNT, retake it and
//              restart the walk at the leaf, which another thread may have
//              split or zapped meanwhile (the spare page is then freed)
#pragma once
#include <cstdint>
#include <functional>

#include "hv/lock.hpp"
#include "hv/mmu.hpp"
#include "sim/exec_context.hpp"
#include "sim/trace.hpp"

namespace vmxsim {
class Cfg;
class Stats;
}  // namespace vmxsim

namespace vmxsim::hv {

struct EagerSplitParams {
  bool enabled = true;  // hv.eager_split.enabled (KVM: the eager_page_split module parameter, default Y)
  enum class Alloc : std::uint8_t { kNowait, kDropLock };
  Alloc alloc = Alloc::kDropLock;  // hv.eager_split.alloc: nowait | drop_lock
  // hv.costs.split_alloc_nowait / split_alloc: allocating the shadow-page
  // header and the page-table page without sleeping (under mmu_lock) or with
  // GFP_KERNEL_ACCOUNT (mmu_lock dropped); zeroing is not needed, as all 512
  // entries are written. Estimates: two slab allocations and a page.
  Cycles alloc_nowait = 250;
  Cycles alloc_sleep = 300;
  static EagerSplitParams from(const Cfg& eager_split, const Cfg& costs);
};

class EagerSplitter {
 public:
  EagerSplitter(const EagerSplitParams& p, Mmu& mmu, Lock& lock) : p_(p), mmu_(mmu), lock_(lock) {}
  const EagerSplitParams& params() const { return p_; }
  void set_trace(Trace* t) { tl_ = t; }

  /// Split every huge leaf overlapping [begin, end) down to 4 KiB, children
  /// identical to their parent. The caller holds mmu_lock in `mode`; under
  /// drop_lock it is released and retaken around each allocation.
  void split_range(ExecContext& ctx, Addr begin, Addr end, LockMode mode);

  void register_stats(Stats& s) const;
  std::uint64_t splits = 0, allocs_nowait = 0, lock_drops = 0, spares = 0, alloc_cycles = 0, dropped_cycles = 0;

 private:
  /// One huge leaf and, pre-order, its children inside [begin, end).
  void split_down(ExecContext& ctx, Leaf l, Addr begin, Addr end, LockMode mode);
  /// split_down every huge leaf now overlapping [lo, hi) (inside [begin, end)).
  void split_huge(ExecContext& ctx, Addr lo, Addr hi, Addr begin, Addr end, LockMode mode);
  EagerSplitParams p_;
  Mmu& mmu_;
  Lock& lock_;
  Trace* tl_ = nullptr;
};

}  // namespace vmxsim::hv
