// Read-only visitors of paging-structure trees in models::PhysMem, for
// inspection (`vmxsim run --dump`, docs/inspect.md): every present entry of
// an EPT (SDM Vol. 3C §28.2.2) or of a guest's x86-64 page tables (SDM
// Vol. 3A §4.5), depth first in address order. They read entries with
// PhysMem::read only: no accessed or dirty flag is set, no cost is charged,
// no stat changes. Never on a hot path.
#pragma once
#include <cstdint>
#include <functional>

#include "ept/entry.hpp"
#include "sim/types.hpp"

namespace vmxsim::models {
class PhysMem;
}

namespace vmxsim::ept {

/// One present EPT entry.
struct EptEntryView {
  unsigned level = 0;       // 5 = PML5, 4 = PML4, 3 = PDPT, 2 = PD, 1 = PT
  Addr table = 0;           // HPA of the table holding the entry
  unsigned index = 0;       // 0..511 within the table
  Addr at = 0;              // HPA of the entry: table + 8 * index
  Addr gpa = 0;             // first GPA of the range the entry maps
  std::uint64_t bytes = 0;  // size of that range: 4 KiB << 9 * (level - 1)
  std::uint64_t value = 0;  // the raw 64-bit entry
  bool leaf = false;        // maps a page (level 1, or bit 7 at level 2 or 3)
  // An EPT misconfiguration (SDM §28.2.3.1): write without read, as KVM's
  // MMIO entries are. The walk stops there: neither a page nor a table.
  bool misconfigured = false;
};

/// Calls f for every present entry of the EPT `eptp` points to, parents
/// before their children, each table in index order (so in GPA order). A
/// misconfigured entry is listed but not entered.
void for_each_ept_entry(const models::PhysMem& mem, const Eptp& eptp,
                        const std::function<void(const EptEntryView&)>& f);

/// One present guest paging-structure entry.
struct GuestEntryView {
  unsigned level = 0;       // 5 = PML5, 4 = PML4, 3 = PDPT, 2 = PD, 1 = PT
  Addr table = 0;           // GPA of the table holding the entry
  unsigned index = 0;       // 0..511 within the table
  Addr at = 0;              // GPA of the entry: table + 8 * index
  Addr gva = 0;             // first GVA of the range the entry maps (canonical: sign-extended)
  std::uint64_t bytes = 0;  // size of that range
  std::uint64_t value = 0;  // the raw 64-bit entry
  bool leaf = false;        // maps a page (level 1, or PS at level 2 or 3)
};

/// Where a guest-physical page-table page lives in host memory: its HPA, or
/// ~0 if no memslot backs it (then the visitor does not descend into it).
using GpaToHpa = std::function<Addr(Addr gpa)>;

/// Calls f for every present entry of the guest page tables rooted at the
/// GPA `cr3` (`levels` 4 or 5), parents before children, each table in index
/// order (so in GVA order, lower half first).
void for_each_guest_entry(const models::PhysMem& mem, Addr cr3, unsigned levels, const GpaToHpa& gpa_to_hpa,
                          const std::function<void(const GuestEntryView&)>& f);

}  // namespace vmxsim::ept
