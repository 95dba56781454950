// hv::Hypervisor — the KVM-like hypervisor model: memslots, the EPT (hv::Mmu),
// mmu_lock, dirty logging, and the VM-exit handlers. Its code runs in the
// exiting vCPU's simulated thread (or in a VMM thread) through
// ExecContext and charges hv.costs for each step.
#pragma once
#include "sim/exec_context.hpp"
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ept/entry.hpp"
#include "hv/dirty_log.hpp"
#include "hv/fault_path.hpp"
#include "hv/lock.hpp"
#include "hv/memslots.hpp"
#include "hv/mmu.hpp"
#include "hv/page_track.hpp"
#include "hv/rcu.hpp"
#include "sim/trace.hpp"

namespace vmxsim {
class Cfg;
class Stats;
namespace models {
class PhysMem;
}
namespace pml {
class Engine;
}
}  // namespace vmxsim

namespace vmxsim::hv {


/// Requests one thread posts to a vCPU (KVM: kvm_make_request + kick).
enum Request : unsigned {
  kRequestTlbFlush = 1,  // KVM_REQ_TLB_FLUSH
  kRequestKick = 2,      // just exit to the hypervisor (which drains PML on every exit)
};

/// A poster waiting for every in-guest target to take its request (KVM:
/// kvm_make_all_cpus_request waits for vCPUs that were IN_GUEST_MODE).
struct Ack {
  unsigned pending = 0;
  ExecContext* waiter = nullptr;
  void done(Cycles t);
};

/// What the hypervisor may ask of a vCPU (implemented by cpu::Vcpu).
class VcpuHandle {
 public:
  virtual ~VcpuHandle() = default;
  /// Running guest code (not in an exit handler, not finished).
  virtual bool in_guest() const = 0;
  /// From another thread at its synced time: post `bits`; the vCPU takes
  /// them at its next sync (in guest mode, through an external-interrupt
  /// exit) or before its next VM entry, then calls ack->done() if given.
  virtual void post_request(unsigned bits, Ack* ack) = 0;
  /// On the vCPU's own thread: INVEPT single-context for the guest's EPT.
  virtual void flush_tlb_local() = 0;
  /// Its PML engine, or null.
  virtual pml::Engine* pml_engine() = 0;
  /// Accesses retired so far (for study metrics: progress while logging).
  virtual std::uint64_t accesses_retired() const = 0;
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
  Cycles fast_pf_walk = 60;       // fast path: lockless walk to the leaf (KVM's fast_page_fault)
  Cycles fast_pf_cmpxchg = 25;    // fast path: the compare-and-exchange setting W
  Cycles barrier = 33;            // a full memory barrier (MFENCE; Agner Fog's tables, Skylake)
  Cycles emulate_write = 2000;    // emulating a guest write to a write-tracked page (x86_emulate_instruction)
  static HvCosts from(const Cfg& costs);
};

struct HvParams {
  HvCosts costs;
  LockCosts lock;
  LockKind mmu_lock = LockKind::kRw;  // hv.mmu_lock: rw (KVM's TDP MMU) | spin
  std::string fault_path = "slow";    // hv.fault_path: slow | fast | spte_id | unsafe (hv/fault_path.hpp)
  // hv.lockless_delay_cycles: extra cycles a lockless fault path spends
  // between its last check and its update — the vCPU interrupted or preempted
  // there. 0 by default; the race scenarios (configs/races/) widen the window.
  Cycles lockless_delay = 0;
  bool spte_id_unique = true;         // hv.spte_id.unique: the identification is the vCPU id, else one shared bit
  PageTrackParams page_track;         // hv.page_track, check.page_track
  MmuParams mmu;
  DirtyLogParams dirty_log;
  std::vector<MemslotSpec> memslots;
  bool oracle = false;  // check.dirty_log
  /// Reads hv.*, ept.* and check.*.
  static HvParams from(const Cfg& hv, const Cfg& ept, const Cfg& check);
};

/// The fast path's counters (hv.fault.*).
struct FastPathStats {
  std::uint64_t fixed = 0, spurious = 0, retries = 0, to_slow = 0;
};

class Hypervisor {
 public:
  Hypervisor(const HvParams& p, models::PhysMem& mem);

  ept::Eptp eptp() const { return mmu_.eptp(); }
  const HvCosts& costs() const { return p_.costs; }
  const Memslots& memslots() const { return slots_; }
  Mmu& mmu() { return mmu_; }
  Lock& mmu_lock() { return mmu_lock_; }
  DirtyLog& dirty_log() { return dirty_; }
  DirtyOracle& oracle() { return oracle_; }
  /// Record the handlers' phases, the dirty-log operations and mmu_lock
  /// waits and holds on the timeline (null: off).
  void set_trace(Trace* t) {
    tl_ = t;
    mmu_lock_.set_trace(t);
  }

  /// EPT-violation exit handler (KVM: handle_ept_violation → kvm_mmu_page_fault
  /// → kvm_tdp_mmu_map). The faulting access is decoded from the exit
  /// qualification, as KVM derives its error code from it. Maps a missing
  /// page; for a write to a page that dirty logging write-protected, splits a
  /// huge page and/or restores W and marks the page dirty. Runs between VM exit and VM entry, which the vCPU
  /// charges. Returns true if the exit was caused by dirty logging. Throws
  /// vmxsim::Error if no memslot covers `gpa`.
  FaultOutcome handle_ept_violation(ExecContext& ctx, unsigned vcpu, Addr gpa, std::uint64_t qual);
  /// The slow path: under mmu_lock (for read with the rw kind), map a missing
  /// page, fix a write-protected one, or emulate a write to a tracked one.
  FaultOutcome slow_path(ExecContext& ctx, unsigned vcpu, const Memslot& slot, Addr gpa, AccessType type);
  /// mark_page_dirty_in_slot(), if `gpa` is being logged.
  void mark_dirty(ExecContext& ctx, Addr gpa);
  void trace_instant(ExecContext& ctx, const char* name, Addr gpa);
  models::PhysMem& phys() { return mem_; }
  FastPathStats& fast_stats() { return fast_; }
  bool spte_id_unique() const { return p_.spte_id_unique; }
  Cycles lockless_delay() const { return p_.lockless_delay; }
  PageTrack& page_track() { return track_; }
  Rcu& rcu() { return rcu_; }

  // Write tracking, from a VMM thread (KVM: kvm_write_track_add_gfn /
  // kvm_write_track_remove_gfn on each page of the range).
  /// Under mmu_lock for write: set the range's flag, split huge leaves over
  /// it, clear the fault path's track_protect_clear() bits on its leaves;
  /// then flush remote TLBs. Returns when no vCPU can write a page of the
  /// range without a VM exit (the oracle enforces the range from then).
  void add_page_track(ExecContext& ctx, std::size_t range);
  /// Clear the flag (the entries stay protected until their next fault).
  void remove_page_track(ExecContext& ctx, std::size_t range);
  /// The write-track oracle's view of a guest write that completed without
  /// an exit (the vCPU knows the HPA; it has synced).
  bool track_oracle_on() const { return track_.oracle_on(); }
  bool track_configured_hpa(Addr hpa) const {
    const Memslot* s = slots_.find_hpa(hpa);
    return s && track_.configured(s->gpa + (hpa - s->hpa));
  }
  void note_untrapped_write(ExecContext& ctx, unsigned vcpu, Addr hpa);

  /// Done at the start of every VM exit (KVM's __vmx_handle_exit flushes the
  /// PML buffer first): drain `v`'s PML log into the dirty bitmap.
  void on_vm_exit(ExecContext& ctx, VcpuHandle& v);

  /// KVM: kvm_flush_remote_tlbs(). The calling thread (vCPU `from`, or a VMM
  /// thread with from < 0) flushes its own vCPU's TLB and kicks every other
  /// vCPU with a flush request, paying an IPI each, and waits until every
  /// vCPU that was in guest mode has flushed.
  void flush_remote_tlbs(ExecContext& ctx, int from);
  /// Post `bits` to every vCPU but `from` and wait for the in-guest ones.
  void kick_all(ExecContext& ctx, int from, unsigned bits);
  void attach_vcpu(unsigned id, VcpuHandle* v);

  // Dirty logging, from a VMM thread (KVM's ioctls).
  /// KVM_MEM_LOG_DIRTY_PAGES on [begin, end) (kvm_mmu_slot_apply_flags):
  /// wp: clear W on every leaf; pml: clear D on 4 KiB leaves and W on huge
  /// ones; enable PML on every vCPU; flush TLBs. Returns when it took effect.
  void enable_dirty_log(ExecContext& ctx, Addr begin, Addr end);
  /// KVM_GET_DIRTY_LOG: kick every vCPU so their PML buffers are drained,
  /// then copy the bitmap. Returns the dirty pages.
  std::vector<Addr> get_dirty_log(ExecContext& ctx);
  /// KVM_CLEAR_DIRTY_LOG for `pages`: clear their bits and re-protect them
  /// (wp: W; pml: D), then flush TLBs. When it returns, the pages count as
  /// copied for the oracle.
  void clear_dirty_log(ExecContext& ctx, const std::vector<Addr>& pages);
  /// KVM_MEM_LOG_DIRTY_PAGES cleared: stop logging (PML off on every vCPU),
  /// then kvm_mmu_recover_huge_pages under mmu_lock for write — zap the
  /// tables that stand where a huge page may be again — flush remote TLBs,
  /// and hand the unlinked tables to RCU. Later faults map huge pages.
  void disable_dirty_log(ExecContext& ctx);

  /// The dirty-log oracle's view of a guest write (the vCPU knows the HPA).
  bool oracle_on() const { return oracle_.on(); }
  void note_write(unsigned vcpu, Addr hpa, Cycles t) {
    if (const Memslot* s = slots_.find_hpa(hpa)) oracle_.write(vcpu, s->gpa + (hpa - s->hpa), t);
  }

  void register_stats(Stats& s) const;

  std::uint64_t ept_violations = 0, remote_flushes = 0, kicks = 0, wp_faults = 0, pml_drains = 0,
                pml_drained = 0;
  // When dirty logging took effect, and each vCPU's retired accesses then.
  std::uint64_t logging_since = 0;
  std::vector<std::uint64_t> accesses_at_logging;

 private:
  const Memslot* lookup(ExecContext& ctx, Addr gpa);
  bool handle_write_protected(ExecContext& ctx, Addr gpa);
  FaultOutcome emulate_write(ExecContext& ctx, const Memslot& slot, Addr gpa);
  /// Split huge leaves until `gpa` is mapped by a 4 KiB one; `child` gives
  /// each child's flags from its parent's (Mmu::split). Returns that leaf.
  Leaf split_to_4k(ExecContext& ctx, Addr gpa, const std::function<std::uint64_t(std::uint64_t, unsigned)>& child);
  void drain_pml(ExecContext& ctx, pml::Engine& e);

  HvParams p_;
  models::PhysMem& mem_;
  Memslots slots_;
  Mmu mmu_;
  Lock mmu_lock_;
  DirtyLog dirty_;
  DirtyOracle oracle_;
  PageTrack track_;
  Rcu rcu_;
  std::vector<VcpuHandle*> vcpus_;
  std::unique_ptr<FaultPath> fault_path_;
  FastPathStats fast_;
  std::uint64_t slow_faults_ = 0;
  Trace* tl_ = nullptr;
};

}  // namespace vmxsim::hv
