#include "hv/mmu.hpp"

#include "hv/exec_context.hpp"
#include "models/phys_mem.hpp"
#include "sim/config.hpp"
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
  p.pt_level = costs.u64("pt_level", p.pt_level);
  p.pt_alloc = costs.u64("pt_alloc", p.pt_alloc);
  p.spte_set = costs.u64("spte_set", p.spte_set);
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

MapResult Mmu::map(ExecContext& ctx, const Memslot& slot, Addr gpa) {
  unsigned target = max_level(slot, gpa);
  Addr table = eptp_.root();
  for (unsigned level = p_.levels;; --level) {
    ctx.charge(p_.pt_level);
    const Addr at = table + Addr(index_at(gpa, level)) * 8;
    std::uint64_t e = mem_.read(at);
    if (present(e) && is_leaf(e, level)) {  // another fault mapped it first
      ++already_mapped;
      return {level, false};
    }
    if (level == target && !present(e)) {
      const Addr size = Addr{1} << level_shift(level);
      // make_spte(): a fault (not a prefetch) installs the entry accessed, and
      // a writable entry dirty; Host- and MMU-writable mark it as writable by
      // the host and by the MMU (arch/x86/kvm/mmu/spte.c).
      const std::uint64_t leaf = make_leaf(slot.hpa_of(gpa & ~(size - 1)), level, kPermMask) |
                                 kIgnorePat | kAccessed | kDirty | kHostWritable | kMmuWritable;
      ctx.charge(p_.spte_set);
      std::uint64_t expected = 0;
      mem_.cmpxchg(at, expected, leaf);  // cannot fail: we hold mmu_lock at one instant
      ++maps[level];
      return {level, true};
    }
    if (level == target) target = level - 1;  // a table is here already: map below it
    if (!present(e)) {
      ctx.charge(p_.pt_alloc);
      const Addr t = mem_.alloc_table();
      ++tables_allocated;
      e = make_table(t);
      mem_.write(at, e);
    }
    table = entry_addr(e);
  }
}

void Mmu::register_stats(Stats& s, const std::string& prefix) const {
  s.counter(prefix + ".maps_4k", &maps[1]);
  s.counter(prefix + ".maps_2m", &maps[2]);
  s.counter(prefix + ".maps_1g", &maps[3]);
  s.counter(prefix + ".tables_allocated", &tables_allocated);
  s.counter(prefix + ".already_mapped", &already_mapped);
}

}  // namespace vmxsim::hv
