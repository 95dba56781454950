#include "hv/memslot_ops.hpp"

#include <algorithm>
#include <vector>

#include "ept/entry.hpp"
#include "models/phys_mem.hpp"
#include "sim/config.hpp"
#include "sim/error.hpp"
#include "sim/format.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

MemslotOpCosts MemslotOpCosts::from(const Cfg& costs) {
  MemslotOpCosts c;
  c.ioctl = costs.u64("memslot_ioctl", c.ioctl);
  c.slot_zap = costs.u64("memslot_zap", c.slot_zap);
  c.zap_leaf = costs.u64("zap_leaf", c.zap_leaf);
  c.notifier = costs.u64("mmu_notifier", c.notifier);
  return c;
}

const Memslot& MemslotOps::slot(std::uint32_t id, const char* op) const {
  const Memslot* s = x_.slots.by_id(id);
  if (!s) throw Error(std::string("memslot ") + op + ": no slot has id " + std::to_string(id));
  return *s;
}

void MemslotOps::swap(ExecContext& ctx) {
  // kvm_swap_active_memslots: the new set becomes active (the generation
  // moves on, so MMIO entries made before are stale), then
  // synchronize_srcu_expedited waits for every vCPU still in an exit handler.
  ++swaps;
  x_.slots.bump_generation();
  x_.srcu.synchronize(ctx);
}

std::uint64_t MemslotOps::zap(ExecContext& ctx, Addr begin, Addr end, std::vector<Addr>& unlinked) {
  if (x_.mmu.zap_tables()) {
    const std::uint64_t n = x_.mmu.zap_range(ctx, begin, end, true, unlinked, c_.zap_leaf);
    zapped_leaves += n;
    return n;
  }
  std::vector<Leaf> leaves;
  x_.mmu.for_each_leaf(begin, end, [&leaves](const Leaf& l) { leaves.push_back(l); });
  for (const Leaf& l : leaves) {
    x_.mmu.update(l.at, 0, ~std::uint64_t{0});  // not present; the tables stay
    ctx.charge(c_.zap_leaf);
  }
  zapped_leaves += leaves.size();
  return leaves.size();
}

std::uint32_t MemslotOps::create(ExecContext& ctx, const MemslotSpec& spec) {
  const Cycles t0 = ctx.now();
  ctx.sync();  // the memslots are shared
  ctx.charge(c_.ioctl);
  if (next_id_ == 0) {  // the first run-time change: after the start-up slots (one scan, once)
    x_.slots.for_each([this](const Memslot& m) {
      next_id_ = std::max(next_id_, m.id + 1);
      next_hva_ = std::max(next_hva_, m.hva + m.size);
    });
  }
  const std::uint32_t id = next_id_++;
  Memslot s;
  s.id = id;
  s.gpa = spec.gpa;
  s.size = spec.size;
  s.backing_shift = spec.backing_shift;
  s.readonly = spec.readonly;
  // A spec without an HVA gets the next host mapping, aligned to its backing page.
  const Addr align = Addr{1} << spec.backing_shift;
  s.hva = spec.hva ? spec.hva : (next_hva_ + align - 1) & ~(align - 1);
  next_hva_ = std::max(next_hva_, s.hva + spec.size);
  s.hpa = x_.mem.alloc_data(spec.size, Addr{1} << spec.backing_shift);
  Cycles cost = 0;
  x_.slots.create(s, cost);  // throws on overlap
  ctx.charge(cost);
  x_.dirty.slot_added(s);
  swap(ctx);
  ++creates;
  op_cycles += ctx.now() - t0;
  if (tl_)
    tl_->span(ctx.thread_id(), "memslot create", t0, ctx.now(), TraceArgs().hex("gpa", s.gpa).num("id", id).str());
  return id;
}

void MemslotOps::invalidate_and_flush(ExecContext& ctx, const Memslot& old) {
  // DELETE and MOVE, phase 1: the INVALID copy becomes active, then
  // kvm_arch_flush_shadow_memslot zaps the slot's mappings and flushes.
  Cycles cost = 0;
  x_.slots.invalidate(old.id, cost);
  ctx.charge(cost);
  swap(ctx);
  ctx.charge(c_.slot_zap);
  x_.mmu_lock.acquire(ctx, LockMode::kWrite);
  std::vector<Addr> unlinked;
  const std::uint64_t n = zap(ctx, old.gpa, old.end(), unlinked);
  x_.mmu_lock.release(ctx);
  x_.pt_free.commit(ctx, std::move(unlinked), n != 0, "memslot zap: commit");
}

void MemslotOps::remove(ExecContext& ctx, std::uint32_t id) {
  const Cycles t0 = ctx.now();
  ctx.sync();
  ctx.charge(c_.ioctl);
  const Memslot old = slot(id, "delete");
  invalidate_and_flush(ctx, old);
  Cycles cost = 0;
  x_.slots.remove(id, cost);
  ctx.charge(cost);
  x_.dirty.slot_removed(id);
  x_.mmio.vacate(old.gpa, old.end());
  swap(ctx);
  ++deletes;
  op_cycles += ctx.now() - t0;
  if (tl_) tl_->span(ctx.thread_id(), "memslot delete", t0, ctx.now(), TraceArgs().num("id", id).str());
}

void MemslotOps::move(ExecContext& ctx, std::uint32_t id, Addr new_gpa) {
  const Cycles t0 = ctx.now();
  ctx.sync();
  ctx.charge(c_.ioctl);
  const Memslot old = slot(id, "move");
  if (new_gpa % kPageSize4K || new_gpa + old.size < new_gpa || new_gpa + old.size > (Addr{1} << 52))
    throw Error("memslot move: slot " + std::to_string(id) + " cannot move to GPA " + hex(new_gpa) +
                " (expected a 4 KiB-aligned GPA that keeps the slot below 2^52)");
  invalidate_and_flush(ctx, old);
  Cycles cost = 0;
  x_.slots.move(id, new_gpa, cost);  // throws on overlap
  ctx.charge(cost);
  x_.mmio.vacate(old.gpa, old.end());
  swap(ctx);
  ++moves;
  op_cycles += ctx.now() - t0;
  if (tl_)
    tl_->span(ctx.thread_id(), "memslot move", t0, ctx.now(),
              TraceArgs().num("id", id).hex("from", old.gpa).hex("to", new_gpa).str());
}

void MemslotOps::set_flags(ExecContext& ctx, std::uint32_t id, bool dirty_log) {
  const Cycles t0 = ctx.now();
  ctx.sync();
  ctx.charge(c_.ioctl);
  const Memslot old = slot(id, "flags");
  Cycles cost = 0;
  x_.slots.set_flags(id, old.readonly, dirty_log, cost);
  ctx.charge(cost);
  swap(ctx);
  ++flag_changes;
  op_cycles += ctx.now() - t0;
}

void MemslotOps::unmap_hva(ExecContext& ctx, Addr hva, std::uint64_t size) {
  // kvm_mmu_notifier_invalidate_range_start → kvm_handle_hva_range: each
  // slot overlapping the range (the implementation's HVA lookup), its GFN
  // range's leaves zapped under mmu_lock, one flush if any was present;
  // invalidate_range_end looks the slots up again.
  const Cycles t0 = ctx.now();
  ctx.sync();
  ctx.charge(c_.notifier);
  struct Range {
    Addr begin, end;
  };
  std::vector<Range> ranges;
  Cycles cost = 0;
  x_.slots.for_each_hva(
      hva, hva + size,
      [&](const Memslot& s) {
        const Addr b = std::max(hva, s.hva), e = std::min(hva + size, s.hva + s.size);
        ranges.push_back({s.gpa + (b - s.hva), s.gpa + (e - s.hva)});
      },
      cost);
  ctx.charge(cost);
  std::uint64_t n = 0;
  std::vector<Addr> unlinked;
  if (!ranges.empty()) {
    x_.mmu_lock.acquire(ctx, LockMode::kWrite);
    for (const Range& r : ranges) n += zap(ctx, r.begin, r.end, unlinked);
    x_.mmu_lock.release(ctx);
  }
  x_.pt_free.commit(ctx, std::move(unlinked), n != 0, "mmu notifier: commit");
  cost = 0;
  x_.slots.for_each_hva(
      hva, hva + size, [](const Memslot&) {}, cost);  // invalidate_range_end
  ctx.charge(cost);
  ++unmaps;
  unmap_cycles += ctx.now() - t0;
}

void MemslotOps::register_stats(Stats& s) const {
  s.counter("hv.memslot_ops.creates", &creates, "ops", "KVM_MR_CREATE operations run while the guest ran");
  s.counter("hv.memslot_ops.deletes", &deletes, "ops", "KVM_MR_DELETE operations");
  s.counter("hv.memslot_ops.moves", &moves, "ops", "KVM_MR_MOVE operations");
  s.counter("hv.memslot_ops.flag_changes", &flag_changes, "ops", "KVM_MR_FLAGS_ONLY operations");
  s.counter("hv.memslot_ops.swaps", &swaps, "swaps",
            "active memslot set swaps, each bumping the generation and waiting for an SRCU grace period");
  s.counter("hv.memslot_ops.cycles", &op_cycles, "cycles", "VMM cycles in memslot operations, summed");
  s.counter("hv.memslot_ops.unmaps", &unmaps, "calls", "host MMU-notifier unmaps (madvise(MADV_DONTNEED) calls)");
  s.counter("hv.memslot_ops.unmap_cycles", &unmap_cycles, "cycles", "VMM cycles in MMU-notifier unmaps, summed");
  s.counter("hv.memslot_ops.zapped_leaves", &zapped_leaves, "leaves",
            "EPT leaves zapped by memslot deletes and moves and by MMU-notifier unmaps");
}

}  // namespace vmxsim::hv
