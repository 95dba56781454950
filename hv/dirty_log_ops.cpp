#include "hv/dirty_log_ops.hpp"

#include <functional>
#include <vector>

#include "ept/entry.hpp"
#include "pml/engine.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

using namespace vmxsim::ept;

void DirtyLogOps::protect(const Leaf& l, bool pml) {
  if (pml && l.level == 1) x_.mmu.update(l.at, 0, kDirty);
  else x_.mmu.update(l.at, 0, kWrite);
}

void DirtyLogOps::enable(ExecContext& ctx, Addr begin, Addr end) {
  const bool pml = x_.dirty.pml();
  const Cycles t0 = ctx.now();
  if (x_.eager_split) {
    // kvm_mmu_slot_try_split_huge_pages (eager_page_split): before
    // write-protecting, every huge leaf of the range is split down to 4 KiB,
    // pre-order (1 GiB → 2 MiB → 4 KiB), under mmu_lock for read, so vCPU
    // faults go on meanwhile; each child keeps its parent's rights and A/D
    // bits (make_huge_page_split_spte), and the split flushes no TLB (the
    // mappings are unchanged; the write-protection below flushes).
    const Cycles s0 = ctx.now();
    // The slot is marked dirty-logged first (the memslot commit sets
    // KVM_MEM_LOG_DIRTY_PAGES before kvm_mmu_slot_apply_flags), so a fault
    // during the split maps 4 KiB.
    ctx.sync();
    x_.dirty.enable(begin, end);
    x_.mmu_lock.acquire(ctx, LockMode::kRead);
    std::function<void(const Leaf&)> split_down = [&](const Leaf& l) {
      if (l.level <= 1) return;
      x_.mmu.split(ctx, l, [](std::uint64_t parent) { return parent; });
      ++eager_splits;
      const Addr size = Addr{1} << level_shift(l.level);
      std::vector<Leaf> children;
      x_.mmu.for_each_leaf(l.gpa, l.gpa + size, [&children](const Leaf& c) { children.push_back(c); });
      for (const Leaf& c : children) split_down(c);
    };
    std::vector<Leaf> huge;
    x_.mmu.for_each_leaf(begin, end, [&huge](const Leaf& l) {
      if (l.level > 1) huge.push_back(l);
    });
    for (const Leaf& l : huge) split_down(l);
    x_.mmu_lock.release(ctx);
    eager_split_cycles += ctx.now() - s0;
    if (tl_) tl_->span(ctx.thread_id(), "eager split", s0, ctx.now(), TraceArgs().num("splits", eager_splits).str());
  }
  x_.mmu_lock.acquire(ctx, LockMode::kWrite);  // write-protecting: exclusive
  x_.dirty.enable(begin, end);
  // kvm_mmu_slot_apply_flags: with PML, clear D on 4 KiB leaves and
  // write-protect huge ones; without, write-protect every leaf.
  x_.mmu.for_each_leaf(begin, end, [&](const Leaf& l) {
    ctx.charge(x_.dirty.params().protect_page);
    protect(l, pml);
  });
  for (VcpuHandle* v : x_.requests.vcpus())
    if (v && pml && v->pml_engine()) v->pml_engine()->enable(true);
  x_.mmu_lock.release(ctx);
  x_.requests.flush_remote_tlbs(ctx, -1);  // outside mmu_lock, as KVM does
  x_.oracle.start(begin, end, ctx.now());
  since_ = ctx.now();
  accesses_at_logging_.clear();
  for (VcpuHandle* v : x_.requests.vcpus()) accesses_at_logging_.push_back(v ? v->accesses_retired() : 0);
  if (tl_)
    tl_->span(ctx.thread_id(), "enable dirty log", t0, ctx.now(),
              TraceArgs().hex("begin", begin).hex("end", end).text("mode", pml ? "pml" : "wp").str());
}

std::vector<Addr> DirtyLogOps::get(ExecContext& ctx) {
  // kvm_arch_sync_dirty_log: every vCPU's PML buffer must reach the bitmap.
  // In-guest vCPUs are kicked (their exit drains it); the others are outside
  // guest mode, so their buffers are drained here.
  const Cycles t0 = ctx.now();
  if (x_.dirty.pml()) {
    x_.requests.kick_all(ctx, -1, kRequestKick);
    for (VcpuHandle* v : x_.requests.vcpus())
      if (v && !v->in_guest() && v->pml_engine()) drain_pml(ctx, *v->pml_engine());
  }
  ctx.sync();
  std::uint64_t words = 0;
  std::vector<Addr> pages = x_.dirty.dirty_pages(words);
  ctx.charge(x_.dirty.params().get_base + words * x_.dirty.params().get_word);
  x_.oracle.reported(t0, ctx.now(), pages);
  if (tl_) tl_->span(ctx.thread_id(), "GET", t0, ctx.now(), TraceArgs().num("pages", pages.size()).str());
  return pages;
}

void DirtyLogOps::clear(ExecContext& ctx, const std::vector<Addr>& pages) {
  const bool pml = x_.dirty.pml();
  const Cycles t0 = ctx.now();
  x_.mmu_lock.acquire(ctx, LockMode::kWrite);
  // kvm_arch_mmu_enable_log_dirty_pt_masked: clear the bits, re-protect the
  // 4 KiB leaves (D under PML, W otherwise).
  for (Addr gpa : pages) {
    x_.dirty.clear(gpa);
    const Leaf l = x_.mmu.find_leaf(gpa);
    ctx.charge(x_.dirty.params().protect_page);
    if (l.level) protect(l, pml);
  }
  x_.mmu_lock.release(ctx);
  if (x_.dirty.params().clear_flush) x_.requests.flush_remote_tlbs(ctx, -1);
  for (Addr gpa : pages)
    if (const Memslot* s = x_.slots.find(gpa)) x_.oracle.copy(gpa, s->hpa_of(gpa), ctx.now());
  if (tl_) tl_->span(ctx.thread_id(), "CLEAR", t0, ctx.now(), TraceArgs().num("pages", pages.size()).str());
}

void DirtyLogOps::disable(ExecContext& ctx) {
  const Cycles t0 = ctx.now();
  const Addr begin = x_.dirty.begin(), end = x_.dirty.end();
  x_.mmu_lock.acquire(ctx, LockMode::kWrite);
  x_.dirty.disable();
  for (VcpuHandle* v : x_.requests.vcpus())
    if (v && v->pml_engine()) v->pml_engine()->enable(false);
  std::vector<Addr> unlinked;
  x_.mmu.zap_collapsible(
      ctx, begin, end,
      [this](Addr gpa, unsigned level) {
        const Memslot* s = x_.slots.find(gpa);
        const Addr size = Addr{1} << level_shift(level);
        return s && x_.mmu.max_level(*s, gpa) >= level && !x_.track.tracked_in(gpa, gpa + size);
      },
      unlinked);
  x_.mmu_lock.release(ctx);
  x_.requests.flush_remote_tlbs(ctx, -1);  // no vCPU may still walk through the unlinked tables
  const std::size_t n = unlinked.size();
  x_.rcu.call(ctx, std::move(unlinked));
  if (tl_) tl_->span(ctx.thread_id(), "disable dirty log", t0, ctx.now(), TraceArgs().num("tables_unlinked", n).str());
}

void DirtyLogOps::drain_pml(ExecContext& ctx, pml::Engine& e) {
  if (!e.enabled() || e.pending() == 0) return;
  ++drains_;
  // Sync first: the bitmap is shared, and nothing may yield between reading
  // the log and marking the bitmap (another thread's drain could run then).
  ctx.sync();
  const Cycles t0 = ctx.now();
  std::vector<Addr> gpas;
  e.drain(gpas);
  for (Addr gpa : gpas) x_.dirty.mark(gpa);
  drained_ += gpas.size();
  ctx.charge(x_.dirty.params().pml_drain_base + gpas.size() * x_.dirty.params().pml_drain_entry);
  if (tl_) tl_->span(ctx.thread_id(), "pml drain", t0, ctx.now(), TraceArgs().num("entries", gpas.size()).str());
}

std::uint64_t DirtyLogOps::accesses_since_logging() const {
  std::uint64_t n = 0;
  const auto& vcpus = x_.requests.vcpus();
  for (std::size_t i = 0; i < vcpus.size() && i < accesses_at_logging_.size(); ++i)
    if (vcpus[i]) n += vcpus[i]->accesses_retired() - accesses_at_logging_[i];
  return n;
}

void DirtyLogOps::register_stats(Stats& s) const {
  s.counter(
      "hv.eager_split.splits", &eager_splits, "tables",
      "huge EPT leaves split when dirty logging was enabled (hv.eager_split.enabled), each into 512 smaller ones");
  s.counter("hv.eager_split.cycles", &eager_split_cycles, "cycles",
            "VMM cycles enabling dirty logging spent splitting huge pages, mmu_lock waits included");
  s.counter("hv.pml.drains", &drains_, "drains", "PML buffers drained into the dirty bitmap (vmx_flush_pml_buffer)");
  s.counter("hv.pml.drained", &drained_, "entries", "PML log entries drained into the dirty bitmap");
  s.counter("hv.dirty_log.since_cycles", &since_, "cycles", "when dirty logging took effect (0: never)");
  x_.dirty.register_stats(s, "hv.dirty_log");
}

void DirtyLogOps::register_progress_stats(Stats& s, std::function<Cycles()> run_end, double freq_ghz) const {
  s.value_u64(
      "sim.accesses_while_logging", [this] { return accesses_since_logging(); }, "accesses",
      "guest accesses retired by all vCPUs after dirty logging took effect");
  s.value(
      "sim.accesses_per_simulated_second_while_logging",
      [this, run_end, freq_ghz] {
        const Cycles end = run_end();
        const Cycles span = end > since_ ? end - since_ : 0;
        return span ? double(accesses_since_logging()) / (double(span) / (freq_ghz * 1e9)) : 0.0;
      },
      "accesses/s", "guest accesses per simulated second from when dirty logging took effect to the end of the run");
}

}  // namespace vmxsim::hv
