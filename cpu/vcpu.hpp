// cpu::Vcpu — one virtual CPU as a SystemC module: an SC_THREAD that replays
// its access stream. Per access: L1 TLB, L2 TLB, and on a miss the page walk —
// the 2D guest×EPT walk with the paging-structure caches (guest paging on), or
// the EPT walk alone (off: trace addresses are GPAs). A guest page fault runs
// the guest OS's handler in guest mode; an EPT violation is a VM exit into the
// hypervisor (which runs in this thread), then VM entry and a retry.
//
// Cross-thread requests (a remote TLB flush) are posted by other threads and
// taken at this vCPU's next sync, as an IPI-induced VM exit.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <systemc>

#include "cpu/guest_os.hpp"
#include "ept/walker.hpp"
#include "hv/hypervisor.hpp"
#include "models/mem_hierarchy.hpp"
#include "models/pwc.hpp"
#include "models/tlb.hpp"
#include "pml/engine.hpp"
#include "sim/sim_thread.hpp"
#include "sim/stats.hpp"
#include "sim/trace.hpp"
#include "traces/source.hpp"

namespace vmxsim {
class Cfg;
class ProgressSink;
namespace sim {
class RunControl;
}
}  // namespace vmxsim

namespace vmxsim::cpu {

struct VcpuParams {
  Cycles access_cycles = 1;                 // cpu.access_cycles: cost of an access that hits the L1 TLB
  std::uint32_t max_exits_per_access = 64;  // cpu.max_exits_per_access: livelock guard
  // cpu.max_retries_per_access: guard on faults retried while the VMM deletes
  // or moves the slot (each retry is an exit and entry, ~1,500 cycles).
  std::uint64_t max_retries_per_access = 1'000'000;
  // cpu.interrupt_window_cycles: a posted IPI (kick, remote TLB flush) is taken
  // at the next multiple of this many cycles; 1,000 cycles = 0.4 us at 2.5 GHz,
  // within the ~1-3 us native TLB-shootdown latency (docs/config.md).
  Cycles interrupt_window_cycles = 1000;
  Cycles start_cycles = 0;  // workload.start_cycles: the cycle of the first access's gap start
  bool paging = true;       // workload.paging: trace addresses are GVAs
  models::TlbLevelParams l1, l2;
  models::PwcParams pwc;
  models::MemHierarchyParams mem;
  pml::PmlParams pml;
  bool with_pml = false;  // hv.dirty_log.mode is pml: each vCPU gets an engine
  Cycles quantum = 1000;
  Cycles jitter_cycles = 0;                // sim.jitter_cycles (sim::SimThread::set_jitter)
  std::uint64_t seed = 1;                  // sim.seed
  static VcpuParams from(const Cfg& cpu);  // reads cpu.access_cycles, cpu.max_exits_per_access
};

/// What a vCPU uses that other components own.
struct VcpuLinks {
  models::PhysMem& phys;
  hv::Hypervisor& hv;
  GuestOs* guest;                  // null with guest paging off
  models::CacheLevel* shared_llc;  // null: private LLC
  sim::RunControl& control;
  Trace* trace = nullptr;            // the timeline (--timeline), or null: off
  ProgressSink* progress = nullptr;  // the progress bar, or null: off
};

/// VM-exit reasons the model produces, in stats order (SDM Appendix C).
/// kVmresume and kVmcsAccess are L1's (guest.nested): its VMRESUME (reason
/// 24) and its VMREAD/VMWRITEs without a shadow VMCS (reasons 23, 25).
enum class Exit : unsigned {
  kEptViolation,
  kExternalInterrupt,
  kPmlFull,
  kEptMisconfig,
  kVmresume,
  kVmcsAccess,
  kCount
};

class Vcpu;

/// `vmxsim run --dump-at` (docs/inspect.md, "Timing"): told when a vCPU's
/// private state is to be taken for a snapshot.
class SnapshotObserver {
 public:
  virtual ~SnapshotObserver() = default;
  /// `v` is at its first access boundary (before an access, or its finish)
  /// at or after the time of snapshot `k`, and has synced. Read only.
  virtual void vcpu_state(const Vcpu& v, std::size_t k) = 0;
};

class Vcpu : public sc_core::sc_module,
             public hv::VcpuHandle,
             private GuestMemory,
             private ept::GuestWriteObserver,
             private hv::L1Cpu {
 public:
  SC_HAS_PROCESS(Vcpu);
  Vcpu(sc_core::sc_module_name name, unsigned id, const VcpuParams& p, const VcpuLinks& links,
       std::unique_ptr<traces::Source> source);

  void register_stats(Stats& s) const;
  Cycles now() const { return thread_.now(); }
  unsigned id() const { return id_; }

  // SDM invalidation (§28.3.3), executed on this vCPU: TLB and paging-structure caches.
  void invept_single(std::uint16_t ept);
  void invvpid_addr(std::uint16_t vpid, Addr gva);
  void invvpid_single(std::uint16_t vpid);
  void invvpid_all();

  // hv::VcpuHandle
  bool in_guest() const override { return in_guest_; }
  void post_request(unsigned bits, hv::Ack* ack) override;
  void flush_tlb_local() override { invept_single(tctx_.ept); }
  pml::Engine* pml_engine() override { return pml_.get(); }
  std::uint64_t accesses_retired() const override { return accesses; }

  models::Tlb& l1() { return l1_; }
  models::Tlb& l2() { return l2_; }
  const models::Tlb& l1() const { return l1_; }
  const models::Tlb& l2() const { return l2_; }
  const pml::Engine* pml() const { return pml_.get(); }
  const models::TlbContext& tlb_context() const { return tctx_; }

  /// `vmxsim run --dump-at`: `obs` is told at this vCPU's first access
  /// boundary at or after each of `times` (ascending), which costs one
  /// compare per access; without it the replay loop has none.
  void set_snapshots(std::vector<Cycles> times, SnapshotObserver* obs);
  /// Has this vCPU finished its stream (set at its synced finish time)?
  bool finished() const { return finished_; }

  // Counters.
  std::uint64_t accesses = 0, walks = 0, walk_refs = 0, walk_cycles = 0, hit_rewalks = 0;
  std::uint64_t guest_faults = 0, guest_kernel_walks = 0;
  std::uint64_t exits[unsigned(Exit::kCount)] = {};
  std::uint64_t tlb_flushes = 0, remote_flushes_taken = 0;
  std::uint64_t cycles_guest = 0, cycles_hypervisor = 0;
  std::uint64_t cycles_dirty_logging = 0;  // exits caused by dirty logging: wp faults, PML full, kicks
  std::uint64_t reflections = 0, cycles_l1 = 0, l1_walks = 0;  // guest.nested: L1's handler runs on this vCPU
  Histogram walk_refs_hist{Histogram::Scale::kLinear, 40};
  Histogram walk_cycles_hist{Histogram::Scale::kLog2, 20};

 private:
  void run();
  /// The access loop; with kSnapshots, each boundary checks the next
  /// snapshot time. Returns false if the run is stopping.
  template <bool kSnapshots>
  bool replay();
  void take_snapshots();                     // every due snapshot, at this boundary
  Addr translate(Addr va, AccessType type);  // returns the HPA
  Addr walk_and_fill(Addr va, AccessType type);
  /// A VM exit: exit cost, PML drain (as KVM does at every exit), `handler`,
  /// pending requests, entry cost. The handler returns whether dirty logging
  /// caused the exit.
  /// `gpa`/`qual` describe an EPT violation (for the timeline only).
  template <class Handler>
  void vm_exit(Exit reason, Handler handler, Addr gpa = ~Addr{0}, std::uint64_t qual = 0);
  void service_requests();
  void account_walk(std::uint32_t refs, Cycles cycles);
  /// The hypervisor decodes the access from `qual`, as KVM does.
  /// `store`: an L1 store being retried (guest.nested): if L0 emulates it,
  /// the exit's handler writes it and tells the nested MMU.
  hv::FaultOutcome ept_violation_exit(Addr gpa, std::uint64_t qual, unsigned& tries,
                                      const std::uint64_t* store = nullptr);
  /// guest.nested: L0 reflected an EPT violation of L2 to L1; L1's handler
  /// runs here, then its VMRESUME exits to L0.
  void nested_reflect(Addr l2_gpa, std::uint64_t qual);
  std::uint64_t l1_access(Addr l1_gpa, bool write, std::uint64_t value);
  // hv::L1Cpu: L1's code on this vCPU.
  ExecContext& l1_context() override { return thread_; }
  void l1_compute(Cycles c) override { thread_.advance(c); }
  std::uint64_t l1_read(Addr l1_gpa) override { return l1_access(l1_gpa, false, 0); }
  void l1_write(Addr l1_gpa, std::uint64_t value) override { l1_access(l1_gpa, true, value); }
  void l1_vmcs_access() override;
  void l1_spin(Cycles c) override {
    thread_.advance(c);
    sync();  // takes a posted IPI at its window
  }
  /// The livelock guard: one more exit for the current access (cpu.max_exits_per_access).
  void count_exit(Addr gpa, unsigned& tries) const;
  /// Reason 49: no qualification; the hypervisor's emulator decodes `type`.
  hv::FaultOutcome ept_misconfig_exit(Addr gpa, AccessType type, unsigned& tries);
  /// The access the hypervisor completed: its HPA, or kNoMemory for MMIO.
  Addr emulated(const hv::FaultOutcome& o);
  void check_tracked_write(Addr hpa, Addr hpa2);
  void pml_full_exit(unsigned& tries);
  void sync();
  void compute_until(Cycles end);        // sync at each yield point before `end` (the caller advances to it)
  void take_requests();                  // in guest mode, at a sync: an external-interrupt exit
  Addr write_gpa(Addr gpa) override;     // GuestMemory: the guest kernel's stores
  void walker_wrote(Addr hpa) override;  // ept::GuestWriteObserver: for the dirty-log oracle

  unsigned id_;
  VcpuParams p_;
  sim::SimThread thread_;
  models::Tlb l1_, l2_;
  models::Pwc pwc_;
  models::MemHierarchy mem_;
  std::unique_ptr<pml::Engine> pml_;
  ept::Walker walker_;
  hv::Hypervisor& hv_;
  models::PhysMem& phys_;
  GuestOs* guest_;
  ept::Eptp eptp_;
  ept::Eptp l1_eptp_;      // EPT01: L1's accesses (guest.nested)
  hv::NestedMmu* nested_;  // null unless guest.nested
  bool in_l1_ = false;     // running L1's code (its exits go to L0's own fault path)
  ept::GuestPaging paging_;
  models::TlbContext tctx_;
  std::unique_ptr<traces::Source> source_;
  sim::RunControl& control_;
  // Written by other threads at their synced time.
  unsigned requests_ = 0;
  std::vector<hv::Ack*> acks_;
  bool in_guest_ = true;
  bool check_writes_ = false;          // the dirty-log oracle is on
  bool check_track_ = false;           // the write-track oracle is on
  bool write_emulated_ = false;        // the current write was completed by the hypervisor
  std::uint64_t memslot_retries_ = 0;  // consecutive RET_PF_RETRY exits of the current access
  // The timeline (null: off). Guest-run stretches and guest #PF handlers are
  // spans; an exit inside a #PF handler splits it around the exit.
  Trace* tl_ = nullptr;
  ProgressSink* progress_ = nullptr;  // told of each batch taken from the source
  Cycles run_start_ = 0;              // the last VM entry (or the start)
  bool in_pf_ = false;
  Cycles pf_start_ = 0;  // the current #PF span segment's start
  Addr pf_gva_ = 0;
  std::uint32_t pf_error_ = 0;
  bool finished_ = false;
  // --dump-at: the snapshot times, the next one's index and time (~0: none).
  std::vector<Cycles> snap_times_;
  std::size_t snap_index_ = 0;
  Cycles snap_next_ = ~Cycles{0};
  SnapshotObserver* snap_obs_ = nullptr;
};

}  // namespace vmxsim::cpu
