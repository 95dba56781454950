// hv::Hypervisor — the KVM-like hypervisor model, assembled from parts cut
// along KVM's own boundaries; it owns them and wires them, and has no
// behaviour of its own:
//   state        memslots (hv::Memslots, a registered implementation), the
//                EPT (hv::Mmu), mmu_lock, dirty bitmaps (hv::DirtyLog),
//                write-track flags (hv::PageTrack), RCU (hv::Rcu) and the
//                page-table freeing policy (hv::PtFreePolicy)
//   exits        hv::ExitHandlers: what a VM exit runs (PML flush, EPT
//                violation, EPT misconfiguration), hv::Mmio (MMIO entries,
//                read-only memslots)
//   fault paths  hv::SlowPath and the chosen hv::FaultPath variant, which
//                sees only hv::FaultEnv
//   operations   hv::DirtyLogOps (enable, GET, CLEAR, disable),
//                hv::PageTrackOps (add, remove), hv::Requests (kicks, remote flushes)
//   checkers     hv::Checkers (the dirty-log, write-track and page-table
//                use-after-free oracles), which
//                the vCPUs report to
// Its code runs in the exiting vCPU's simulated thread (or in a VMM thread)
// through ExecContext and charges hv.costs for each step.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hv/check/checkers.hpp"
#include "hv/costs.hpp"
#include "hv/dirty_log.hpp"
#include "hv/dirty_log_ops.hpp"
#include "hv/eager_split.hpp"
#include "hv/exits.hpp"
#include "hv/fault_env.hpp"
#include "hv/fault_path.hpp"
#include "hv/lock.hpp"
#include "hv/memslot_ops.hpp"
#include "hv/memslots.hpp"
#include "hv/mmio.hpp"
#include "hv/mmu.hpp"
#include "hv/nested/l1_hypervisor.hpp"
#include "hv/nested/nested_mmu.hpp"
#include "hv/page_track.hpp"
#include "hv/page_track_ops.hpp"
#include "hv/pt_free.hpp"
#include "hv/rcu.hpp"
#include "hv/requests.hpp"
#include "hv/slow_path.hpp"
#include "hv/srcu.hpp"
#include "sim/system_info.hpp"
#include "sim/trace.hpp"

namespace vmxsim {
class Cfg;
class Stats;
namespace models {
class PhysMem;
}
}  // namespace vmxsim

namespace vmxsim::hv {

struct HvParams {
  HvCosts costs;
  LockCosts lock;
  LockKind mmu_lock = LockKind::kRw;  // hv.mmu_lock: rw (KVM's TDP MMU) | spin
  std::string fault_path = "slow";    // hv.fault_path (`vmxsim list`)
  FaultPathRegistry::Maker make_fault_path;
  std::string memslots_impl = "array";  // hv.memslots_impl (`vmxsim list`)
  MemslotsRegistry::Maker make_memslots;
  PageTrackParams page_track;  // hv.page_track, check.page_track
  MmuParams mmu;
  DirtyLogParams dirty_log;
  std::vector<MemslotSpec> memslots;
  MmioParams mmio;                   // hv.mmio_regions, hv.mmio_caching
  MemslotOpCosts memslot_ops;        // hv.costs.memslot_ioctl, .zap_leaf, .mmu_notifier
  Cycles srcu_sync = 25000;          // hv.costs.srcu_sync: one expedited SRCU grace period with no reader to wait for
  bool oracle = false;               // check.dirty_log
  EagerSplitParams eager_split;      // hv.eager_split.*, hv.costs.split_alloc*
  bool fault_split_zap = false;      // hv.fault_split: zap (else in_place)
  std::string oracle_gets;           // check.dirty_log_gets: a file for the pages each GET reported ("": none)
  bool pt_free_oracle = true;        // check.pt_free
  RcuParams rcu;                     // hv.rcu.*
  std::string pt_free = "call_rcu";  // hv.pt_free.policy (`vmxsim list`)
  PtFreeRegistry::Maker make_pt_free;
  NestedParams nested;  // guest.nested.*, check.nested (read by the simulation: it is the guest's)
  /// Reads hv.*, ept.* and check.*; variants check themselves against `system`.
  static HvParams from(const Cfg& hv, const Cfg& ept, const Cfg& check, const SystemInfo& system);
};

class Hypervisor {
 public:
  Hypervisor(const HvParams& p, models::PhysMem& mem);

  /// The EPTP the vCPUs run with: EPT02 when they run L2 (guest.nested), else the EPT.
  ept::Eptp eptp() const { return nested_ ? nested_->eptp() : mmu_.eptp(); }
  /// L0's EPT for the VM (EPT01 in a nested run).
  ept::Eptp l1_eptp() const { return mmu_.eptp(); }
  /// guest.nested: L0's nested MMU and the L1 hypervisor (null when off).
  NestedMmu* nested() { return nested_.get(); }
  L1Hypervisor* l1() { return l1_.get(); }
  const HvCosts& costs() const { return p_.costs; }
  const Memslots& memslots() const { return *slots_; }
  Mmio& mmio() { return mmio_; }
  /// Memslot changes and host unmaps while the guest runs (a VMM thread).
  MemslotOps& memslot_ops() { return memslot_ops_; }
  Srcu& srcu() { return srcu_; }
  Mmu& mmu() { return mmu_; }
  Lock& mmu_lock() { return mmu_lock_; }
  DirtyLog& dirty_log() { return dirty_; }
  PageTrack& page_track() { return track_; }
  Rcu& rcu() { return rcu_; }
  PtFreePolicy& pt_free() { return *pt_free_; }
  EagerSplitter& splitter() { return splitter_; }

  ExitHandlers& exits() { return exits_; }
  Requests& requests() { return requests_; }
  DirtyLogOps& dirty_log_ops() { return dirty_ops_; }
  PageTrackOps& page_track_ops() { return track_ops_; }
  Checkers& checkers() { return checks_; }

  /// Record the handlers' phases, the operations and mmu_lock waits and
  /// holds on the timeline (null: off).
  void set_trace(Trace* t);
  void register_stats(Stats& s) const;

 private:
  HvParams p_;
  models::PhysMem& mem_;
  std::unique_ptr<Memslots> slots_;
  Mmu mmu_;
  Lock mmu_lock_;
  DirtyLog dirty_;
  PageTrack track_;
  Rcu rcu_;
  Srcu srcu_;
  EagerSplitter splitter_;
  Checkers checks_;
  Requests requests_;
  PtFreeEnv pt_env_;
  std::unique_ptr<PtFreePolicy> pt_free_;
  SlowPath slow_;
  FaultEnv env_;
  std::unique_ptr<FaultPath> path_;
  DirtyLogOps dirty_ops_;
  Mmio mmio_;
  ExitHandlers exits_;
  MemslotOps memslot_ops_;
  PageTrackOps track_ops_;
  std::unique_ptr<L1Hypervisor> l1_;
  std::unique_ptr<NestedMmu> nested_;
};

}  // namespace vmxsim::hv
