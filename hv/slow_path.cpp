#include "hv/slow_path.hpp"

#include "ept/entry.hpp"
#include "hv/split.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

using namespace vmxsim::ept;

FaultOutcome SlowPath::handle(ExecContext& ctx, unsigned vcpu, const Memslot& slot, Addr gpa, AccessType type) {
  ++faults;
  const bool write = type == AccessType::Write;
  // page_fault_handle_page_track(): a write to a write-tracked page is
  // emulated before anything else, without the lock or the host page.
  ctx.sync();  // the flag is shared
  if (write && track_.tracked(gpa)) return emulate_write(ctx, slot, gpa);
  // kvm_faultin_pfn(): the host page, before taking mmu_lock, on every fault.
  ctx.charge(c_.gfn_to_pfn);
  // KVM's TDP MMU resolves faults holding mmu_lock for read: entries change
  // by compare-and-exchange, and each change here happens at one instant.
  lock_.acquire(ctx, LockMode::kRead);
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
    else out.logging = handle_write_protected(ctx, vcpu, gpa);
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
  lock_.release(ctx);
  return emulate ? emulate_write(ctx, slot, gpa) : out;
}

FaultOutcome SlowPath::emulate_write(ExecContext& ctx, const Memslot& slot, Addr gpa) {
  // kvm_mmu_page_fault → x86_emulate_instruction: the write goes through
  // kvm_write_guest, which marks the page dirty, and the page stays protected.
  const Cycles t0 = ctx.now();
  ++track_.emulated;
  ctx.charge(c_.emulate_write);
  mark_dirty(ctx, gpa);
  if (tl_) tl_->span(ctx.thread_id(), "emulate write", t0, ctx.now(), TraceArgs().hex("gpa", gpa).str());
  return {dirty_.logged(gpa), true, slot.hpa + (gpa - slot.gpa)};
}

bool SlowPath::handle_write_protected(ExecContext& ctx, unsigned vcpu, Addr gpa) {
  ++wp_faults;
  const bool pml = dirty_.pml();
  if (zap_split_) {
    // hv.fault_split: zap (KVM before 6.2's in-place split): the huge leaf
    // is dropped, with a remote flush (kvm_flush_remote_tlbs_gfn), and the
    // retried write refaults and maps 4 KiB, as a dirty-logged slot allows.
    const Leaf huge = mmu_.find_leaf(gpa);
    if (huge.level > 1) {
      ++huge_zaps;
      ctx.charge(spte_set_);
      mmu_.update(huge.at, 0, ~std::uint64_t{0});
      requests_.flush_remote_tlbs(ctx, int(vcpu));
      if (tl_) tl_->instant(ctx.thread_id(), "zap huge", ctx.now(), TraceArgs().hex("gpa", huge.gpa).str());
      return dirty_.logged(gpa);
    }
  }
  // A huge page write-protected for logging is split on the write fault, as
  // KVM (tdp_mmu_split_huge_page) and Xen do; down to 4 KiB.
  // wp: children stay write-protected. pml: 4 KiB children are writable and
  // clean, so PML logs each one's first write; huge children (from a 1 GiB
  // split) stay write-protected and are split again on their first write — a
  // writable huge child would log only the first 4 KiB page written in it.
  const Leaf leaf = split_to_4k(ctx, mmu_, tl_, gpa, [pml](std::uint64_t parent, unsigned child_level) {
    return pml && child_level == 1 ? ((parent | kWrite) & ~kDirty) : (parent & ~kWrite);
  });
  const bool logged = dirty_.logged(gpa);
  if (leaf.value & kWrite) return logged;  // pml: the split made it writable; the retried write is logged
  // Restore W (and MMU-writable, which a since-removed write track cleared),
  // dropping any spte_id identification; under wp logging also set D and mark
  // the page dirty (fast_pf_fix_direct_spte + mark_page_dirty_in_slot, here
  // under the lock). Under PML, D stays as it is: clean pages are logged.
  ctx.charge(spte_set_);
  mmu_.update(leaf.at, kWrite | kMmuWritable | (pml ? 0 : kDirty), kSpteIdMask);
  mark_dirty(ctx, gpa);
  return logged;
}

void SlowPath::mark_dirty(ExecContext& ctx, Addr gpa) {
  if (!dirty_.logged(gpa)) return;
  ctx.sync();  // the bitmap is shared
  ctx.charge(dirty_.params().mark_page);
  dirty_.mark(gpa);
}

void SlowPath::register_stats(Stats& s) const {
  s.counter("hv.fault.slow", &faults, "faults", "EPT violations handled on the mmu_lock slow path");
  s.counter("hv.fault.huge_zaps", &huge_zaps, "leaves",
            "write-protected huge leaves dropped on a write fault to refault at 4 KiB (hv.fault_split: zap)");
  s.counter("hv.wp_faults", &wp_faults, "faults",
            "write faults on pages write-protected by dirty logging, fixed on the slow path");
}

}  // namespace vmxsim::hv
