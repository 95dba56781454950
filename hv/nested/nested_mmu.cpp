#include "hv/nested/nested_mmu.hpp"

#include <algorithm>

#include "ept/entry.hpp"
#include "hv/split.hpp"
#include "models/phys_mem.hpp"
#include "sim/config.hpp"
#include "sim/error.hpp"
#include "sim/format.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

using namespace vmxsim::ept;

NestedCosts NestedCosts::from(const Cfg& c) {
  NestedCosts k;
  k.ept12_read = c.u64("ept12_read", k.ept12_read);
  k.reflect = c.u64("reflect", k.reflect);
  k.vmresume = c.u64("vmresume", k.vmresume);
  k.l1_handler = c.u64("l1_handler", k.l1_handler);
  const std::uint64_t n = c.u64("vmcs_accesses", k.vmcs_accesses);
  if (n > 10000) c.fail("vmcs_accesses", "expected 0 to 10000 VMREAD/VMWRITEs per exit, got " + std::to_string(n));
  k.vmcs_accesses = std::uint32_t(n);
  k.vmcs_shadowed = c.u64("vmcs_shadowed", k.vmcs_shadowed);
  k.vmcs_emulate = c.u64("vmcs_emulate", k.vmcs_emulate);
  k.split_topup = c.u64("split_topup", k.split_topup);
  k.l1_lock = c.u64("l1_lock", k.l1_lock);
  k.l1_spin = c.u64("l1_spin", k.l1_spin);
  if (k.l1_spin == 0) c.fail("l1_spin", "expected at least 1 cycle");
  return k;
}

NestedParams NestedParams::from(const Cfg& n, const Cfg& hv_costs, const Cfg& check) {
  NestedParams p;
  p.enabled = n.boolean("enabled", p.enabled);
  p.l1_memory = n.bytes("l1_memory", p.l1_memory);
  if (p.l1_memory == 0 || p.l1_memory % (Addr{1} << kPageShift2M))
    n.fail("l1_memory", "expected a multiple of 2 MiB, at least 2 MiB (L1's own memory, for its EPT12 tables)");
  for (const Cfg& s : n.list("l2_memslots", json::array())) {
    L2Slot l;
    l.gpa = s.bytes("gpa", 0);
    l.size = s.bytes("size", 0);
    l.l1_gpa = s.bytes("l1_gpa", l.gpa);
    if (l.gpa % kPageSize4K || l.l1_gpa % kPageSize4K) s.fail("gpa", "expected gpa and l1_gpa 4 KiB aligned");
    if (l.size == 0 || l.size % kPageSize4K) s.fail("size", "expected a non-zero multiple of 4 KiB");
    for (const L2Slot& o : p.l2_slots)
      if (l.gpa < o.gpa + o.size && o.gpa < l.gpa + l.size) s.fail("gpa", "overlaps the L2 memslot at " + hex(o.gpa));
    p.l2_slots.push_back(l);
  }
  const Cfg e12 = n.section("ept12");
  p.ept12_prepopulate = e12.boolean("prepopulate", p.ept12_prepopulate);
  const std::string ps = e12.choice("page_size", "4K", {"4K", "2M", "1G"});
  p.ept12_level = ps == "4K" ? 1 : ps == "2M" ? 2 : 3;
  p.shadow_vmcs = n.boolean("shadow_vmcs", p.shadow_vmcs);
  const Cfg sh = n.section("shadow");
  p.shadow_max_default = !sh.has("max_pages");
  p.shadow.max_pages = sh.u64("max_pages", p.shadow.max_pages);
  p.shadow.min_free = sh.u64("min_free", p.shadow.min_free);
  p.shadow.refill = sh.u64("refill", p.shadow.refill);
  if (p.shadow.refill < p.shadow.min_free)
    sh.fail("refill", "expected at least min_free (" + std::to_string(p.shadow.min_free) + ")");
  if (!p.shadow_max_default && p.shadow.max_pages < p.shadow.refill + 8)
    sh.fail("max_pages", "expected at least refill + 8 (a root and a walk's pages must fit), got " +
                             std::to_string(p.shadow.max_pages));
  const std::uint64_t cache = n.u64("split_cache", p.split_cache);
  if (cache == 0 || cache > 4096) n.fail("split_cache", "expected 1 to 4096 shadow pages");
  p.split_cache = std::uint32_t(cache);
  const Cfg c = n.section("costs");
  p.costs = NestedCosts::from(c);
  p.shadow.hash_lookup = c.u64("sp_lookup", p.shadow.hash_lookup);
  p.shadow.sp_alloc = c.u64("sp_alloc", p.shadow.sp_alloc);
  p.shadow.rmap_head = c.u64("rmap_head", p.shadow.rmap_head);
  p.shadow.hash_entry = c.u64("hash_entry", p.shadow.hash_entry);
  p.shadow.rmap_add = c.u64("rmap_add", p.shadow.rmap_add);
  p.shadow.spte_set = hv_costs.u64("spte_set", p.shadow.spte_set);
  p.shadow.zap_entry = hv_costs.u64("zap_leaf", p.shadow.zap_entry);
  p.shadow.split_entry = hv_costs.u64("split_entry", p.shadow.split_entry);
  p.shadow.protect_entry = hv_costs.u64("dirty_log_protect_page", p.shadow.protect_entry);
  p.shadow.enable_entry = hv_costs.u64("dirty_log_enable_leaf", p.shadow.enable_entry);
  p.check = check.boolean("nested", p.check);
  return p;
}

namespace {
ShadowEptParams shadow_params(const NestedParams& p, const Memslots& slots, unsigned levels) {
  ShadowEptParams s = p.shadow;
  s.levels = levels;
  if (p.shadow_max_default) {
    // kvm_arch_commit_memory_region: n_max_mmu_pages = max(memslot pages /
    // KVM_MEMSLOT_PAGES_TO_MMU_PAGES_RATIO (50), KVM_MIN_ALLOC_MMU_PAGES (64)).
    std::uint64_t pages = 0;
    slots.for_each([&pages](const Memslot& m) { pages += m.size / kPageSize4K; });
    s.max_pages = std::max<std::uint64_t>(pages / 50, 64);
  }
  return s;
}
}  // namespace

NestedMmu::NestedMmu(const NestedParams& p, const Parts& x, Addr root12, unsigned levels)
    : p_(p), x_(x), root12_(root12), levels_(levels), shadow_(x.mem, shadow_params(p, x.slots, levels)) {
  // The root exists before L2 first runs (kvm_mmu_load at the first nested
  // VM entry); EPT01 has no mapping of L1's memory yet, so tracking its
  // table needs no write-protection.
  struct Setup final : ExecContext {
    Cycles now() const override { return 0; }
    void charge(Cycles) override {}
    void sync() override {}
    unsigned thread_id() const override { return 0; }
    void block() override {}
    void wake(Cycles) override {}
  } setup;
  std::vector<Addr> shadowed;
  shadow_.root(setup, root12_, shadowed);
  for (Addr t : shadowed) {
    x_.track.add_gfn(t);
    ++tracked_tables;
  }
}

L0Mapping NestedMmu::map_l1(Addr l1_gpa) const { return map_l1(l1_gpa, true); }

L0Mapping NestedMmu::map_l1(Addr l1_gpa, bool logging) const {
  L0Mapping m;
  const Memslot* s = x_.slots.find(l1_gpa);
  if (!s || s->invalid) return m;
  m.ok = true;
  m.hpa = s->hpa_of(l1_gpa);
  // kvm_mmu_hugepage_adjust: the host's page and the slot's bounds
  // (Mmu::max_level), 4 KiB while the slot is logged, and no huge page over
  // a write-tracked page (kvm_mmu_gfn_disallow_lpage).
  unsigned cap = x_.mmu.max_level(*s, l1_gpa);
  if (logging && x_.dirty.logged(l1_gpa)) cap = 1;
  m.max_level = x_.track.max_level(l1_gpa, cap);
  m.writable = !s->readonly && !x_.track.tracked(l1_gpa) && !(logging && x_.dirty.logged(l1_gpa));
  return m;
}

std::uint64_t NestedMmu::read_l1(Addr l1_gpa) const {
  const Memslot* s = x_.slots.find(l1_gpa);
  if (!s)
    throw Error("nested: EPT12 entry at L1 GPA " + hex(l1_gpa) +
                " is outside L1's memory (no hv.memslots slot holds it): L1's EPTP or a table pointer is corrupt");
  return x_.mem.read(s->hpa_of(l1_gpa));
}

FaultOutcome NestedMmu::handle(ExecContext& ctx, unsigned vcpu, Addr l2_gpa, std::uint64_t qual) {
  ++l2_faults;
  const Cycles t0 = ctx.now();
  const AccessType type = qual::access(qual);
  // FNAME(walk_addr_generic) on EPT12, before mmu_lock: L1's memory is shared.
  ctx.sync();
  const Ept12Walk w = walk_ept12(root12_, levels_, l2_gpa, type, [this](Addr a) { return read_l1(a); });
  ept12_reads += w.entries;
  ctx.charge(p_.costs.ept12_read * w.entries);
  FaultOutcome out;
  if (!w.ok) {
    // nested_ept_inject_page_fault: a nested EPT violation for L1.
    ++reflected;
    ctx.charge(p_.costs.reflect);
    out.reflect = true;
    out.reflect_qual = w.qual | (qual & (qual::kGlaValid | qual::kFinalTranslation));
    if (tl_)
      tl_->span(ctx.thread_id(), "nested: reflect to L1", t0, ctx.now(),
                TraceArgs().hex("l2_gpa", l2_gpa).hex("qual", out.reflect_qual).str());
    return out;
  }
  const Addr l1_page = w.l1_gpa & ~Addr{kPageSize4K - 1};
  const Memslot* slot = x_.slots.find(l1_page);
  if (!slot)
    throw Error("vcpu" + std::to_string(vcpu) + ": L2 GPA " + hex(l2_gpa) + " maps (through EPT12) to L1 GPA " +
                hex(w.l1_gpa) + ", which no hv.memslots slot holds: L0 cannot back it");
  ctx.charge(x_.costs.gfn_to_pfn);  // kvm_faultin_pfn, before the lock
  // The shadow MMU resolves faults holding mmu_lock for write.
  x_.mmu_lock.acquire(ctx, LockMode::kWrite);
  const bool write = type == AccessType::Write;
  const bool logged = x_.dirty.logged(l1_page);
  std::vector<Addr> zapped;
  // A write fault on a logged page maps it writable and marks it dirty
  // (make_spte → mark_page_dirty_in_slot); a read maps it read-only.
  const MapL1 l0 = [this, write, l1_page](Addr a) {
    L0Mapping m = map_l1(a);
    if (write && a == l1_page && x_.dirty.logged(a) && !x_.track.tracked(a) && !x_.slots.find(a)->readonly)
      m.writable = true;
    return m;
  };
  const ShadowEpt::FillResult r = shadow_.fill(ctx, l2_gpa, w, l0, zapped);
  if (r.installed) ++fills;
  else ++spurious;
  bool flush = r.flush;
  if (logged && write) {
    ++logging_faults;
    out.logging = true;
    ctx.charge(x_.dirty.params().mark_page);
    x_.dirty.mark(l1_page);
  }
  flush |= track_tables(ctx, r.newly_shadowed);
  x_.mmu_lock.release(ctx);
  if (flush || !zapped.empty()) x_.pt_free.commit(ctx, std::move(zapped), true, "nested fill");
  if (tl_)
    tl_->span(ctx.thread_id(), "nested: fill EPT02", t0, ctx.now(),
              TraceArgs().hex("l2_gpa", l2_gpa).hex("l1_gpa", w.l1_gpa).num("level", r.level).str());
  check(ctx, "an EPT02 fill");
  return out;
}

bool NestedMmu::track_tables(ExecContext& ctx, const std::vector<Addr>& tables) {
  bool flush = false;
  const std::uint64_t clear = x_.path.track_protect_clear();
  for (Addr t : tables) {
    // account_shadowed: write-track the table's gfn, then no writable EPT01
    // mapping of it may remain (split to 4 KiB, W and MMU-writable cleared).
    ++tracked_tables;
    x_.track.add_gfn(t);
    ctx.charge(x_.costs.barrier);
    if (!x_.mmu.find_leaf(t).level) continue;
    const Leaf l = split_to_4k(ctx, x_.mmu, tl_, t, [](std::uint64_t parent, unsigned) { return parent; });
    if (l.value & clear) {
      x_.mmu.update(l.at, 0, clear);
      flush = true;
    }
  }
  return flush;
}

void NestedMmu::track_write(ExecContext& ctx, Addr l1_gpa) {
  // kvm_mmu_track_write, after the emulator's write: mmu_lock for write, the
  // shadow entries under the written entry zapped, then flushed and freed.
  ++track_writes;
  const Cycles t0 = ctx.now();
  x_.mmu_lock.acquire(ctx, LockMode::kWrite);
  std::vector<Addr> zapped;
  const std::uint64_t n = shadow_.track_write(ctx, l1_gpa, zapped);
  x_.mmu_lock.release(ctx);
  if (n || !zapped.empty()) x_.pt_free.commit(ctx, std::move(zapped), n > 0, "nested track write");
  if (tl_)
    tl_->span(ctx.thread_id(), "nested: EPT12 write", t0, ctx.now(),
              TraceArgs().hex("l1_gpa", l1_gpa).num("zapped", n).str());
  check(ctx, "an L1 write to EPT12");
}

void NestedMmu::vmresume(ExecContext& ctx) {
  ++vmresumes;
  ctx.charge(p_.costs.vmresume);
}

void NestedMmu::vmcs_access(ExecContext& ctx) {
  ++vmcs_exits;
  ctx.charge(p_.costs.vmcs_emulate);
}

void NestedMmu::for_each_slot_range(Addr begin, Addr end, const std::function<void(Addr, Addr)>& f) const {
  std::vector<std::pair<Addr, Addr>> ranges;
  x_.slots.for_each([&](const Memslot& m) {
    const Addr lo = std::max(begin, m.gpa), hi = std::min(end, m.end());
    if (lo < hi) ranges.emplace_back(lo, hi);
  });
  for (const auto& r : ranges) f(r.first, r.second);
}

void NestedMmu::split(ExecContext& ctx, Addr begin, Addr end) {
  const Cycles t0 = ctx.now();
  ShadowEpt::SplitHooks hooks;
  hooks.before_split = [&]() {
    if (split_cache_ > 0) {
      --split_cache_;
      return true;
    }
    // topup_split_caches: mmu_lock dropped, the caches filled, retaken; the
    // rmap walk restarts (-EAGAIN).
    ++split_lock_drops;
    x_.mmu_lock.release(ctx);
    ctx.charge(p_.costs.split_topup * p_.split_cache);
    split_cache_ = p_.split_cache;
    x_.mmu_lock.acquire(ctx, LockMode::kWrite);
    ctx.sync();
    return false;
  };
  // Slot by slot, over each slot's rmaps (kvm_shadow_mmu_try_split_huge_pages).
  ShadowEpt::SplitResult r;
  for_each_slot_range(begin, end, [&](Addr lo, Addr hi) {
    const ShadowEpt::SplitResult one = shadow_.split_huge(ctx, lo, hi, hooks);
    r.splits += one.splits;
    r.refused += one.refused;
    r.reused += one.reused;
    r.flushes += one.flushes;
    r.restarts += one.restarts;
  });
  splits += r.splits;
  split_refused += r.refused;
  split_reused += r.reused;
  split_flushes += r.flushes;
  split_cycles += ctx.now() - t0;
  // A reused child whose non-leaf entries were kept: the caller holds the
  // lock, so the flush is requested here, as __link_shadow_page does.
  if (r.flushes) x_.requests.flush_remote_tlbs(ctx, -1);
  if (tl_ && (r.splits || r.refused))
    tl_->span(ctx.thread_id(), "nested eager split", t0, ctx.now(),
              TraceArgs().num("splits", r.splits).num("refused", r.refused).str());
  check(ctx, "a nested eager split");
}

std::uint64_t NestedMmu::protect_range(ExecContext& ctx, Addr begin, Addr end) {
  std::uint64_t n = 0;
  for_each_slot_range(begin, end, [&](Addr lo, Addr hi) { n += shadow_.protect_range(ctx, lo, hi); });
  check(ctx, "write-protecting EPT02 for dirty logging");
  return n;
}

std::uint64_t NestedMmu::protect_page(ExecContext& ctx, Addr l1_page, bool huge) {
  return shadow_.protect_page(ctx, l1_page, huge);
}

void NestedMmu::check(ExecContext& ctx, const char* after) {
  if (!p_.check) return;
  ctx.sync();
  // Logging narrows what new fills may install (4 KiB, read-only until a
  // write), not what may stay: a huge or writable leaf of a logged page is
  // coherent until write-protection reaches it (the dirty-log oracle judges that).
  const auto found = shadow_.check([this](Addr a) { return read_l1(a); }, [this](Addr a) { return map_l1(a, false); });
  for (const auto& b : found) {
    ++violations;
    if (bad_.size() < 100) {
      bad_.push_back(b);
      bad_.back().why += std::string(" (after ") + after + ", cycle " + std::to_string(ctx.now()) + ")";
    }
    if (tl_)
      tl_->instant(ctx.thread_id(), "oracle: EPT02 incoherent", ctx.now(),
                   TraceArgs().hex("l2_gpa", b.l2_gpa).hex("ept02", b.ept02).str());
  }
}

void NestedMmu::register_stats(Stats& s) const {
  shadow_.register_stats(s, "hv.nested.shadow");
  s.counter("hv.nested.l2_faults", &l2_faults, "exits", "EPT violations of L2 that L0 handled (EPT02 misses)");
  s.counter("hv.nested.reflected", &reflected, "exits",
            "nested EPT violations reflected to L1: EPT12 did not grant the access");
  s.counter("hv.nested.fills", &fills, "entries", "EPT02 leaves installed by L2 faults");
  s.counter("hv.nested.spurious", &spurious, "faults", "L2 faults that found EPT02 already filled");
  s.counter("hv.nested.logging_faults", &logging_faults, "faults",
            "L2 write faults on dirty-logged L1 pages (made writable, marked dirty)");
  s.counter("hv.nested.ept12_reads", &ept12_reads, "entries", "EPT12 entries L0 read walking it in software");
  s.counter("hv.nested.tracked_tables", &tracked_tables, "pages", "EPT12 tables L0 write-tracks (shadowed)");
  s.counter("hv.nested.track_writes", &track_writes, "writes", "emulated L1 writes to write-tracked EPT12 tables");
  s.counter("hv.nested.vmresumes", &vmresumes, "entries", "L1 VMRESUMEs L0 emulated (nested VM entries)");
  s.counter("hv.nested.vmcs_exits", &vmcs_exits, "exits",
            "L1 VMREAD/VMWRITEs that exited to L0 (guest.nested.shadow_vmcs: false)");
  s.counter("hv.nested.splits", &splits, "pages", "huge EPT02 leaves eagerly split (nested eager page splitting)");
  s.counter("hv.nested.split_refused", &split_refused, "splits",
            "eager splits refused: shadow pages at the minimum free (KVM_MIN_FREE_MMU_PAGES)");
  s.counter("hv.nested.split_reused", &split_reused, "pages", "eager splits that reused an existing child page");
  s.counter("hv.nested.split_flushes", &split_flushes, "flushes",
            "eager splits that flushed: the reused child had non-leaf entries");
  s.counter("hv.nested.split_lock_drops", &split_lock_drops, "drops",
            "times the nested eager split dropped mmu_lock to top up its caches");
  s.counter("hv.nested.split_cycles", &split_cycles, "cycles", "cycles spent in nested eager splitting");
  s.counter("check.nested_violations", &violations, "entries",
            "EPT02 leaves that were not the composition of EPT12 and L0's map (check.nested)");
}

}  // namespace vmxsim::hv
