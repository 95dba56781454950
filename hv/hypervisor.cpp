#include "hv/hypervisor.hpp"

#include <sstream>

#include "sim/exec_context.hpp"
#include "models/phys_mem.hpp"
#include "pml/engine.hpp"
#include "sim/config.hpp"
#include "sim/error.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

using namespace vmxsim::ept;

void Ack::done(Cycles t) {
  if (pending && --pending == 0 && waiter) waiter->wake(t + 1);
}

HvCosts HvCosts::from(const Cfg& c) {
  HvCosts k;
  k.vm_exit = c.u64("vm_exit", k.vm_exit);
  k.vm_entry = c.u64("vm_entry", k.vm_entry);
  k.ept_violation = c.u64("ept_violation", k.ept_violation);
  k.memslot_lookup = c.u64("memslot_lookup", k.memslot_lookup);
  k.memslot_step = c.u64("memslot_step", k.memslot_step);
  k.gfn_to_pfn = c.u64("gfn_to_pfn", k.gfn_to_pfn);
  k.ipi_send = c.u64("ipi_send", k.ipi_send);
  k.tlb_flush = c.u64("tlb_flush", k.tlb_flush);
  k.fast_pf_walk = c.u64("fast_pf_walk", k.fast_pf_walk);
  k.fast_pf_cmpxchg = c.u64("fast_pf_cmpxchg", k.fast_pf_cmpxchg);
  k.barrier = c.u64("barrier", k.barrier);
  k.emulate_write = c.u64("emulate_write", k.emulate_write);
  return k;
}

HvParams HvParams::from(const Cfg& hv, const Cfg& ept, const Cfg& check) {
  HvParams p;
  const Cfg costs = hv.section("costs");
  p.costs = HvCosts::from(costs);
  p.lock = LockCosts::from(costs);
  p.mmu_lock = hv.choice("mmu_lock", "rw", {"rw", "spin"}) == "rw" ? LockKind::kRw : LockKind::kSpin;
  p.fault_path = hv.choice("fault_path", p.fault_path, FaultPathRegistry::instance().names());
  p.spte_id_unique = hv.section("spte_id").boolean("unique", p.spte_id_unique);
  p.lockless_delay = hv.u64("lockless_delay_cycles", p.lockless_delay);
  p.page_track = PageTrackParams::from(hv, check);
  p.mmu = MmuParams::from(ept, hv.section("mmu"), costs);
  p.dirty_log = DirtyLogParams::from(hv.section("dirty_log"), costs);
  p.memslots = MemslotSpec::from(hv);
  p.oracle = check.boolean("dirty_log", p.oracle);
  if (p.dirty_log.mode == "pml" && !p.mmu.ad)
    hv.section("dirty_log").fail("mode", "\"pml\" needs EPT accessed/dirty flags (ept.ad: true)");
  return p;
}

Hypervisor::Hypervisor(const HvParams& p, models::PhysMem& mem)
    : p_(p), mem_(mem), mmu_(mem, p.mmu), mmu_lock_("mmu_lock", p.lock, p.mmu_lock), dirty_(p.dirty_log),
      oracle_(p.oracle), track_(p.page_track), rcu_(mem) {
  std::uint32_t id = 0;
  for (const auto& spec : p_.memslots) {
    Memslot s;
    s.id = id++;
    s.gpa = spec.gpa;
    s.size = spec.size;
    s.backing_shift = spec.backing_shift;
    s.hpa = mem_.alloc_data(spec.size, Addr{1} << spec.backing_shift);
    slots_.add(s);
  }
  dirty_.attach(slots_);
  fault_path_ = FaultPathRegistry::instance().configure(p_.fault_path, "hv.fault_path", Cfg::detached(), SystemInfo{})();
}

const Memslot* Hypervisor::lookup(ExecContext& ctx, Addr gpa) {
  ctx.sync();  // memslots are shared
  unsigned steps = 0;
  const Memslot* slot = slots_.find(gpa, steps);
  ctx.charge(p_.costs.memslot_lookup + steps * p_.costs.memslot_step);
  return slot;
}

FaultOutcome Hypervisor::handle_ept_violation(ExecContext& ctx, unsigned vcpu, Addr gpa, std::uint64_t qual) {
  ++ept_violations;
  // The faulting access as the exit qualification reports it (KVM derives the
  // fault's error code from it): a guest paging-structure access with EPT A/D
  // on is a write even when the instruction only reads.
  const AccessType type = (qual & qual::kWrite) ? AccessType::Write
                          : (qual & qual::kFetch) ? AccessType::Exec
                                                  : AccessType::Read;
  ctx.charge(p_.costs.ept_violation);
  const Memslot* slot = lookup(ctx, gpa);
  if (!slot) {
    std::ostringstream m;
    m << "vcpu" << vcpu << ": EPT violation on " << (type == AccessType::Write ? "write" : type == AccessType::Exec ? "fetch" : "read")
      << " of GPA 0x" << std::hex << gpa << " (exit qualification 0x" << qual << std::dec
      << ") at cycle " << ctx.now()
      << ": no memslot covers this GPA, so the hypervisor cannot resolve the exit (KVM would "
         "exit to userspace as MMIO and this model has no device there); add a slot covering "
         "it to hv.memslots or keep the workload inside guest memory";
    throw Error(m.str());
  }
  const FaultOutcome out = fault_path_->handle(ctx, *this, vcpu, *slot, gpa, type);
  if (out.emulated && (qual & qual::kGlaValid) && !(qual & qual::kFinalTranslation)) {
    std::ostringstream m;
    m << "vcpu" << vcpu << ": the guest page walker's accessed/dirty update of GPA 0x" << std::hex << gpa
      << std::dec << " at cycle " << ctx.now()
      << " hit a write-tracked page (hv.page_track); tracking a guest page-table page is not modelled: "
         "track data pages only";
    throw Error(m.str());
  }
  return out;
}

FaultOutcome Hypervisor::slow_path(ExecContext& ctx, unsigned /*vcpu*/, const Memslot& slot, Addr gpa,
                                   AccessType type) {
  ++slow_faults_;
  const bool write = type == AccessType::Write;
  // page_fault_handle_page_track(): a write to a write-tracked page is
  // emulated before anything else, without the lock or the host page.
  ctx.sync();  // the flag is shared
  if (write && track_.tracked(gpa)) return emulate_write(ctx, slot, gpa);
  // kvm_faultin_pfn(): the host page, before taking mmu_lock, on every fault.
  ctx.charge(p_.costs.gfn_to_pfn);
  // KVM's TDP MMU resolves faults holding mmu_lock for read: entries change
  // by compare-and-exchange, and each change here happens at one instant.
  mmu_lock_.acquire(ctx, LockMode::kRead);
  FaultOutcome out;
  bool emulate = false;  // after the lock, as KVM emulates once the fault handler returns
  const Leaf leaf = mmu_.find_leaf(gpa);
  const bool logged = dirty_.logged(gpa);
  const bool tracked = track_.tracked(gpa);
  if (leaf.level) mmu_.charge_walk(ctx, leaf.level);  // kvm_tdp_mmu_map's iterator down to the leaf
  if (leaf.level && write && !(leaf.value & kWrite)) {
    // Re-checked under the lock, as make_spte's mmu_try_to_unsync_pages does:
    // a page-track add may have run since the check above (the jittered
    // track_race sweep finds that interleaving).
    if (tracked) emulate = true;
    else out.logging = handle_write_protected(ctx, gpa);
  } else if (!leaf.level) {
    const Cycles t0 = ctx.now();
    MapResult r;
    // A dirty-logged slot is mapped with 4 KiB pages only (KVM disallows huge
    // pages there), and so is any huge region holding a write-tracked page.
    // Under write-protection logging, a read maps the page read-only and a
    // write maps it writable and marks it dirty; under PML the page is
    // writable and clean, so its first write is logged. A tracked page is
    // mapped read-only and not MMU-writable, and a write to it is emulated.
    const unsigned cap = track_.max_level(gpa, logged ? 1 : 3);
    if (tracked) {  // read-only and not MMU-writable; a write (tracked since the check above) is emulated
      r = mmu_.map(ctx, slot, gpa, 1, false, false);
      if (r.installed) mmu_.update(mmu_.find_leaf(gpa).at, 0, kMmuWritable);
      emulate = write;
    } else if (logged && !dirty_.pml()) {
      r = mmu_.map(ctx, slot, gpa, 1, write, write);
      if (write) {
        ctx.charge(dirty_.params().mark_page);
        dirty_.mark(gpa);
      }
    } else {
      r = mmu_.map(ctx, slot, gpa, cap, true, !logged);
    }
    if (tl_)
      tl_->span(ctx.thread_id(), "map", t0, ctx.now(),
                TraceArgs().hex("gpa", gpa).num("level", r.level).flag("installed", r.installed).str());
  }
  // else: another vCPU resolved it first (a spurious fault).
  mmu_lock_.release(ctx);
  return emulate ? emulate_write(ctx, slot, gpa) : out;
}

FaultOutcome Hypervisor::emulate_write(ExecContext& ctx, const Memslot& slot, Addr gpa) {
  // kvm_mmu_page_fault → x86_emulate_instruction: the write goes through
  // kvm_write_guest, which marks the page dirty, and the page stays protected.
  const Cycles t0 = ctx.now();
  ++track_.emulated;
  ctx.charge(p_.costs.emulate_write);
  mark_dirty(ctx, gpa);
  if (tl_) tl_->span(ctx.thread_id(), "emulate write", t0, ctx.now(), TraceArgs().hex("gpa", gpa).str());
  return {dirty_.logged(gpa), true, slot.hpa + (gpa - slot.gpa)};
}

Leaf Hypervisor::split_to_4k(ExecContext& ctx, Addr gpa,
                             const std::function<std::uint64_t(std::uint64_t, unsigned)>& child) {
  Leaf leaf = mmu_.find_leaf(gpa);
  while (leaf.level > 1) {
    const unsigned child_level = leaf.level - 1;
    const Cycles t0 = ctx.now();
    mmu_.split(ctx, leaf, [&child, child_level](std::uint64_t parent) { return child(parent, child_level); });
    if (tl_)
      tl_->span(ctx.thread_id(), "split", t0, ctx.now(),
                TraceArgs().hex("gpa", leaf.gpa).num("level", leaf.level).str());
    leaf = mmu_.find_leaf(gpa);
  }
  return leaf;
}

bool Hypervisor::handle_write_protected(ExecContext& ctx, Addr gpa) {
  ++wp_faults;
  const bool pml = dirty_.pml();
  // A huge page write-protected for logging is split on the write fault, as
  // KVM (tdp_mmu_split_huge_page) and Xen do; down to 4 KiB.
  // wp: children stay write-protected. pml: 4 KiB children are writable and
  // clean, so PML logs each one's first write; huge children (from a 1 GiB
  // split) stay write-protected and are split again on their first write — a
  // writable huge child would log only the first 4 KiB page written in it.
  const Leaf leaf = split_to_4k(ctx, gpa, [pml](std::uint64_t parent, unsigned child_level) {
    return pml && child_level == 1 ? ((parent | kWrite) & ~kDirty) : (parent & ~kWrite);
  });
  const bool logged = dirty_.logged(gpa);
  if (leaf.value & kWrite) return logged;  // pml: the split made it writable; the retried write is logged
  // Restore W (and MMU-writable, which a since-removed write track cleared),
  // dropping any spte_id identification; under wp logging also set D and mark
  // the page dirty (fast_pf_fix_direct_spte + mark_page_dirty_in_slot, here
  // under the lock). Under PML, D stays as it is: clean pages are logged.
  ctx.charge(p_.mmu.spte_set);
  mmu_.update(leaf.at, kWrite | kMmuWritable | (pml ? 0 : kDirty), kSpteIdMask);
  mark_dirty(ctx, gpa);
  return logged;
}

void Hypervisor::mark_dirty(ExecContext& ctx, Addr gpa) {
  if (!dirty_.logged(gpa)) return;
  ctx.sync();  // the bitmap is shared
  ctx.charge(dirty_.params().mark_page);
  dirty_.mark(gpa);
}

void Hypervisor::trace_instant(ExecContext& ctx, const char* name, Addr gpa) {
  if (tl_) tl_->instant(ctx.thread_id(), name, ctx.now(), TraceArgs().hex("gpa", gpa).str());
}

void Hypervisor::drain_pml(ExecContext& ctx, pml::Engine& e) {
  if (!e.enabled() || e.pending() == 0) return;
  ++pml_drains;
  // Sync first: the bitmap is shared, and nothing may yield between reading
  // the log and marking the bitmap (another thread's drain could run then).
  ctx.sync();
  const Cycles t0 = ctx.now();
  std::vector<Addr> gpas;
  e.drain(gpas);
  for (Addr gpa : gpas) dirty_.mark(gpa);
  pml_drained += gpas.size();
  ctx.charge(dirty_.params().pml_drain_base + gpas.size() * dirty_.params().pml_drain_entry);
  if (tl_) tl_->span(ctx.thread_id(), "pml drain", t0, ctx.now(), TraceArgs().num("entries", gpas.size()).str());
}

void Hypervisor::on_vm_exit(ExecContext& ctx, VcpuHandle& v) {
  if (pml::Engine* e = v.pml_engine()) drain_pml(ctx, *e);
}

void Hypervisor::attach_vcpu(unsigned id, VcpuHandle* v) {
  if (vcpus_.size() <= id) vcpus_.resize(id + 1, nullptr);
  vcpus_[id] = v;
}

void Hypervisor::kick_all(ExecContext& ctx, int from, unsigned bits) {
  ++kicks;
  ctx.sync();  // the other vCPUs' request flags are shared
  const Cycles t0 = ctx.now();
  Ack ack;
  for (std::size_t i = 0; i < vcpus_.size(); ++i) {
    VcpuHandle* v = vcpus_[i];
    if (!v || int(i) == from) continue;
    // Only a vCPU in guest mode needs an IPI (KVM's kick); the others see the
    // request before their next entry.
    const bool wait = v->in_guest();
    if (wait) {
      ctx.charge(p_.costs.ipi_send);
      ++ack.pending;
    }
    v->post_request(bits, wait ? &ack : nullptr);
  }
  if (from >= 0 && std::size_t(from) < vcpus_.size() && vcpus_[from] && (bits & kRequestTlbFlush)) {
    ctx.charge(p_.costs.tlb_flush);
    vcpus_[from]->flush_tlb_local();
  }
  const unsigned waited = ack.pending;
  if (ack.pending) {
    ack.waiter = &ctx;
    ctx.block();  // woken by the last in-guest vCPU to take the request
  }
  if (tl_)
    tl_->span(ctx.thread_id(), (bits & kRequestTlbFlush) ? "remote tlb flush" : "kick", t0, ctx.now(),
              TraceArgs().num("waited_for", waited).str());
}

void Hypervisor::flush_remote_tlbs(ExecContext& ctx, int from) {
  ++remote_flushes;
  kick_all(ctx, from, kRequestTlbFlush);
}

void Hypervisor::enable_dirty_log(ExecContext& ctx, Addr begin, Addr end) {
  const bool pml = dirty_.pml();
  const Cycles t0 = ctx.now();
  mmu_lock_.acquire(ctx, LockMode::kWrite);  // write-protecting: exclusive
  dirty_.enable(begin, end);
  // kvm_mmu_slot_apply_flags: with PML, clear D on 4 KiB leaves and
  // write-protect huge ones; without, write-protect every leaf.
  mmu_.for_each_leaf(begin, end, [&](const Leaf& l) {
    ctx.charge(dirty_.params().protect_page);
    if (pml && l.level == 1) mmu_.update(l.at, 0, kDirty);
    else mmu_.update(l.at, 0, kWrite);
  });
  for (VcpuHandle* v : vcpus_)
    if (v && pml && v->pml_engine()) v->pml_engine()->enable(true);
  mmu_lock_.release(ctx);
  flush_remote_tlbs(ctx, -1);  // outside mmu_lock, as KVM does
  oracle_.start(begin, end, ctx.now());
  logging_since = ctx.now();
  accesses_at_logging.clear();
  for (VcpuHandle* v : vcpus_) accesses_at_logging.push_back(v ? v->accesses_retired() : 0);
  if (tl_)
    tl_->span(ctx.thread_id(), "enable dirty log", t0, ctx.now(),
              TraceArgs().hex("begin", begin).hex("end", end).text("mode", pml ? "pml" : "wp").str());
}

std::vector<Addr> Hypervisor::get_dirty_log(ExecContext& ctx) {
  // kvm_arch_sync_dirty_log: every vCPU's PML buffer must reach the bitmap.
  // In-guest vCPUs are kicked (their exit drains it); the others are outside
  // guest mode, so their buffers are drained here.
  const Cycles t0 = ctx.now();
  if (dirty_.pml()) {
    kick_all(ctx, -1, kRequestKick);
    for (VcpuHandle* v : vcpus_)
      if (v && !v->in_guest() && v->pml_engine()) drain_pml(ctx, *v->pml_engine());
  }
  ctx.sync();
  std::uint64_t words = 0;
  std::vector<Addr> pages = dirty_.dirty_pages(words);
  ctx.charge(dirty_.params().get_base + words * dirty_.params().get_word);
  if (tl_) tl_->span(ctx.thread_id(), "GET", t0, ctx.now(), TraceArgs().num("pages", pages.size()).str());
  return pages;
}

void Hypervisor::clear_dirty_log(ExecContext& ctx, const std::vector<Addr>& pages) {
  const bool pml = dirty_.pml();
  const Cycles t0 = ctx.now();
  mmu_lock_.acquire(ctx, LockMode::kWrite);
  // kvm_arch_mmu_enable_log_dirty_pt_masked: clear the bits, re-protect the
  // 4 KiB leaves (D under PML, W otherwise).
  for (Addr gpa : pages) {
    dirty_.clear(gpa);
    const Leaf l = mmu_.find_leaf(gpa);
    ctx.charge(dirty_.params().protect_page);
    if (!l.level) continue;
    if (pml && l.level == 1) mmu_.update(l.at, 0, kDirty);
    else mmu_.update(l.at, 0, kWrite);
  }
  mmu_lock_.release(ctx);
  if (dirty_.params().clear_flush) flush_remote_tlbs(ctx, -1);
  for (Addr gpa : pages) oracle_.copy(gpa, ctx.now());
  if (tl_) tl_->span(ctx.thread_id(), "CLEAR", t0, ctx.now(), TraceArgs().num("pages", pages.size()).str());
}

void Hypervisor::disable_dirty_log(ExecContext& ctx) {
  const Cycles t0 = ctx.now();
  const Addr begin = dirty_.begin(), end = dirty_.end();
  mmu_lock_.acquire(ctx, LockMode::kWrite);
  dirty_.disable();
  for (VcpuHandle* v : vcpus_)
    if (v && v->pml_engine()) v->pml_engine()->enable(false);
  std::vector<Addr> unlinked;
  mmu_.zap_collapsible(ctx, begin, end, [this](Addr gpa, unsigned level) {
    unsigned steps = 0;
    const Memslot* s = slots_.find(gpa, steps);
    const Addr size = Addr{1} << level_shift(level);
    return s && mmu_.max_level(*s, gpa) >= level && !track_.tracked_in(gpa, gpa + size);
  }, unlinked);
  mmu_lock_.release(ctx);
  flush_remote_tlbs(ctx, -1);  // no vCPU may still walk through the unlinked tables
  const std::size_t n = unlinked.size();
  rcu_.call(ctx, std::move(unlinked));
  if (tl_)
    tl_->span(ctx.thread_id(), "disable dirty log", t0, ctx.now(), TraceArgs().num("tables_unlinked", n).str());
}

void Hypervisor::add_page_track(ExecContext& ctx, std::size_t range) {
  const PageTrackSpec& r = track_.ranges().at(range);
  const Cycles t0 = ctx.now();
  const bool pml = dirty_.pml();
  ++track_.adds;
  mmu_lock_.acquire(ctx, LockMode::kWrite);
  // The flag first, then a full barrier, then the entries: a lockless path
  // that checks the flag after changing the entry sees one or the other.
  track_.set(range, true);
  ctx.charge(p_.costs.barrier);
  const std::uint64_t clear = fault_path_->track_protect_clear();
  for (Addr gpa = r.gpa; gpa < r.gpa + r.size; gpa += kPageSize4K) {
    ctx.charge(dirty_.params().protect_page);
    if (!mmu_.find_leaf(gpa).level) continue;
    // KVM disallows huge pages over a tracked page: split to 4 KiB, each
    // child as its parent (clean under PML, so a logged child's next write is logged).
    const Leaf l = split_to_4k(ctx, gpa, [pml](std::uint64_t parent, unsigned) {
      return pml ? parent & ~kDirty : parent;
    });
    mmu_.update(l.at, 0, clear);
  }
  mmu_lock_.release(ctx);
  flush_remote_tlbs(ctx, -1);
  track_.enforce(range, true);
  if (tl_)
    tl_->span(ctx.thread_id(), "page-track add", t0, ctx.now(),
              TraceArgs().hex("gpa", r.gpa).hex("size", r.size).str());
}

void Hypervisor::remove_page_track(ExecContext& ctx, std::size_t range) {
  const Cycles t0 = ctx.now();
  ++track_.removes;
  mmu_lock_.acquire(ctx, LockMode::kWrite);
  track_.enforce(range, false);
  track_.set(range, false);
  mmu_lock_.release(ctx);
  if (tl_) tl_->span(ctx.thread_id(), "page-track remove", t0, ctx.now(), TraceArgs().hex("gpa", track_.ranges()[range].gpa).str());
}

void Hypervisor::note_untrapped_write(ExecContext& ctx, unsigned vcpu, Addr hpa) {
  const Memslot* s = slots_.find_hpa(hpa);
  if (!s) return;
  const Addr gpa = s->gpa + (hpa - s->hpa);
  const std::uint64_t before = track_.bypassed;
  track_.write(vcpu, gpa, ctx.now());
  if (tl_ && track_.bypassed != before)
    tl_->instant(ctx.thread_id(), "oracle: track bypassed", ctx.now(), TraceArgs().hex("gpa", gpa).str());
}

void Hypervisor::register_stats(Stats& s) const {
  s.counter("hv.ept_violations", &ept_violations);
  s.counter("hv.remote_flushes", &remote_flushes);
  s.counter("hv.kicks", &kicks);
  s.counter("hv.wp_faults", &wp_faults);
  s.counter("hv.fault.slow", &slow_faults_);
  s.counter("hv.fault.fast_fixed", &fast_.fixed);
  s.counter("hv.fault.fast_spurious", &fast_.spurious);
  s.counter("hv.fault.fast_retries", &fast_.retries);
  s.counter("hv.fault.fast_to_slow", &fast_.to_slow);
  s.counter("hv.pml.drains", &pml_drains);
  s.counter("hv.pml.drained", &pml_drained);
  s.counter("hv.dirty_log.since_cycles", &logging_since);
  dirty_.register_stats(s, "hv.dirty_log");
  mmu_.register_stats(s, "hv.mmu");
  mmu_lock_.register_stats(s, "hv.lock.mmu_lock");
  track_.register_stats(s, "hv.page_track");
  rcu_.register_stats(s, "hv.rcu");
}

}  // namespace vmxsim::hv
