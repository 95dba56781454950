// hv::NestedMmu — L0's side of nested virtualization (guest.nested): the
// vCPUs run L2, whose EPTP is EPT02 (hv::ShadowEpt), the shadow L0 builds of
// the EPT L1 keeps for L2 (EPT12, in L1's memory) composed with L0's own map
// of L1 (EPT01, hv::Mmu, and the memslots). What it models, by KVM function:
//   handle()       an EPT violation in L2 (ept_page_fault = FNAME(page_fault),
//                  PTTYPE_EPT): EPT12 walked in software, each entry read
//                  from L1's memory through its memslot (charged); a walk
//                  that does not grant the access is reflected to L1
//                  (nested_ept_inject_page_fault → nested_vmx_vmexit); one
//                  that does is filled into EPT02 under mmu_lock for write
//                  (the shadow MMU has no read-lock or lockless fault path,
//                  FACTS J4). A newly shadowed EPT12 table is write-tracked
//                  (account_shadowed → __kvm_write_track_add_gfn) and its
//                  EPT01 leaf write-protected.
//   track_write()  L0 emulated an L1 write to a tracked EPT12 table
//                  (kvm_mmu_track_write): the shadow entries of the written
//                  entry are zapped, then flushed and freed by the policy.
//   vmresume()     L1's VMRESUME traps: L0 emulates the nested VM entry
//                  (nested_vmx_run, prepare_vmcs02).
//   dirty logging  L0 logging L1 while L2 runs (DirtyLogOps calls it through
//                  ShadowDirtyHook): shadow leaves are write-protected through
//                  the rmaps whatever hv.dirty_log.mode is (vmcs02 runs
//                  without PML: kvm_mmu_page_ad_need_write_protect), a write
//                  fault makes the 4 KiB leaf writable and marks the L1 page
//                  dirty, and eager splitting splits EPT02's huge leaves
//                  (kvm_shadow_mmu_try_split_huge_pages).
//   check.nested   after every operation, the shadow coherence oracle
//                  (ShadowEpt::check): each violation names the L2 address.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hv/costs.hpp"
#include "hv/dirty_log.hpp"
#include "hv/dirty_log_ops.hpp"
#include "hv/fault_path.hpp"
#include "hv/lock.hpp"
#include "hv/memslots.hpp"
#include "hv/mmu.hpp"
#include "hv/nested/shadow_ept.hpp"
#include "hv/page_track.hpp"
#include "hv/pt_free.hpp"
#include "hv/requests.hpp"
#include "sim/exec_context.hpp"
#include "sim/trace.hpp"

namespace vmxsim {
class Cfg;
class Stats;
namespace models {
class PhysMem;
}
}  // namespace vmxsim

namespace vmxsim::hv {

/// An L2 memslot of the L1 hypervisor: L2-physical [gpa, gpa + size) is
/// L1-physical [l1_gpa, l1_gpa + size).
struct L2Slot {
  Addr gpa = 0;
  std::uint64_t size = 0;
  Addr l1_gpa = 0;
  bool contains(Addr g) const { return g - gpa < size; }
};

struct NestedCosts {
  // Every figure here is an estimate unless it says otherwise; published
  // nested costs are whole round trips (docs/nested.md, "Costs").
  Cycles ept12_read = 40;  // L0 reading one EPT12 entry from L1's memory (kvm_vcpu_read_guest_page through the HVA)
  Cycles reflect = 3000;   // L0 emulating the nested VM exit: vmcs02 → vmcs12 sync, vmcs01 loaded (nested_vmx_vmexit)
  Cycles vmresume = 4000;  // L0 emulating L1's VMRESUME: checks, prepare_vmcs02, vmcs02 loaded (nested_vmx_run)
  Cycles l1_handler = 1500;  // L1's own EPT-violation handler, besides its memory and VMCS accesses
  // VMREAD/VMWRITEs L1's KVM issues to handle one exit and resume: 31 extra
  // exits per L2 exit without shadow VMCS (Turtles, OSDI 2010, §4.1, as
  // quoted second-hand: docs/notes/nested-research.md §1.1).
  std::uint32_t vmcs_accesses = 31;
  Cycles vmcs_shadowed = 30;  // one VMREAD/VMWRITE served by the CPU from the shadow VMCS
  Cycles vmcs_emulate = 300;  // L0's handle_vmread/handle_vmwrite besides the exit and entry
  Cycles l1_lock = 20;        // L1 taking or releasing its mmu_lock (an uncontended atomic, as hv.costs.lock_acquire)
  Cycles l1_spin = 100;       // one poll of a contended L1 lock (it is re-read at this interval)
  Cycles split_topup = 400;  // topping up the split caches by one shadow page (header, page, shadowed-translation page)
  static NestedCosts from(const Cfg& costs);
};

struct NestedParams {
  bool enabled = false;                   // guest.nested.enabled
  std::uint64_t l1_memory = 64ull << 20;  // guest.nested.l1_memory: L1's own RAM (its EPT12 tables), an L0 memslot
  Addr l1_memory_gpa = 0;                 // where that slot is (set by the simulation, above every other)
  std::vector<L2Slot> l2_slots;           // guest.nested.l2_memslots (default: every RAM slot, identity)
  bool ept12_prepopulate = false;         // guest.nested.ept12.prepopulate: L1 maps all L2 memory before L2 runs
  unsigned ept12_level = 1;               // guest.nested.ept12.page_size: 4K | 2M | 1G (L1's mappings of L2)
  bool shadow_vmcs = true;                // guest.nested.shadow_vmcs (KVM: enable_shadow_vmcs=1)
  ShadowEptParams shadow;                 // guest.nested.shadow.*, costs
  bool shadow_max_default = true;         // max_pages not set: KVM's default from the L0 memslots' size
  std::uint32_t split_cache = 40;         // guest.nested.split_cache: KVM_ARCH_NR_OBJS_PER_MEMORY_CACHE
  NestedCosts costs;                      // guest.nested.costs.*
  bool check = false;                     // check.nested: the shadow coherence oracle
  /// guest.nested.*; `hv_costs` for the shared costs (spte_set, zap_leaf,
  /// split_entry, dirty_log_protect_page).
  static NestedParams from(const Cfg& nested, const Cfg& hv_costs, const Cfg& check);
};

class NestedMmu final : public ShadowDirtyHook {
 public:
  struct Parts {
    const HvCosts& costs;
    models::PhysMem& mem;
    const Memslots& slots;
    Mmu& mmu;  // EPT01
    Lock& mmu_lock;
    DirtyLog& dirty;
    PageTrack& track;
    const FaultPath& path;  // its track_protect_clear()
    Requests& requests;
    PtFreePolicy& pt_free;
  };
  /// `root12`: the L1 GPA of EPT12's root (L1's EPTP for L2), `levels` deep.
  NestedMmu(const NestedParams& p, const Parts& x, Addr root12, unsigned levels);
  void set_trace(Trace* t) { tl_ = t; }

  ept::Eptp eptp() const { return shadow_.eptp(); }
  const NestedParams& params() const { return p_; }
  ShadowEpt& shadow() { return shadow_; }

  /// An EPT violation of L2 at `l2_gpa` (the caller charged the exit
  /// handler's prologue). `reflect` in the outcome: EPT12 does not grant the
  /// access; L1 must handle a nested EPT violation with `reflect_qual`.
  FaultOutcome handle(ExecContext& ctx, unsigned vcpu, Addr l2_gpa, std::uint64_t qual);
  /// L0 has just emulated L1's write to the EPT12 entry at `l1_gpa`.
  void track_write(ExecContext& ctx, Addr l1_gpa);
  /// L1's VMRESUME (after a reflected exit): the emulated nested VM entry.
  void vmresume(ExecContext& ctx);
  /// L1's VMREAD/VMWRITE when it traps (no shadow VMCS): L0's emulation.
  void vmcs_access(ExecContext& ctx);

  // ShadowDirtyHook (caller holds mmu_lock for write).
  void split(ExecContext& ctx, Addr begin, Addr end) override;
  std::uint64_t protect_range(ExecContext& ctx, Addr begin, Addr end) override;
  std::uint64_t protect_page(ExecContext& ctx, Addr l1_page, bool huge) override;

  /// The L1 GPA an L1 page maps to, its L0 constraints (exposed for tests).
  L0Mapping map_l1(Addr l1_gpa) const;
  /// `logging`: with dirty logging's limits (4 KiB, read-only) on logged pages.
  L0Mapping map_l1(Addr l1_gpa, bool logging) const;
  std::uint64_t read_l1(Addr l1_gpa) const;

  /// check.nested: the violations found (the first 100 kept).
  const std::vector<ShadowEpt::Incoherence>& incoherences() const { return bad_; }
  std::uint64_t violations = 0;

  void register_stats(Stats& s) const;
  std::uint64_t l2_faults = 0, reflected = 0, fills = 0, spurious = 0, track_writes = 0, tracked_tables = 0;
  std::uint64_t vmresumes = 0, vmcs_exits = 0, ept12_reads = 0, split_cycles = 0;
  std::uint64_t splits = 0, split_refused = 0, split_reused = 0, split_flushes = 0, split_lock_drops = 0;
  std::uint64_t logging_faults = 0;

 private:
  /// Track the EPT12 tables a fill began to shadow and write-protect their
  /// EPT01 leaves (caller holds mmu_lock). Returns whether a flush is needed.
  bool track_tables(ExecContext& ctx, const std::vector<Addr>& tables);
  void check(ExecContext& ctx, const char* after);
  /// f(lo, hi) for each memslot's part of [begin, end) (rmaps are per slot).
  void for_each_slot_range(Addr begin, Addr end, const std::function<void(Addr, Addr)>& f) const;

  NestedParams p_;
  Parts x_;
  Addr root12_;
  unsigned levels_;
  ShadowEpt shadow_;
  Trace* tl_ = nullptr;
  std::uint32_t split_cache_ = 0;  // shadow pages in the split caches
  std::vector<ShadowEpt::Incoherence> bad_;
};

}  // namespace vmxsim::hv
