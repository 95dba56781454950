#include "hv/nested/l1_hypervisor.hpp"

#include <algorithm>

#include "ept/entry.hpp"
#include "models/phys_mem.hpp"
#include "sim/error.hpp"
#include "sim/format.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

using namespace vmxsim::ept;

L1Hypervisor::L1Hypervisor(const NestedParams& p, models::PhysMem& mem, const Memslots& slots, unsigned levels)
    : p_(p), mem_(mem), slots_(slots), levels_(levels) {
  next_table_ = p_.l1_memory_gpa;
  table_end_ = p_.l1_memory_gpa + p_.l1_memory;
  root12_ = alloc_table();
}

Addr L1Hypervisor::alloc_table() {
  if (next_table_ >= table_end_)
    throw Error("nested: L1's memory for EPT12 tables (guest.nested.l1_memory, " + std::to_string(p_.l1_memory >> 20) +
                " MiB) is full; raise guest.nested.l1_memory");
  const Addr t = next_table_;
  next_table_ += kPageSize4K;
  ++tables;
  return t;
}

Addr L1Hypervisor::hpa_of(Addr l1_gpa) const {
  const Memslot* s = slots_.find(l1_gpa);
  if (!s) throw Error("nested: L1 GPA " + hex(l1_gpa) + " is in no hv.memslots slot");
  return s->hpa_of(l1_gpa);
}

void L1Hypervisor::lock(L1Cpu& cpu) {
  ExecContext& ctx = cpu.l1_context();
  ++lock_acquisitions;
  const Cycles t0 = ctx.now();
  bool waited = false;
  for (;;) {
    ctx.sync();  // the lock word is shared
    if (!locked_) break;
    waited = true;
    cpu.l1_spin(p_.costs.l1_spin);
  }
  locked_ = true;
  ctx.charge(p_.costs.l1_lock);
  if (waited) {
    ++lock_contended;
    lock_wait_cycles += ctx.now() - t0;
  }
}

void L1Hypervisor::unlock(L1Cpu& cpu) {
  ExecContext& ctx = cpu.l1_context();
  ctx.sync();
  locked_ = false;
  ctx.charge(p_.costs.l1_lock);
}

const L2Slot* L1Hypervisor::slot_of(Addr l2_gpa) const {
  for (const L2Slot& s : p_.l2_slots)
    if (s.contains(l2_gpa)) return &s;
  return nullptr;
}

unsigned L1Hypervisor::map_level(Addr l2_gpa) const {
  const L2Slot* s = slot_of(l2_gpa);
  for (unsigned level = p_.ept12_level; level > 1; --level) {
    const Addr size = Addr{1} << level_shift(level);
    const Addr base = l2_gpa & ~(size - 1);
    // kvm_mmu_hugepage_adjust in L1: inside the slot, offsets agreeing.
    if (base >= s->gpa && base + size <= s->gpa + s->size && ((s->gpa ^ s->l1_gpa) & (size - 1)) == 0) return level;
  }
  return 1;
}

void L1Hypervisor::prepopulate() {
  for (const L2Slot& s : p_.l2_slots) {
    for (Addr g = s.gpa; g < s.gpa + s.size;) {
      const unsigned level = map_level(g);
      const Addr size = Addr{1} << level_shift(level);
      Addr table = root12_;
      for (unsigned l = levels_; l > level; --l) {
        const Addr at = hpa_of(table + Addr(index_at(g, l)) * 8);
        std::uint64_t e = mem_.read(at);
        if (!present(e)) {
          e = make_table(alloc_table());
          mem_.write(at, e);
        }
        table = entry_addr(e);
      }
      mem_.write(hpa_of(table + Addr(index_at(g, level)) * 8), make_leaf(s.l1_gpa + (g - s.gpa), level, kPermMask));
      ++leaves;
      g += size;
    }
  }
}

void L1Hypervisor::handle_ept_violation(L1Cpu& cpu, unsigned vcpu, Addr l2_gpa, std::uint64_t qual) {
  ++handled;
  ExecContext& ctx = cpu.l1_context();
  const Cycles t0 = ctx.now();
  // vmx_handle_exit in L1: exit reason, qualification, GPA and the other
  // fields read, the entry controls written back (vmcs_accesses in all).
  for (std::uint32_t i = 0; i < p_.costs.vmcs_accesses; ++i) cpu.l1_vmcs_access();
  cpu.l1_compute(p_.costs.l1_handler);
  const L2Slot* slot = slot_of(l2_gpa);
  if (!slot)
    throw Error("vcpu" + std::to_string(vcpu) + ": L2 touched L2 GPA " + hex(l2_gpa) + " (nested exit qualification " +
                hex(qual) +
                "), which no L2 memslot (guest.nested.l2_memslots) holds and no device page (hv.mmio_regions) "
                "is; L1 cannot map it");
  const unsigned level = map_level(l2_gpa);
  const Addr size = Addr{1} << level_shift(level);
  const Addr l1_base = slot->l1_gpa + ((l2_gpa & ~(size - 1)) - slot->gpa);
  lock(cpu);
  Addr table = root12_;
  for (unsigned l = levels_; l > level; --l) {
    const Addr at = table + Addr(index_at(l2_gpa, l)) * 8;
    std::uint64_t e = cpu.l1_read(at);
    if (!present(e)) {
      e = make_table(alloc_table());
      cpu.l1_write(at, e);
    } else if (is_leaf(e, l)) {
      table = 0;  // mapped larger meanwhile
      break;
    }
    table = entry_addr(e);
  }
  if (table) {
    const Addr at = table + Addr(index_at(l2_gpa, level)) * 8;
    if (present(cpu.l1_read(at))) {
      ++spurious;  // another vCPU's handler mapped it first
    } else {
      cpu.l1_write(at, make_leaf(l1_base, level, kPermMask));
      ++leaves;
    }
  }
  unlock(cpu);
  if (tl_)
    tl_->span(ctx.thread_id(), "L1: nested EPT violation", t0, ctx.now(),
              TraceArgs().hex("l2_gpa", l2_gpa).num("level", level).str());
}

void L1Hypervisor::register_stats(Stats& s) const {
  s.counter("l1.ept_violations", &handled, "exits", "nested EPT violations L1's handler ran for");
  s.counter("l1.ept12_tables", &tables, "pages", "EPT12 tables L1 allocated (its root included)");
  s.counter("l1.ept12_leaves", &leaves, "entries", "EPT12 leaves L1 wrote (prepopulated ones included)");
  s.counter("l1.spurious", &spurious, "exits", "L1 handlers that found the page already mapped");
  s.counter("l1.lock.acquisitions", &lock_acquisitions, "acquisitions", "L1 mmu_lock acquisitions");
  s.counter("l1.lock.contended", &lock_contended, "acquisitions", "L1 mmu_lock acquisitions that spun first");
  s.counter("l1.lock.wait_cycles", &lock_wait_cycles, "cycles", "cycles vCPUs spun on L1's mmu_lock");
}

}  // namespace vmxsim::hv
