#include "cpu/vcpu.hpp"
#include "sim/format.hpp"

#include <sstream>

#include "sim/config.hpp"
#include "sim/progress_sink.hpp"
#include "sim/run_control.hpp"

namespace vmxsim::cpu {

namespace {
const char* const kExitNames[] = {"ept_violation", "external_interrupt", "pml_full",
                                  "ept_misconfig", "vmresume",           "vmcs_access"};
const char* const kExitDescriptions[] = {
    "EPT-violation VM exits (reason 48) of this vCPU",
    "external-interrupt VM exits (reason 1) of this vCPU: IPIs for kicks and remote TLB flushes",
    "PML-full VM exits (reason 62) of this vCPU",
    "EPT-misconfiguration VM exits (reason 49) of this vCPU: accesses to KVM's MMIO entries",
    "VMRESUME exits (reason 24) of L1 on this vCPU (guest.nested): L0 emulates the nested VM entry",
    "VMREAD/VMWRITE exits (reasons 23, 25) of L1 on this vCPU (guest.nested without shadow VMCS)"};
const char* const kExitSpans[] = {"exit:ept_violation", "exit:external_interrupt", "exit:pml_full",
                                  "exit:ept_misconfig", "exit:vmresume",           "exit:vmcs_access"};
// What translate() returns for an access a device served (MMIO, or a write
// to a read-only memslot): no RAM was touched, so no oracle hears of it.
constexpr Addr kNoMemory = ~Addr{0};
}  // namespace

VcpuParams VcpuParams::from(const Cfg& cpu) {
  VcpuParams p;
  p.access_cycles = cpu.u64("access_cycles", p.access_cycles);
  p.max_exits_per_access = std::uint32_t(cpu.u64("max_exits_per_access", p.max_exits_per_access));
  p.max_retries_per_access = cpu.u64("max_retries_per_access", p.max_retries_per_access);
  p.interrupt_window_cycles = cpu.u64("interrupt_window_cycles", p.interrupt_window_cycles);
  if (p.interrupt_window_cycles == 0) cpu.fail("interrupt_window_cycles", "expected at least 1");
  if (p.max_exits_per_access == 0) cpu.fail("max_exits_per_access", "expected at least 1");
  return p;
}

Vcpu::Vcpu(sc_core::sc_module_name name, unsigned id, const VcpuParams& p, const VcpuLinks& links,
           std::unique_ptr<traces::Source> source)
    : sc_module(name), id_(id), p_(p), thread_(id, p.quantum), l1_(p.l1), l2_(p.l2), pwc_(p.pwc),
      mem_(p.mem, links.shared_llc), pml_(p.with_pml ? p.pml.make(links.phys) : nullptr), walker_(links.phys, mem_),
      hv_(links.hv), phys_(links.phys), guest_(p.paging ? links.guest : nullptr), eptp_(links.hv.eptp()),
      l1_eptp_(links.hv.l1_eptp()), nested_(links.hv.nested()), source_(std::move(source)), control_(links.control),
      tl_(links.trace), progress_(links.progress) {
  // KVM gives each vCPU its own VPID, allocated from 1 (VPID 0 is the host's).
  tctx_.vpid = std::uint16_t(id + 1);
  tctx_.pcid = guest_ ? 1 : 0;  // one guest process; PCID 0 with paging off
  tctx_.ept = 0;                // one EPT shared by all vCPUs
  if (guest_) {
    paging_.cr3 = guest_->cr3();
    paging_.levels = guest_->levels();
    paging_.ctx = tctx_.key();
    paging_.ept_ctx = tctx_.ept;
  }
  // vmcs02 runs L2 without PML (KVM: PML would log L2 addresses); L1's own
  // accesses use it (l1_access).
  walker_.set_pml(nested_ ? nullptr : pml_.get());
  thread_.set_jitter(p.jitter_cycles, p.seed);
  thread_.set_window(p.interrupt_window_cycles);
  check_writes_ = hv_.checkers().wants_writes();
  // The walker's A/D updates of guest entries are guest-memory writes too.
  if (check_writes_) walker_.set_guest_write_observer(this);
  check_track_ = hv_.checkers().wants_untrapped_writes();
  hv_.requests().attach(id, this);
  SC_THREAD(run);
  set_stack_size(std::size_t(1) << 20);  // hypervisor paths run on this stack too
}

void Vcpu::set_snapshots(std::vector<Cycles> times, SnapshotObserver* obs) {
  snap_times_ = std::move(times);
  snap_obs_ = obs;
  snap_index_ = 0;
  snap_next_ = snap_obs_ && !snap_times_.empty() ? snap_times_[0] : ~Cycles{0};
}

void Vcpu::take_snapshots() {
  // The PML state is also written by the VMM thread (enable, disable), at
  // its time: reach our instant first. observe_sync() leaves the yield plan
  // as it was, so the run stays the one without snapshots.
  thread_.observe_sync();
  while (snap_index_ < snap_times_.size() && snap_times_[snap_index_] <= thread_.now())
    snap_obs_->vcpu_state(*this, snap_index_++);
  snap_next_ = snap_index_ < snap_times_.size() ? snap_times_[snap_index_] : ~Cycles{0};
}

inline void Vcpu::compute_until(Cycles end) {
  // Guest compute up to `end`: sync at every yield point before it (each
  // quantum boundary and interrupt window), so a posted request is taken at
  // its window. (A walk or an exit may have run past the planned yield: sync
  // at once then.)
  while (thread_.next_yield() < end) {
    if (thread_.next_yield() > thread_.now()) thread_.advance(thread_.next_yield() - thread_.now());
    sync();
  }
}

void Vcpu::run() {
  try {
    // workload.start_cycles: the guest waits (halted, as memslot_perf_test's
    // guest spins on its sync page) before its first access; posted requests
    // are still taken at each yield point.
    compute_until(p_.start_cycles);
    if (p_.start_cycles > thread_.now()) thread_.advance(p_.start_cycles - thread_.now());
    if (!(snap_obs_ ? replay<true>() : replay<false>())) return;
    // Finishing is visible to other threads (the VMM waits for it; kicks stop
    // waiting for us), so it happens at our exact time.
    thread_.sync();
    service_requests();  // a poster may be waiting for our acknowledgement
  } catch (...) {
    control_.fail(std::current_exception());
  }
  in_guest_ = false;  // finished: no longer waited for by kicks
  if (tl_ && thread_.now() > run_start_) tl_->span(id_, "guest run", run_start_, thread_.now());
  cycles_guest = thread_.now() - cycles_hypervisor;
  finished_ = true;
  // The finish is this vCPU's last boundary (docs/inspect.md, "Timing").
  if (snap_obs_ && !control_.stopping() && snap_next_ <= thread_.now()) take_snapshots();
  control_.finished(id_, thread_.now());
}

template <bool kSnapshots>
bool Vcpu::replay() {
  std::array<Access, 256> buf;
  for (std::size_t n; (n = source_->next(buf.data(), buf.size())) != 0;) {
    if (progress_) progress_->advance(n);  // per batch: nothing per access
    for (std::size_t i = 0; i < n; ++i) {
      if constexpr (kSnapshots)  // an access boundary: the previous access has retired
        if (__builtin_expect(thread_.now() >= snap_next_, 0)) take_snapshots();
      const Access& a = buf[i];
      // The gap is guest compute: sync at every yield point inside it (each
      // quantum boundary and interrupt window), so a request posted
      // meanwhile is taken at its window, as the IPI would interrupt the
      // guest; and before the access.
      const Cycles end = thread_.now() + a.gap + p_.access_cycles;
      compute_until(end);
      thread_.advance(end - thread_.now());
      if (thread_.yield_due()) sync();
      ++accesses;
      const Addr hpa = translate(a.addr, a.type);
      // An access that crosses a 4 KiB boundary needs the next page too.
      const Addr last = a.addr + (a.size ? a.size - 1 : 0);
      const bool crosses = (last >> kPageShift4K) != (a.addr >> kPageShift4K);
      const Addr hpa2 = crosses ? translate(last & ~(kPageSize4K - 1), a.type) : 0;
      if (a.type == AccessType::Write && check_writes_) {  // the dirty-log oracle
        if (hpa != kNoMemory) hv_.checkers().guest_write(id_, hpa, thread_.now());
        if (crosses && hpa2 != kNoMemory) hv_.checkers().guest_write(id_, hpa2, thread_.now());
      }
      if (a.type == AccessType::Write && check_track_) check_tracked_write(hpa, crosses ? hpa2 : hpa);
      if (control_.stopping()) return false;
    }
  }
  return true;
}

void Vcpu::sync() {
  thread_.sync();
  // A posted IPI interrupts the guest at the next interrupt window (see
  // sim::SimThread::set_window): a fixed grid, so the same at any quantum.
  if (thread_.take_window() && requests_) take_requests();
}

Addr Vcpu::translate(Addr va, AccessType type) {
  // A hit serves the access if it grants the permission and, for a write,
  // the cached translation is already dirty; otherwise the walker must run
  // (to re-check permissions or to set D), as on real hardware.
  const std::uint8_t need = std::uint8_t(ept::needed_perm(type));
  const bool write = type == AccessType::Write;
  if (const models::TlbEntry* e = l1_.lookup(tctx_, va)) {
    thread_.advance(l1_.hit_cycles());
    if ((e->perms & need) && (!write || e->dirty)) return e->translate(va);
    ++hit_rewalks;
  } else {
    const models::TlbEntry* e2 = l2_.lookup(tctx_, va);
    thread_.advance(l2_.hit_cycles());  // the STLB lookup latency, hit or miss
    if (e2) {
      if ((e2->perms & need) && (!write || e2->dirty)) {
        const models::TlbEntry copy = *e2;
        l1_.fill(tctx_, va, copy);
        return copy.translate(va);
      }
      ++hit_rewalks;
    }
  }
  return walk_and_fill(va, type);
}

Addr Vcpu::walk_and_fill(Addr va, AccessType type) {
  if (guest_ && !guest_->canonical(va))
    throw Error("vcpu" + std::to_string(id_) + ": GVA " + hex(va) + " is not canonical for " +
                std::to_string(guest_->levels()) + "-level paging (the guest would take #GP)");
  unsigned tries = 0;  // exits and guest faults for this access
  for (;;) {
    sync();  // page-table memory is shared state
    models::TlbEntry e;
    if (guest_) {
      const ept::Walk2d w = walker_.translate_2d(eptp_, paging_, va, type, &pwc_);
      account_walk(w.refs, w.cycles);
      if (w.status == ept::WalkStatus::kEptViolation || w.status == ept::WalkStatus::kEptMisconfig) {
        const hv::FaultOutcome o =
            w.status == ept::WalkStatus::kEptViolation
                ? ept_violation_exit(w.fault_gpa, w.qual, tries)
                : ept_misconfig_exit(w.fault_gpa, w.paging_fault ? AccessType::Read : type, tries);
        if (o.emulated) return emulated(o);
        continue;
      }
      if (w.status == ept::WalkStatus::kPmlFull) {
        pml_full_exit(tries);
        continue;
      }
      if (w.status == ept::WalkStatus::kGuestFault) {
        // A guest #PF is delivered in guest mode: no VM exit with EPT.
        ++guest_faults;
        if (tl_) {
          in_pf_ = true;
          pf_start_ = thread_.now();
          pf_gva_ = va;
          pf_error_ = w.pf_error;
        }
        guest_->handle_fault(thread_, *this, va, type, w.pf_error, id_);
        if (tl_) {
          in_pf_ = false;
          tl_->span(id_, "guest #PF", pf_start_, thread_.now(),
                    TraceArgs().hex("gva", pf_gva_).hex("error", pf_error_).str());
        }
        if (++tries > p_.max_exits_per_access)
          throw Error("vcpu" + std::to_string(id_) + ": GVA " + hex(va) + " still faults after " +
                      std::to_string(p_.max_exits_per_access) +
                      " guest faults and VM exits (cpu.max_exits_per_access)");
        continue;
      }
      e = models::TlbEntry::of_walk(w.hpa, w.page_shift, w.perms, w.dirty);
    } else {
      const ept::EptWalk w = walker_.translate(eptp_, va, type);
      account_walk(w.refs, w.cycles);
      if (!w.ok) {
        if (w.pml_full) {
          pml_full_exit(tries);
          continue;
        }
        const hv::FaultOutcome o =
            w.misconfig ? ept_misconfig_exit(va, type, tries) : ept_violation_exit(va, w.qual, tries);
        if (o.emulated) return emulated(o);
        continue;
      }
      e = models::TlbEntry::of_walk(w.hpa, w.page_shift, w.perms, w.dirty);
    }
    l2_.fill(tctx_, va, e);
    l1_.fill(tctx_, va, e);
    return e.translate(va);
  }
}

void Vcpu::check_tracked_write(Addr hpa, Addr hpa2) {
  // The write-track oracle: a write that completed without the hypervisor
  // emulating it. Whether its page is tracked is shared state: sync first
  // (this never takes requests, so the check does not perturb the run).
  const bool emulated = write_emulated_;
  write_emulated_ = false;
  if (emulated) return;  // (a page-crossing write counts as emulated if either half was)
  const auto check = [this](Addr h) {
    if (!hv_.checkers().track_watches_hpa(h)) return;
    thread_.sync();
    hv_.checkers().untrapped_write(thread_, id_, h);
  };
  check(hpa);
  if (hpa2 != hpa) check(hpa2);
}

void Vcpu::account_walk(std::uint32_t refs, Cycles cycles) {
  ++walks;
  walk_refs += refs;
  walk_cycles += cycles;
  walk_refs_hist.add(refs);
  walk_cycles_hist.add(cycles);
  thread_.advance(cycles);
}

Addr Vcpu::emulated(const hv::FaultOutcome& o) {
  // The hypervisor completed the access (a write-tracked page, or a device):
  // nothing is cached, and the write-track oracle must not count it as
  // untrapped.
  write_emulated_ = true;
  return o.mmio ? kNoMemory : o.hpa;
}

void Vcpu::count_exit(Addr gpa, unsigned& tries) const {
  if (++tries > p_.max_exits_per_access)
    throw Error("vcpu" + std::to_string(id_) + ": the access to GPA " + hex(gpa) + " still faults after " +
                std::to_string(p_.max_exits_per_access) +
                " VM exits (cpu.max_exits_per_access); the hypervisor is not resolving it");
}

hv::FaultOutcome Vcpu::ept_misconfig_exit(Addr gpa, AccessType type, unsigned& tries) {
  count_exit(gpa, tries);
  // Reason 49 invalidates the faulting GPA's guest-physical mappings as an
  // EPT violation does (SDM §28.3.3.1).
  pwc_.invalidate_ept_addr(tctx_.ept, gpa);
  hv::FaultOutcome out;
  vm_exit(
      Exit::kEptMisconfig,
      [&] {
        out = hv_.exits().handle_ept_misconfig(thread_, id_, gpa, type);
        return out.logging;
      },
      gpa, 0);
  return out;
}

hv::FaultOutcome Vcpu::ept_violation_exit(Addr gpa, std::uint64_t qual, unsigned& tries, const std::uint64_t* store) {
  count_exit(gpa, tries);
  // VM exit (reason 48), handler, VM entry; the access then retries. The
  // exit invalidates the guest-physical mappings that would translate the
  // faulting GPA (SDM §28.3.3.1): a guest page-table page whose A/D update
  // faulted (EPT A/D off) is in the EPT walk cache without W. Nothing else
  // is cached: the walk that faulted filled nothing.
  pwc_.invalidate_ept_addr(tctx_.ept, gpa);
  hv::FaultOutcome out;
  vm_exit(
      Exit::kEptViolation,
      [&] {
        if (nested_ && !in_l1_) {
          out = hv_.exits().handle_l2_ept_violation(thread_, id_, gpa, qual);
        } else {
          out = hv_.exits().handle_ept_violation(thread_, id_, gpa, qual);
          if (store && out.emulated && !out.mmio) {
            // x86_emulate_instruction completes L1's store; kvm_mmu_track_write
            // then zaps the shadow entries of the EPT12 entry it wrote.
            thread_.sync();
            phys_.write(out.hpa, *store);
            if (check_writes_) hv_.checkers().guest_write(id_, out.hpa, thread_.now());
            if (nested_) nested_->track_write(thread_, gpa);
          }
        }
        return out.logging;
      },
      gpa, qual);
  if (out.reflect) nested_reflect(gpa, out.reflect_qual);
  if (out.retry) {
    // RET_PF_RETRY on a slot being changed: KVM re-enters and the access
    // faults again until the VMM's change is done; not a hypervisor failure,
    // so it has its own, larger guard.
    --tries;
    if (++memslot_retries_ > p_.max_retries_per_access)
      throw Error("vcpu" + std::to_string(id_) + ": the access to GPA " + hex(gpa) + " retried " +
                  std::to_string(p_.max_retries_per_access) +
                  " times on a memslot being deleted or moved (cpu.max_retries_per_access)");
  } else {
    memslot_retries_ = 0;
  }
  return out;
}

void Vcpu::nested_reflect(Addr l2_gpa, std::uint64_t qual) {
  // L0 entered L1 with the nested EPT violation (that exit's entry).
  const Cycles t0 = thread_.now();
  ++reflections;
  in_l1_ = true;
  hv_.l1()->handle_ept_violation(*this, id_, l2_gpa, qual);
  // L1's VMRESUME traps; L0 emulates the nested VM entry back into L2.
  vm_exit(Exit::kVmresume, [this] {
    nested_->vmresume(thread_);
    return false;
  });
  in_l1_ = false;
  cycles_l1 += thread_.now() - t0;
}

void Vcpu::l1_vmcs_access() {
  if (nested_->params().shadow_vmcs) {
    thread_.advance(nested_->params().costs.vmcs_shadowed);
    return;
  }
  vm_exit(Exit::kVmcsAccess, [this] {
    nested_->vmcs_access(thread_);
    return false;
  });
}

std::uint64_t Vcpu::l1_access(Addr l1_gpa, bool write, std::uint64_t value) {
  // L1's kernel reaches its memory through its direct map, translated by
  // EPT01 (no TLB is modelled for it: each access walks, as write_gpa's).
  unsigned tries = 0;
  for (;;) {
    sync();
    walker_.set_pml(pml_.get());
    const ept::EptWalk w = walker_.translate(l1_eptp_, l1_gpa, write ? AccessType::Write : AccessType::Read);
    walker_.set_pml(nullptr);
    ++l1_walks;
    thread_.advance(w.cycles);
    if (w.ok) {
      thread_.sync();  // L1's memory is shared (L0 reads EPT12 from it)
      if (!write) return phys_.read(w.hpa);
      phys_.write(w.hpa, value);
      if (check_writes_) hv_.checkers().guest_write(id_, w.hpa, thread_.now());
      return value;
    }
    if (w.pml_full) {
      pml_full_exit(tries);
      continue;
    }
    if (w.misconfig)
      throw Error("vcpu" + std::to_string(id_) + ": L1's access to its own memory at L1 GPA " + hex(l1_gpa) +
                  " found an EPT misconfiguration in EPT01; L1's EPT12 tables must be in RAM");
    const hv::FaultOutcome o = ept_violation_exit(l1_gpa, w.qual, tries, write ? &value : nullptr);
    if (o.mmio)
      throw Error("vcpu" + std::to_string(id_) + ": L1's access to L1 GPA " + hex(l1_gpa) +
                  " went to a device or a read-only memslot; L1's EPT12 tables must be in RAM");
    if (o.emulated) {
      if (write) return value;  // the exit's handler stored it
      thread_.sync();
      return phys_.read(o.hpa);
    }
  }
}

void Vcpu::pml_full_exit(unsigned& tries) {
  if (++tries > p_.max_exits_per_access)
    throw Error("vcpu" + std::to_string(id_) + ": PML-full exits repeat (cpu.max_exits_per_access)");
  // Reason 62. The drain at the start of the exit empties the log; KVM's
  // handle_pml_full() itself only fixes NMI blocking. The access re-executes.
  vm_exit(Exit::kPmlFull, [] { return true; });
}

template <class Handler>
void Vcpu::vm_exit(Exit reason, Handler handler, Addr gpa, std::uint64_t qual) {
  ++exits[unsigned(reason)];
  // Whether we are in guest mode is read by other threads' kicks: change it
  // at our exact time (shared-state rule), on exit and on entry.
  thread_.sync();
  in_guest_ = false;
  hv_.srcu().read_lock(thread_);  // vcpu_run holds kvm->srcu outside guest mode
  const Cycles start = thread_.now();
  const unsigned requests = requests_;  // for the timeline
  if (tl_) {
    if (start > run_start_) tl_->span(id_, "guest run", run_start_, start);
    if (in_pf_)  // the guest's #PF handler is interrupted: end its segment here
      tl_->span(id_, "guest #PF", pf_start_, start, TraceArgs().hex("gva", pf_gva_).hex("error", pf_error_).str());
  }
  const hv::HvCosts& c = hv_.costs();
  thread_.advance(c.vm_exit);
  hv_.exits().on_vm_exit(thread_, *this);  // KVM flushes the PML buffer at every exit
  const bool logging = handler();
  service_requests();  // KVM handles pending requests before re-entering
  thread_.advance(c.vm_entry);
  thread_.sync();
  // vcpu_enter_guest() sets IN_GUEST_MODE, then re-checks requests: one posted
  // while we were outside guest mode (its poster did not wait for us) is
  // taken now, or the guest would run on a TLB the poster thinks is flushed.
  while (requests_) service_requests();
  thread_.take_window();
  hv_.srcu().read_unlock(thread_);  // dropped just before entering the guest
  in_guest_ = true;
  cycles_hypervisor += thread_.now() - start;
  if (logging) cycles_dirty_logging += thread_.now() - start;
  if (tl_) {
    TraceArgs args;
    if (gpa != ~Addr{0}) args.hex("gpa", gpa).hex("qual", qual);
    if (reason == Exit::kExternalInterrupt)
      args.flag("tlb_flush", requests & hv::kRequestTlbFlush).flag("kick", requests & hv::kRequestKick);
    args.flag("dirty_logging", logging);
    tl_->span(id_, kExitSpans[unsigned(reason)], start, thread_.now(), args.str());
    run_start_ = pf_start_ = thread_.now();
  }
}

Addr Vcpu::write_gpa(Addr gpa) {
  // The guest kernel stores to its page tables through EPT like any access
  // (its own TLB use is not modelled): a first touch of a page-table page
  // takes an EPT-violation exit.
  unsigned tries = 0;
  for (;;) {
    sync();
    const ept::EptWalk w = walker_.translate(eptp_, gpa, AccessType::Write);
    ++guest_kernel_walks;
    thread_.advance(w.cycles);
    if (w.ok) {
      if (check_writes_) hv_.checkers().guest_write(id_, w.hpa, thread_.now());  // the dirty-log oracle
      return w.hpa;
    }
    if (w.pml_full) {
      pml_full_exit(tries);
      continue;
    }
    const hv::FaultOutcome o =
        w.misconfig ? ept_misconfig_exit(gpa, AccessType::Write, tries) : ept_violation_exit(gpa, w.qual, tries);
    if (o.mmio)
      throw Error("vcpu" + std::to_string(id_) + ": the guest kernel's page-table store to GPA " + hex(gpa) +
                  " went to a device or a read-only memslot; guest page tables must be in RAM");
    if (o.emulated) {  // the hypervisor did the store (a write-tracked page table)
      if (check_writes_) hv_.checkers().guest_write(id_, o.hpa, thread_.now());
      return o.hpa;
    }
  }
}

void Vcpu::walker_wrote(Addr hpa) { hv_.checkers().guest_write(id_, hpa, thread_.now()); }

// ---- invalidation ----------------------------------------------------------

void Vcpu::invept_single(std::uint16_t ept) {
  // Combined and guest-physical mappings of that EPT, and the paging-structure
  // cache entries derived from it.
  ++tlb_flushes;
  l1_.invalidate_ept(ept);
  l2_.invalidate_ept(ept);
  pwc_.invalidate_ept(ept);
}

void Vcpu::invvpid_addr(std::uint16_t vpid, Addr gva) {
  l1_.invalidate_addr(vpid, gva);
  l2_.invalidate_addr(vpid, gva);
  pwc_.invalidate_addr(vpid, gva);
}

void Vcpu::invvpid_single(std::uint16_t vpid) {
  l1_.invalidate_vpid(vpid);
  l2_.invalidate_vpid(vpid);
  pwc_.invalidate_vpid(vpid);
}

void Vcpu::invvpid_all() {
  l1_.invalidate_all();
  l2_.invalidate_all();
  pwc_.invalidate_all();
}

void Vcpu::post_request(unsigned bits, hv::Ack* ack) {
  // Called by another thread at its synced time (KVM: kvm_make_request +
  // kick). We take it at our next sync, which the lazy-sync rule guarantees is
  // no earlier than the posting time, or before our next VM entry.
  requests_ |= bits;
  if (ack) acks_.push_back(ack);
}

void Vcpu::take_requests() {
  // The kick is an IPI that exits guest mode (external interrupt); the exit
  // drains PML and the requests are serviced before re-entering.
  vm_exit(Exit::kExternalInterrupt, [] { return true; });
}

void Vcpu::service_requests() {
  if (!requests_) return;
  if (requests_ & hv::kRequestTlbFlush) {
    ++remote_flushes_taken;
    const Cycles t0 = thread_.now();
    thread_.charge(hv_.costs().tlb_flush);
    flush_tlb_local();
    if (tl_) tl_->span(id_, "tlb flush", t0, thread_.now());
  }
  requests_ = 0;
  thread_.sync();  // acknowledging touches the poster's state
  for (hv::Ack* a : acks_) a->done(thread_.now());
  acks_.clear();
}

void Vcpu::register_stats(Stats& s) const {
  const std::string p = "vcpu" + std::to_string(id_);
  s.counter(p + ".accesses", &accesses, "accesses", "accesses this vCPU retired from its stream");
  l1_.register_stats(s, p + ".tlb.l1");
  l2_.register_stats(s, p + ".tlb.l2");
  s.counter(p + ".tlb.flushes", &tlb_flushes, "flushes",
            "INVEPT single- or all-context flushes of this vCPU's TLBs and paging-structure caches");
  s.counter(p + ".tlb.remote_flushes", &remote_flushes_taken, "requests",
            "remote TLB-flush requests this vCPU serviced (posted by another thread, taken at an exit or sync)");
  pwc_.register_stats(s, p + ".pwc");
  mem_.register_stats(s, p + ".mem");
  s.counter(p + ".walks", &walks, "walks",
            "page walks on a TLB miss or rewalk: 2D guest x EPT with guest paging on, EPT alone with it off");
  s.counter(p + ".walk.refs", &walk_refs, "refs",
            "memory references the walks in .walks made (guest paging entries and every EPT entry read)");
  s.counter(p + ".walk.cycles", &walk_cycles, "cycles",
            "cycles the walks in .walks took: the latency of their memory references");
  s.histogram(p + ".walk.refs_hist", &walk_refs_hist, "refs",
              "memory references per walk (linear buckets, the last 39+)");
  s.histogram(p + ".walk.cycles_hist", &walk_cycles_hist, "cycles", "cycles per walk (log2 buckets)");
  s.counter(p + ".walk.hit_rewalks", &hit_rewalks, "walks",
            "walks after a TLB hit that lacked the permission, or the dirty flag for a write");
  s.counter(p + ".walk.a_set", &walker_.a_set, "flags", "EPT accessed flags this vCPU's walks set (0 to 1)");
  s.counter(p + ".walk.d_set", &walker_.d_set, "flags", "EPT dirty flags this vCPU's walks set (0 to 1)");
  s.counter(p + ".walk.guest_a_set", &walker_.guest_a_set, "flags",
            "guest paging-entry accessed flags this vCPU's walks set (0 to 1)");
  s.counter(p + ".walk.guest_d_set", &walker_.guest_d_set, "flags",
            "guest paging-entry dirty flags this vCPU's walks set (0 to 1)");
  s.counter(p + ".guest.page_faults", &guest_faults, "faults",
            "guest page faults this vCPU took (delivered in guest mode, no VM exit)");
  s.counter(p + ".guest.kernel_ept_walks", &guest_kernel_walks, "walks",
            "EPT walks of the guest kernel's stores to its page tables from this vCPU");
  for (unsigned r = 0; r < unsigned(Exit::kCount); ++r)
    if (nested_ || (r != unsigned(Exit::kVmresume) && r != unsigned(Exit::kVmcsAccess)))
      s.counter(p + ".exits." + kExitNames[r], &exits[r], "exits", kExitDescriptions[r]);
  if (nested_) {
    s.counter(p + ".nested.reflections", &reflections, "exits",
              "nested EPT violations L0 reflected to L1 on this vCPU (guest.nested)");
    s.counter(p + ".nested.cycles_l1", &cycles_l1, "cycles",
              "cycles this vCPU ran L1's handler for reflected exits, its own exits and VMRESUME included");
    s.counter(p + ".nested.l1_walks", &l1_walks, "walks", "EPT01 walks of L1's loads and stores on this vCPU");
  }
  s.counter(p + ".cycles.guest", &cycles_guest, "cycles", "this vCPU's cycles outside VM exits, up to its finish");
  s.counter(p + ".cycles.hypervisor", &cycles_hypervisor, "cycles",
            "this vCPU's cycles in VM exits, from exit to entry (handlers, requests, exit and entry costs)");
  s.counter(p + ".cycles.dirty_logging", &cycles_dirty_logging, "cycles",
            "the part of cycles.hypervisor in exits dirty logging caused (write-protection faults, PML full, IPIs)");
  if (pml_) pml_->register_stats(s, p + ".pml");
  s.counter(p + ".host.kernel_waits", &thread_.kernel_waits, "waits",
            "syncs of this vCPU's thread that waited in the SystemC kernel (a host cost, not simulated time)");
}

}  // namespace vmxsim::cpu
