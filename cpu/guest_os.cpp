#include "cpu/guest_os.hpp"
#include "sim/format.hpp"

#include <sstream>

#include "ept/guest_entry.hpp"
#include "models/phys_mem.hpp"
#include "sim/config.hpp"
#include "sim/error.hpp"
#include "sim/exec_context.hpp"
#include "sim/hash.hpp"
#include "sim/stats.hpp"

namespace vmxsim::cpu {

namespace g = vmxsim::ept::guest;

GuestParams GuestParams::from(const Cfg& c) {
  GuestParams p;
  p.paging_levels = unsigned(c.u64("paging_levels", p.paging_levels));
  if (p.paging_levels != 4 && p.paging_levels != 5) c.fail("paging_levels", "expected 4 or 5");
  p.page_size = c.choice("page_size", p.page_size, {"4K", "2M", "1G", "mix"});
  p.mix_2m = c.f64("mix_2m", p.mix_2m);
  p.mix_1g = c.f64("mix_1g", p.mix_1g);
  if (p.mix_2m < 0 || p.mix_2m > 1) c.fail("mix_2m", "expected a fraction from 0 to 1");
  if (p.mix_1g < 0 || p.mix_1g > 1) c.fail("mix_1g", "expected a fraction from 0 to 1");
  p.fault_cycles = c.u64("fault_cycles", p.fault_cycles);
  p.pt_alloc_cycles = c.u64("pt_alloc_cycles", p.pt_alloc_cycles);
  p.pt_region_bytes = c.bytes("pt_region_bytes", p.pt_region_bytes);
  if (p.pt_region_bytes < 2 * kPageSize4K || p.pt_region_bytes % kPageSize4K)
    c.fail("pt_region_bytes", "expected a multiple of 4 KiB, at least 8 KiB");
  p.seed = c.u64("seed", p.seed);
  for (const Cfg& m : c.list("fixed_maps", json::array())) {
    FixedMap f;
    f.gva = m.bytes("gva", 0);
    f.gpa = m.bytes("gpa", 0);
    f.size = m.bytes("size", 0);
    if (f.gva % kPageSize4K) m.fail("gva", "expected a multiple of 4 KiB, got " + hex(f.gva));
    if (f.gpa % kPageSize4K) m.fail("gpa", "expected a multiple of 4 KiB, got " + hex(f.gpa));
    if (f.size == 0 || f.size % kPageSize4K)
      m.fail("size", "expected a non-zero multiple of 4 KiB, got " + std::to_string(f.size));
    if (f.gva + f.size < f.gva) m.fail("size", "the range wraps around the address space");
    for (std::size_t i = 0; i < p.fixed_maps.size(); ++i) {
      const FixedMap& o = p.fixed_maps[i];
      if (f.gva < o.gva + o.size && o.gva < f.gva + f.size)
        m.fail("gva", "range overlaps guest.fixed_maps[" + std::to_string(i) + "]");
    }
    p.fixed_maps.push_back(f);
  }
  return p;
}

GuestOs::GuestOs(const GuestParams& p, models::PhysMem& mem, std::vector<std::pair<Addr, Addr>> ram)
    : p_(p), mem_(mem), ram_(std::move(ram)) {
  if (ram_.empty()) throw Error("guest: no RAM (hv.memslots is empty)");
  // Page tables live at the start of RAM; data pages come after them.
  pt_next_ = ram_.front().first;
  pt_end_ = pt_next_ + p_.pt_region_bytes;
  if (pt_end_ > ram_.front().second)
    throw Error("guest.pt_region_bytes (" + std::to_string(p_.pt_region_bytes) + ") does not fit in the first memslot");
  data_next_ = pt_end_;
  cr3_ = alloc_table();
}

bool GuestOs::canonical(Addr gva) const {
  const unsigned top = p_.paging_levels == 5 ? 56 : 47;
  const Addr high = gva >> top;
  return high == 0 || high == (~Addr{0} >> top);
}

Addr GuestOs::alloc_table() {
  if (pt_next_ + kPageSize4K > pt_end_)
    throw Error("guest: the page-table region is full (" + std::to_string(p_.pt_region_bytes) +
                " bytes); raise guest.pt_region_bytes");
  const Addr a = pt_next_;
  pt_next_ += kPageSize4K;
  ++tables;
  return a;
}

Addr GuestOs::alloc_data(unsigned level) {
  const std::uint64_t size = std::uint64_t(1) << g::level_shift(level);
  // Bump allocation through the RAM ranges, aligned to the page size; an
  // alignment gap is left unused (the model never frees guest pages).
  for (const auto& [start, end] : ram_) {
    Addr base = std::max(data_next_, start);
    base = (base + size - 1) & ~(size - 1);
    if (base + size <= end) {
      data_next_ = base + size;
      return base;
    }
  }
  return ~Addr{0};
}

unsigned GuestOs::choose_level(Addr gva) const {
  if (p_.page_size == "4K") return 1;
  if (p_.page_size == "2M") return 2;
  if (p_.page_size == "1G") return 3;
  // Deterministic per-region coins; the two sizes use different streams.
  if (unit_coin(p_.seed, gva >> kPageShift1G) < p_.mix_1g) return 3;
  if (unit_coin(mix_seed(p_.seed, 1), gva >> kPageShift2M) < p_.mix_2m) return 2;
  return 1;
}

void GuestOs::handle_fault(ExecContext& ctx, GuestMemory& gm, Addr gva, AccessType type, std::uint32_t pf_error,
                           unsigned vcpu) {
  ++faults;
  ctx.charge(p_.fault_cycles);
  if (pf_error & 1) {
    throw Error("vcpu" + std::to_string(vcpu) + ": guest protection fault on " +
                (type == AccessType::Write  ? "write"
                 : type == AccessType::Exec ? "fetch"
                                            : "read") +
                " of GVA " + hex(gva) + " (error code " + std::to_string(pf_error) +
                "): the guest maps every page writable and executable, so this should not happen");
  }
  ctx.sync();  // the guest page tables are shared by every vCPU
  const FixedMap* fixed = nullptr;
  for (const FixedMap& f : p_.fixed_maps)
    if (f.contains(gva)) fixed = &f;
  unsigned target = fixed ? 1 : choose_level(gva);
  Addr table = cr3_;
  for (unsigned level = p_.paging_levels;; --level) {
    const Addr at = gm.write_gpa(table + Addr(g::index_at(gva, level)) * 8);
    std::uint64_t e = mem_.read(at);
    if (g::present(e) && g::is_leaf(e, level)) return;  // another vCPU mapped it meanwhile
    if (level == target && !g::present(e)) {
      const Addr frame = fixed ? fixed->gpa + ((gva - fixed->gva) & ~(kPageSize4K - 1)) : alloc_data(level);
      if (frame == ~Addr{0}) {
        if (level > 1) {  // no room for a huge page: fall back to 4 KiB
          target = 1;
          ++level;  // the loop's --level brings us back: redo this level as a table level
          continue;
        }
        throw Error("guest: out of memory mapping GVA " + hex(gva) +
                    ": the working set needs more guest RAM than hv.memslots provide");
      }
      mem_.write(at, g::make_leaf(frame, level, /*writable=*/true));
      ++maps[level];
      return;
    }
    if (level == target) target = level - 1;  // a table is already here: map below it
    if (!g::present(e)) {
      ctx.charge(p_.pt_alloc_cycles);
      const Addr t = alloc_table();
      e = g::make_table(t);
      mem_.write(at, e);
    }
    table = g::entry_addr(e, level);
  }
}

void GuestOs::register_stats(Stats& s, const std::string& prefix) const {
  s.counter(prefix + ".page_faults", &faults, "faults", "guest page faults the guest OS handled, all vCPUs");
  s.counter(prefix + ".page_tables", &tables, "pages",
            "guest page-table pages the guest OS allocated, the root (CR3) included");
  s.counter(prefix + ".maps_4k", &maps[1], "pages", "4 KiB guest pages the guest OS mapped");
  s.counter(prefix + ".maps_2m", &maps[2], "pages", "2 MiB guest pages the guest OS mapped");
  s.counter(prefix + ".maps_1g", &maps[3], "pages", "1 GiB guest pages the guest OS mapped");
}

}  // namespace vmxsim::cpu
