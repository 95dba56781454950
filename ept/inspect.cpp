#include "ept/inspect.hpp"

#include "ept/guest_entry.hpp"
#include "models/phys_mem.hpp"

namespace vmxsim::ept {

namespace {

constexpr unsigned kEntries = 512;
constexpr Addr kEntryBytes = 8;

void visit_ept(const models::PhysMem& mem, Addr table, unsigned level, Addr base,
               const std::function<void(const EptEntryView&)>& f) {
  for (unsigned i = 0; i < kEntries; ++i) {
    EptEntryView v;
    v.level = level;
    v.table = table;
    v.index = i;
    v.at = table + kEntryBytes * i;
    v.value = mem.read(v.at);
    if (!present(v.value)) continue;
    v.gpa = base + (Addr(i) << level_shift(level));
    v.bytes = std::uint64_t{1} << level_shift(level);
    v.misconfigured = misconfigured(v.value, level);  // SDM 28.2.3.1 (ept/entry.hpp)
    v.leaf = !v.misconfigured && is_leaf(v.value, level);
    f(v);
    if (!v.leaf && !v.misconfigured) visit_ept(mem, entry_addr(v.value, level), level - 1, v.gpa, f);
  }
}

/// Sign-extends a GVA from bit 47 (4-level) or 56 (5-level).
Addr canonical(Addr gva, unsigned levels) {
  const unsigned top = guest::level_shift(levels) + 8;  // 47 or 56
  return (gva >> top) & 1 ? gva | ~((Addr{1} << (top + 1)) - 1) : gva;
}

void visit_guest(const models::PhysMem& mem, Addr table, unsigned level, unsigned levels, Addr base,
                 const GpaToHpa& gpa_to_hpa, const std::function<void(const GuestEntryView&)>& f) {
  const Addr hpa = gpa_to_hpa(table);
  if (hpa == ~Addr{0}) return;
  for (unsigned i = 0; i < kEntries; ++i) {
    GuestEntryView v;
    v.level = level;
    v.table = table;
    v.index = i;
    v.at = table + kEntryBytes * i;
    v.value = mem.read(hpa + kEntryBytes * i);
    if (!guest::present(v.value)) continue;
    v.gva = canonical(base + (Addr(i) << guest::level_shift(level)), levels);
    v.bytes = std::uint64_t{1} << guest::level_shift(level);
    v.leaf = guest::is_leaf(v.value, level);
    f(v);
    if (!v.leaf) visit_guest(mem, guest::entry_addr(v.value, level), level - 1, levels, v.gva, gpa_to_hpa, f);
  }
}

}  // namespace

void for_each_ept_entry(const models::PhysMem& mem, const Eptp& eptp,
                        const std::function<void(const EptEntryView&)>& f) {
  visit_ept(mem, eptp.root(), eptp.levels(), 0, f);
}

void for_each_guest_entry(const models::PhysMem& mem, Addr cr3, unsigned levels, const GpaToHpa& gpa_to_hpa,
                          const std::function<void(const GuestEntryView&)>& f) {
  visit_guest(mem, cr3 & guest::kAddrMask, levels, levels, 0, gpa_to_hpa, f);
}

}  // namespace vmxsim::ept
