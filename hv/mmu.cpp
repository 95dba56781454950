#include "hv/mmu.hpp"

#include <algorithm>

#include "models/phys_mem.hpp"
#include "sim/config.hpp"
#include "sim/exec_context.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

using namespace vmxsim::ept;

MmuParams MmuParams::from(const Cfg& ept, const Cfg& mmu, const Cfg& costs) {
  MmuParams p;
  p.levels = unsigned(ept.u64("levels", p.levels));
  if (p.levels != 4 && p.levels != 5) ept.fail("levels", "expected 4 or 5");
  p.ad = ept.boolean("ad", p.ad);
  const std::string max = mmu.choice("max_page_size", "1G", {"4K", "2M", "1G"});
  p.max_page_shift = max == "4K" ? kPageShift4K : max == "2M" ? kPageShift2M : kPageShift1G;
  p.zap_tables = mmu.boolean("zap_tables", p.zap_tables);
  p.pt_level = costs.u64("pt_level", p.pt_level);
  p.pt_alloc = costs.u64("pt_alloc", p.pt_alloc);
  p.spte_set = costs.u64("spte_set", p.spte_set);
  p.split_entry = costs.u64("split_entry", p.split_entry);
  p.atomic_rmw = costs.u64("atomic_rmw", p.atomic_rmw);
  p.line_transfer = costs.u64("line_transfer", p.line_transfer);
  return p;
}

Mmu::Mmu(models::PhysMem& mem, const MmuParams& p) : mem_(mem), p_(p) {
  eptp_ = Eptp::make(mem_.alloc_table(), p_.levels, p_.ad);
  ++tables_allocated;
}

unsigned Mmu::max_level(const Memslot& slot, Addr gpa) const {
  for (unsigned level = 3; level > 1; --level) {
    const unsigned shift = level_shift(level);
    const Addr size = Addr{1} << shift;
    const Addr base = gpa & ~(size - 1);
    if (shift > slot.backing_shift || shift > p_.max_page_shift) continue;
    if (base < slot.gpa || base + size > slot.end()) continue;
    if ((slot.gpa ^ slot.hpa) & (size - 1)) continue;
    return level;
  }
  return 1;
}

MapResult Mmu::map(ExecContext& ctx, const Memslot& slot, Addr gpa, unsigned cap, bool writable, bool dirty) {
  unsigned target = std::min(max_level(slot, gpa), cap);
  Addr table = eptp_.root();
  for (unsigned level = p_.levels;; --level) {
    ctx.charge(p_.pt_level);
    const Addr at = table + Addr(index_at(gpa, level)) * 8;
    std::uint64_t e = mem_.read(at);
    if (shadow_present(e) && is_leaf(e, level)) {  // another fault mapped it first
      ++already_mapped;
      return {level, false};
    }
    if (level == target && !shadow_present(e)) {  // empty, or a stale MMIO entry: overwritten
      const Addr size = Addr{1} << level_shift(level);
      // make_spte(): a fault (not a prefetch) installs the entry accessed, and
      // a writable entry dirty; Host- and MMU-writable mark it as writable by
      // the host and by the MMU (arch/x86/kvm/mmu/spte.c).
      // A read-only memslot (KVM_MEM_READONLY) is never writable, by the host
      // or the MMU: its leaves are R|X and a write to them is emulated as MMIO.
      if (slot.readonly) writable = false;
      const std::uint64_t perms = writable ? kPermMask : (kRead | kExec);
      const std::uint64_t leaf = make_leaf(slot.hpa_of(gpa & ~(size - 1)), level, perms) | kIgnorePat | kAccessed |
                                 (writable && dirty ? kDirty : 0) | (slot.readonly ? 0 : kHostWritable | kMmuWritable);
      ctx.charge(p_.spte_set);
      std::uint64_t expected = e;
      mem_.cmpxchg(at, expected, leaf);  // cannot fail: we hold mmu_lock at one instant
      ++maps[level];
      ctx.sync();  // the counter's line is shared
      page_stats_.rmw(ctx, p_.atomic_rmw, p_.line_transfer);
      return {level, true};
    }
    if (level == target) target = level - 1;  // a table is here already: map below it
    if (!shadow_present(e)) {
      ctx.charge(p_.pt_alloc);
      const Addr t = mem_.alloc_table();
      ++tables_allocated;
      e = make_table(t);
      mem_.write(at, e);
    }
    table = entry_addr(e);
  }
}

void Mmu::charge_walk(ExecContext& ctx, unsigned level) const { ctx.charge(p_.pt_level * (p_.levels - level + 1)); }

Leaf Mmu::find_leaf(Addr gpa) const {
  Addr table = eptp_.root();
  for (unsigned level = p_.levels;; --level) {
    const Addr at = table + Addr(index_at(gpa, level)) * 8;
    const std::uint64_t e = mem_.read(at);
    if (!shadow_present(e)) return {};
    if (is_leaf(e, level)) return {at, e, level, gpa & ~((Addr{1} << level_shift(level)) - 1)};
    table = entry_addr(e);
  }
}

std::uint64_t Mmu::last_spte(Addr gpa, unsigned& level) const {
  Addr table = eptp_.root();
  for (level = p_.levels;; --level) {
    const std::uint64_t e = mem_.read(table + Addr(index_at(gpa, level)) * 8);
    if (!shadow_present(e) || is_leaf(e, level)) return e;
    table = entry_addr(e);
  }
}

bool Mmu::install_mmio(ExecContext& ctx, Addr gpa, std::uint64_t generation) {
  // kvm_tdp_mmu_map with no memslot: no huge page (the goal level is 4 KiB),
  // tables created on the way, then make_mmio_spte at the leaf.
  Addr table = eptp_.root();
  for (unsigned level = p_.levels;; --level) {
    ctx.charge(p_.pt_level);
    const Addr at = table + Addr(index_at(gpa, level)) * 8;
    std::uint64_t e = mem_.read(at);
    if (level == 1 || (shadow_present(e) && is_leaf(e, level))) {
      if (shadow_present(e)) return false;  // mapped meanwhile (a slot was created)
      ctx.charge(p_.spte_set);
      std::uint64_t expected = e;
      mem_.cmpxchg(at, expected, make_mmio_spte(gpa, generation));
      ++mmio_installed;
      return true;
    }
    if (!shadow_present(e)) {
      ctx.charge(p_.pt_alloc);
      const Addr t = mem_.alloc_table();
      ++tables_allocated;
      e = make_table(t);
      mem_.write(at, e);
    }
    table = entry_addr(e);
  }
}

namespace {
// Calls f(at, entry, gpa, size) for each entry of `table` (at `level`,
// mapping from `base`) whose range overlaps [begin, end).
template <class F>
void overlapping(const models::PhysMem& mem, Addr table, unsigned level, Addr base, Addr begin, Addr end, F&& f) {
  const Addr size = Addr{1} << level_shift(level);
  for (unsigned i = 0; i < 512; ++i) {
    const Addr gpa = base + Addr(i) * size;
    if (gpa + size <= begin || gpa >= end) continue;
    const Addr at = table + Addr(i) * 8;
    f(at, mem.read(at), gpa, size);
  }
}

void visit(const models::PhysMem& mem, Addr table, unsigned level, Addr base, Addr begin, Addr end,
           const std::function<void(const Leaf&)>& f) {
  overlapping(mem, table, level, base, begin, end, [&](Addr at, std::uint64_t e, Addr gpa, Addr) {
    if (!shadow_present(e)) return;
    if (is_leaf(e, level)) f(Leaf{at, e, level, gpa});
    else visit(mem, entry_addr(e), level - 1, gpa, begin, end, f);
  });
}
}  // namespace

void Mmu::for_each_leaf(Addr begin, Addr end, const std::function<void(const Leaf&)>& f) const {
  visit(mem_, eptp_.root(), p_.levels, 0, begin, end, f);
}

Addr Mmu::split(ExecContext& ctx, const Leaf& l, const std::function<std::uint64_t(std::uint64_t parent)>& child_flags,
                bool charge_alloc) {
  if (charge_alloc) ctx.charge(p_.pt_alloc);
  const Addr t = mem_.alloc_table();
  ++tables_allocated;
  ++splits;
  const unsigned child_level = l.level - 1;
  const Addr child_size = Addr{1} << level_shift(child_level);
  const std::uint64_t keep = kMemTypeMask | kIgnorePat | kHostWritable | kMmuWritable | kSuppressVe;
  const std::uint64_t flags = child_flags(l.value) & (kPermMask | kAccessed | kDirty);
  const Addr base = entry_addr(l.value, l.level);
  for (unsigned i = 0; i < 512; ++i) {
    const std::uint64_t child =
        (base + Addr(i) * child_size) | (l.value & keep) | flags | (child_level > 1 ? kPageSize : 0);
    mem_.write(t + Addr(i) * 8, child);
  }
  ctx.charge(512 * p_.split_entry);
  mem_.write(l.at, make_table(t));  // one atomic store replaces the huge leaf
  return t;
}

namespace {
// Freeze every entry of a table being removed and collect it and the tables
// below it (KVM: handle_removed_pt).
std::uint64_t unlink(models::PhysMem& mem, Addr table, unsigned level, std::vector<Addr>& out) {
  out.push_back(table);
  std::uint64_t entries = 512;
  for (unsigned i = 0; i < 512; ++i) {
    const Addr at = table + Addr(i) * 8;
    const std::uint64_t e = mem.read(at);
    if (present(e) && !is_leaf(e, level)) entries += unlink(mem, entry_addr(e), level - 1, out);
    mem.write(at, kFrozenSpte);
  }
  return entries;
}
}  // namespace

void Mmu::zap_collapsible(ExecContext& ctx, Addr begin, Addr end, const std::function<bool(Addr, unsigned)>& huge_ok,
                          std::vector<Addr>& unlinked, Cycles per_entry) {
  // Top down, so a range that can be 1 GiB again is zapped whole.
  std::function<void(Addr, unsigned, Addr)> walk = [&](Addr table, unsigned level, Addr base) {
    overlapping(mem_, table, level, base, begin, end, [&](Addr at, std::uint64_t e, Addr gpa, Addr) {
      if (!present(e) || is_leaf(e, level)) return;
      ctx.charge(p_.pt_level);
      if (level <= 3 && huge_ok(gpa, level)) {
        mem_.write(at, 0);
        ++zapped;
        ctx.charge(per_entry * unlink(mem_, entry_addr(e), level - 1, unlinked));
      } else if (level > 2) {
        walk(entry_addr(e), level - 1, gpa);
      }
    });
  };
  walk(eptp_.root(), p_.levels, 0);
}

std::uint64_t Mmu::zap_range(ExecContext& ctx, Addr begin, Addr end, bool tables, std::vector<Addr>& unlinked,
                             Cycles per_entry) {
  std::uint64_t n = 0;
  std::function<void(Addr, unsigned, Addr)> walk = [&](Addr table, unsigned level, Addr base) {
    overlapping(mem_, table, level, base, begin, end, [&](Addr at, std::uint64_t e, Addr gpa, Addr size) {
      if (!shadow_present(e)) return;
      ctx.charge(p_.pt_level);
      if (is_leaf(e, level)) {
        mem_.write(at, 0);
        ctx.charge(per_entry);
        ++n;
      } else if (tables && gpa >= begin && gpa + size <= end) {
        // The whole table lies inside: unlink it and everything below.
        mem_.write(at, 0);
        ++tables_zapped;
        ctx.charge(per_entry * unlink(mem_, entry_addr(e), level - 1, unlinked));
        ++n;
      } else {
        walk(entry_addr(e), level - 1, gpa);
      }
    });
  };
  walk(eptp_.root(), p_.levels, 0);
  return n;
}

std::uint64_t Mmu::entry(Addr at) const { return mem_.read(at); }

std::uint64_t Mmu::update(Addr at, std::uint64_t set, std::uint64_t clear) {
  std::uint64_t old = mem_.read(at);
  while (!mem_.cmpxchg(at, old, (old | set) & ~clear)) {
  }
  return old;
}

void Mmu::register_stats(Stats& s, const std::string& prefix) const {
  s.counter(prefix + ".splits", &splits, "splits", "huge EPT leaves replaced by a table of 512 smaller leaves");
  s.counter(prefix + ".maps_4k", &maps[1], "leaves", "4 KiB EPT leaves installed by the map path");
  s.counter(prefix + ".maps_2m", &maps[2], "leaves", "2 MiB EPT leaves installed by the map path");
  s.counter(prefix + ".maps_1g", &maps[3], "leaves", "1 GiB EPT leaves installed by the map path");
  s.counter(prefix + ".tables_allocated", &tables_allocated, "pages",
            "EPT page-table pages allocated (map path and splits)");
  s.counter(prefix + ".already_mapped", &already_mapped, "faults",
            "map attempts that found the GPA already mapped (another vCPU won the race)");
  s.counter(prefix + ".zapped", &zapped, "entries",
            "non-leaf EPT entries zapped so that huge pages can return (kvm_mmu_recover_huge_pages)");
  s.counter(prefix + ".tables_zapped", &tables_zapped, "entries",
            "non-leaf EPT entries cleared by range zaps that unlink whole tables (hv.mmu.zap_tables, vmm.zap_storm)");
  s.counter(prefix + ".mmio_installed", &mmio_installed, "entries",
            "KVM MMIO entries (W|X without R, with the memslots generation) installed for GPAs no memslot covers");
}

}  // namespace vmxsim::hv
