#include "hv/dirty_log_ops.hpp"

#include <algorithm>
#include <functional>
#include <vector>

#include "ept/entry.hpp"
#include "pml/engine.hpp"
#include "sim/config.hpp"
#include "sim/hash.hpp"
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
  const DirtyLogParams& dp = x_.dirty.params();
  const auto enable_pml = [&] {
    for (VcpuHandle* v : x_.requests.vcpus())
      if (v && pml && v->pml_engine()) v->pml_engine()->enable(true);
  };
  // The two dirty bitmaps allocated and zeroed — or set, with INITIALLY_SET
  // (kvm_alloc_dirty_bitmap, bitmap_set). The memslot commit's fixed work
  // is MemslotOps::set_flags' (hv::Dlpt calls it first).
  ctx.charge((x_.dirty.bitmap_bytes(begin, end) + kPageSize4K - 1) / kPageSize4K * dp.bitmap_page);
  if (dp.initially_set) {
    // kvm_mmu_slot_apply_flags returns at once with manual protect and
    // INITIALLY_SET: every bit is set and nothing is protected or split;
    // each CLEAR does that for what it clears.
    ctx.sync();
    x_.dirty.enable(begin, end, /*all_set=*/true);
    enable_pml();
  } else {
    if (x_.splitter.params().enabled) {
      // kvm_mmu_slot_try_split_huge_pages (eager_page_split): before
      // write-protecting, every huge leaf of the range is split down to
      // 4 KiB under mmu_lock for read, so vCPU faults go on meanwhile; the
      // split flushes no TLB (the write-protection below does). The slot is
      // marked dirty-logged first (the memslot commit sets
      // KVM_MEM_LOG_DIRTY_PAGES before kvm_mmu_slot_apply_flags), so a fault
      // during the split maps 4 KiB.
      const Cycles s0 = ctx.now();
      ctx.sync();
      x_.dirty.enable(begin, end);
      x_.mmu_lock.acquire(ctx, LockMode::kRead);
      const std::uint64_t before = x_.splitter.splits;
      x_.splitter.split_range(ctx, begin, end, LockMode::kRead);
      x_.mmu_lock.release(ctx);
      if (shadow_) {
        // kvm_mmu_slot_try_split_huge_pages: then the shadow MMU's, under
        // mmu_lock for write (kvm_shadow_mmu_try_split_huge_pages).
        x_.mmu_lock.acquire(ctx, LockMode::kWrite);
        shadow_->split(ctx, begin, end);
        x_.mmu_lock.release(ctx);
      }
      eager_split_cycles += ctx.now() - s0;
      if (tl_)
        tl_->span(ctx.thread_id(), "eager split", s0, ctx.now(),
                  TraceArgs().num("splits", x_.splitter.splits - before).str());
    }
    x_.mmu_lock.acquire(ctx, LockMode::kWrite);  // write-protecting: exclusive
    x_.dirty.enable(begin, end);
    // kvm_mmu_slot_apply_flags: with PML, clear D on 4 KiB leaves and
    // write-protect huge ones; without, write-protect every leaf.
    x_.mmu.for_each_leaf(begin, end, [&](const Leaf& l) {
      ctx.charge(dp.enable_leaf);
      protect(l, pml);
    });
    // The shadow MMU's leaves, through its rmaps (walk_slot_rmaps).
    if (shadow_) shadow_->protect_range(ctx, begin, end);
    enable_pml();
    x_.mmu_lock.release(ctx);
    x_.requests.flush_remote_tlbs(ctx, -1);  // outside mmu_lock, as KVM does
  }
  x_.oracle.start(begin, end, ctx.now());
  since_ = ctx.now();
  accesses_at_logging_.clear();
  for (VcpuHandle* v : x_.requests.vcpus()) accesses_at_logging_.push_back(v ? v->accesses_retired() : 0);
  if (tl_)
    tl_->span(ctx.thread_id(), "enable dirty log", t0, ctx.now(),
              TraceArgs()
                  .hex("begin", begin)
                  .hex("end", end)
                  .text("mode", pml ? "pml" : "wp")
                  .flag("initially_set", dp.initially_set)
                  .str());
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
  if (!x_.dirty.params().manual_protect) {
    // kvm_get_dirty_log_protect: each word is taken (xchg with 0) and
    // re-protected under mmu_lock for write, then one flush.
    lock_for_protect(ctx);
    protect_masked(ctx, pages);
    unlock_for_protect(ctx);
    x_.requests.flush_remote_tlbs(ctx, -1);
    copied(ctx, pages);
  }
  if (tl_) tl_->span(ctx.thread_id(), "GET", t0, ctx.now(), TraceArgs().num("pages", pages.size()).str());
  return pages;
}

void DirtyLogOps::protect_masked(ExecContext& ctx, const std::vector<Addr>& pages) {
  const bool pml = x_.dirty.pml();
  const DirtyLogParams& dp = x_.dirty.params();
  const Addr kWordSpan = 64 * kPageSize4K;
  // kvm_mmu_slot_gfn_write_protect(..., PG_LEVEL_2M): W off on a huge leaf
  // mapping `gpa`.
  const auto protect_huge = [&](Addr gpa) {
    const Leaf l = x_.mmu.find_leaf(gpa);
    x_.mmu.charge_walk(ctx, l.level ? l.level : 1);
    if (l.level > 1 && (l.value & kWrite)) {
      ctx.charge(dp.protect_page);
      x_.mmu.update(l.at, 0, kWrite);
    }
  };
  for (std::size_t i = 0; i < pages.size();) {
    const Memslot* s = x_.slots.find(pages[i]);
    if (!s) {
      x_.dirty.clear(pages[i++]);
      continue;
    }
    // One 64-page word of the slot's bitmap: pages[i, j).
    const Addr word = s->gpa + (pages[i] - s->gpa) / kWordSpan * kWordSpan;
    const Addr word_end = std::min(word + kWordSpan, s->end());
    std::size_t j = i;
    while (j < pages.size() && pages[j] >= word && pages[j] < word_end) ++j;
    ++clear_words;
    // Each word's changes happen at this thread's time: vCPUs' page walks
    // (and lockless faults) see the words done so far, not the rest.
    ctx.sync();
    ctx.charge(dp.clear_word);  // atomic_long_fetch_andnot on the bitmap word
    const Addr first = pages[i], last = pages[j - 1];
    if (dp.initially_set) {
      // kvm_arch_mmu_enable_log_dirty_pt_masked with INITIALLY_SET: split
      // [first, last] (kvm_mmu_try_split_huge_pages, mmu_lock held for
      // write), then write-protect the 2 MiB pages at both ends.
      if (dp.lockless_protect) x_.mmu_lock.acquire(ctx, LockMode::kWrite);
      if (x_.splitter.params().enabled) {
        const Cycles s0 = ctx.now();
        x_.splitter.split_range(ctx, first, last + kPageSize4K, LockMode::kWrite);
        if (shadow_) shadow_->split(ctx, first, last + kPageSize4K);
        eager_split_cycles += ctx.now() - s0;
      }
      protect_huge(first);
      if ((first >> kPageShift2M) != (last >> kPageShift2M)) protect_huge(last);
      if (shadow_) {
        shadow_->protect_page(ctx, first, true);
        if ((first >> kPageShift2M) != (last >> kPageShift2M)) shadow_->protect_page(ctx, last, true);
      }
      if (dp.lockless_protect) x_.mmu_lock.release(ctx);
    }
    // kvm_mmu_write_protect_pt_masked: the shadow MMU's 4 KiB rmaps of the
    // word's pages (shadow leaves are write-protected, PML or not).
    if (shadow_)
      for (std::size_t k = i; k < j; ++k) shadow_->protect_page(ctx, pages[k], false);
    if (dp.lockless_protect) {
      protect_word_lockless(ctx, pages, i, j);
      i = j;
      continue;
    }
    // kvm_tdp_mmu_clear_dirty_pt_masked / write_protect_pt_masked: one walk
    // to the word's range, then each 4 KiB leaf of the mask.
    x_.mmu.charge_walk(ctx, 1);
    for (std::size_t k = i; k < j; ++k) {
      x_.dirty.clear(pages[k]);
      const Leaf l = x_.mmu.find_leaf(pages[k]);
      if (l.level != 1) continue;
      ctx.charge(dp.protect_page);
      protect(l, pml);
    }
    i = j;
  }
}

void DirtyLogOps::lock_for_protect(ExecContext& ctx) {
  if (!x_.dirty.params().lockless_protect) x_.mmu_lock.acquire(ctx, LockMode::kWrite);
}

void DirtyLogOps::unlock_for_protect(ExecContext& ctx) {
  if (!x_.dirty.params().lockless_protect) x_.mmu_lock.release(ctx);
}

void DirtyLogOps::protect_word_lockless(ExecContext& ctx, const std::vector<Addr>& pages, std::size_t i,
                                        std::size_t j) {
  const DirtyLogParams& dp = x_.dirty.params();
  const bool pml = x_.dirty.pml();
  // One reader section per word, as kvm_tdp_mmu_clear_dirty_pt_masked takes
  // rcu_read_lock per mask; no mmu_lock (the seed's lockless write-protect).
  PtReaderGuard walk(x_.pt_free, ctx);
  ++lockless_sections_;
  PtHold hold;
  bool held = false;  // a pointer to the 4 KiB table of held_2m
  Addr held_2m = ~Addr{0};
  bool preempt_tried = false;
  for (std::size_t k = i; k < j;) {
    const Addr gpa = pages[k];
    // The bit is cleared and the entry read at one synced instant, in that
    // order: a mapping made later comes from a fault that logs the page.
    ctx.sync();
    x_.dirty.clear(gpa);
    if (!held || (gpa >> kPageShift2M) != held_2m) {
      // Descend from the root to this page's table and keep its pointer.
      const Leaf l = x_.mmu.find_leaf(gpa);
      x_.mmu.charge_walk(ctx, l.level ? l.level : 1);
      held_2m = gpa >> kPageShift2M;
      held = l.level == 1;
      if (held) hold = x_.pt_oracle.hold(l.at, ctx.now());
      if (!held) {
        ++k;  // nothing mapped at 4 KiB now: the next write faults, and is logged
        continue;
      }
      if (!preempt_tried) {
        preempt_tried = true;
        if (dp.lockless_preempt_cycles &&
            unit_coin(dp.lockless_preempt_seed, lockless_sections_) < dp.lockless_preempt_probability) {
          // Descheduled inside the section, holding the table pointer.
          ++lockless_preempted_;
          const Cycles p0 = ctx.now();
          ctx.charge(dp.lockless_preempt_cycles);
          if (tl_) tl_->span(ctx.thread_id(), "lockless protect preempted", p0, ctx.now());
          ctx.sync();
        }
      }
    }
    // The entry is read through the held pointer, at this thread's time.
    if (!x_.pt_oracle.use(hold, ctx.thread_id(), "lockless write-protect", ctx.now())) {
      ++lockless_aborted_;
      held = false;
      ++k;
      continue;
    }
    const Addr at = hold.page + ((gpa >> kPageShift4K) & 511) * 8;
    const std::uint64_t e = x_.mmu.entry(at);
    if (e == kFrozenSpte) {
      // The table was unlinked under the walker, and the page may already be
      // mapped again through a new one: restart from the root for this page
      // (as the TDP MMU's iterator does on a frozen SPTE). Skipping it would
      // lose the page's next writes: CLEAR would leave the new mapping writable.
      ++lockless_restarts_;
      held = false;
      continue;
    }
    ++k;
    if (!shadow_present(e)) continue;  // zapped: the next fault maps it for logging
    ctx.charge(dp.protect_page);
    protect(Leaf{at, e, 1, gpa & ~Addr{kPageSize4K - 1}}, pml);
  }
}

void DirtyLogOps::copied(ExecContext& ctx, const std::vector<Addr>& pages) {
  for (Addr gpa : pages)
    if (const Memslot* s = x_.slots.find(gpa)) x_.oracle.copy(gpa, s->hpa_of(gpa), ctx.now());
}

void DirtyLogOps::clear(ExecContext& ctx, const std::vector<Addr>& pages) {
  const Cycles t0 = ctx.now();
  lock_for_protect(ctx);
  protect_masked(ctx, pages);
  unlock_for_protect(ctx);
  if (x_.dirty.params().clear_flush) x_.requests.flush_remote_tlbs(ctx, -1);
  copied(ctx, pages);
  if (tl_) tl_->span(ctx.thread_id(), "CLEAR", t0, ctx.now(), TraceArgs().num("pages", pages.size()).str());
}

std::uint64_t DirtyLogOps::clear_chunk_from(const Cfg& c) {
  const std::uint64_t chunk = c.bytes("clear_chunk_bytes", 0);
  if (chunk % (64 * kPageSize4K))
    c.fail("clear_chunk_bytes", "expected a multiple of 256 KiB (KVM_CLEAR_DIRTY_LOG works in 64-page words)");
  return chunk;
}

void DirtyLogOps::clear_chunked(ExecContext& ctx, const std::vector<Addr>& pages, std::uint64_t chunk) {
  if (!chunk) return clear(ctx, pages);
  std::size_t k = 0;
  while (k < pages.size()) {
    // The chunk of the slot holding pages[k]; pages are in GPA order.
    const Memslot* s = x_.slots.find(pages[k]);
    const Addr base = s ? s->gpa : pages[k];
    const Addr end = s ? std::min(s->end(), base + ((pages[k] - base) / chunk + 1) * chunk) : pages[k] + 1;
    std::vector<Addr> part;
    while (k < pages.size() && pages[k] < end) part.push_back(pages[k++]);
    clear(ctx, part);
  }
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
      unlinked, x_.zap_leaf);
  x_.mmu_lock.release(ctx);
  // The flush (no vCPU may still walk through the unlinked tables), then the
  // policy's free.
  const std::size_t n = unlinked.size();
  x_.pt_free.commit(ctx, std::move(unlinked), true, "huge-page recovery: commit");
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
  s.counter("hv.eager_split.cycles", &eager_split_cycles, "cycles",
            "VMM cycles enabling dirty logging or clearing (INITIALLY_SET) spent splitting huge pages, mmu_lock "
            "waits included");
  s.counter("hv.dirty_log.clear_words", &clear_words, "words",
            "64-page bitmap words cleared and re-protected (kvm_arch_mmu_enable_log_dirty_pt_masked calls)");
  s.counter("hv.dirty_log.lockless_sections", &lockless_sections_, "sections",
            "reader sections of the lockless write-protect (hv.dirty_log.lockless_protect), one per bitmap word");
  s.counter("hv.dirty_log.lockless_preempted", &lockless_preempted_, "sections",
            "lockless write-protect sections descheduled while holding a table pointer (lockless_preempt_*)");
  s.counter("hv.dirty_log.lockless_restarts", &lockless_restarts_, "walks",
            "lockless write-protect walks restarted from the root after reading a frozen entry (an unlinked table)");
  s.counter("hv.dirty_log.lockless_aborted", &lockless_aborted_, "walks",
            "lockless write-protect walks abandoned because their table was freed under them (check.pt_free)");
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
