// cpu::GuestOs — the guest kernel's memory management, just enough to run
// guest-virtual traces: one address space (one CR3) shared by every vCPU, as
// the threads of one process; 4- or 5-level x86-64 page tables kept in guest
// memory (so the 2D walker reads them bit-exact, through EPT); and a page-fault
// handler that maps a GVA on first touch with a page size chosen by policy.
//
// The guest's own stores to its page tables are guest-physical writes: they go
// through EPT like any access, so the first touch of a new page-table page
// takes an EPT-violation exit. Guest data pages are not zeroed by the model
// (their first access faults in EPT instead).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sim/types.hpp"

namespace vmxsim {
class Cfg;
class Stats;
namespace models {
class PhysMem;
}
class ExecContext;
}  // namespace vmxsim

namespace vmxsim::cpu {

/// A GVA range the guest kernel maps onto fixed GPAs (as ioremap maps a
/// device's registers, or a ROM), with 4 KiB pages, instead of allocating RAM.
struct FixedMap {
  Addr gva = 0, gpa = 0;
  std::uint64_t size = 0;
  bool contains(Addr g) const { return g - gva < size; }
};

struct GuestParams {
  unsigned paging_levels = 4;    // guest.paging_levels: 4, or 5 (CR4.LA57)
  std::string page_size = "4K";  // guest.page_size: 4K | 2M | 1G | mix
  double mix_2m = 0.5;           // guest.mix_2m: with "mix", share of 2 MiB regions mapped by one 2 MiB page
  double mix_1g = 0.0;           // guest.mix_1g: with "mix", share of 1 GiB regions mapped by one 1 GiB page
  Cycles fault_cycles = 1200;    // guest.fault_cycles: #PF delivery + handler, excluding table allocation
  Cycles pt_alloc_cycles = 300;  // guest.pt_alloc_cycles: allocate and zero one page-table page
  std::uint64_t pt_region_bytes = 16 << 20;  // guest.pt_region_bytes: guest RAM kept for page tables
  std::uint64_t seed = 1;                    // guest.seed: the "mix" policy's choices
  std::vector<FixedMap> fixed_maps;          // guest.fixed_maps: [{gva, gpa, size}]
  static GuestParams from(const Cfg& guest);
};

/// How the guest kernel writes its own memory: the vCPU translates `gpa`
/// through EPT as a write (taking EPT-violation exits as needed) and returns
/// the HPA.
class GuestMemory {
 public:
  virtual ~GuestMemory() = default;
  virtual Addr write_gpa(Addr gpa) = 0;
};

class GuestOs {
 public:
  /// `ram`: the guest-physical RAM ranges [start, end), sorted (the memslots).
  GuestOs(const GuestParams& p, models::PhysMem& mem, std::vector<std::pair<Addr, Addr>> ram);

  Addr cr3() const { return cr3_; }
  unsigned levels() const { return p_.paging_levels; }

  /// Is `gva` canonical for this paging mode (bits above 47, or 56, copies of it)?
  bool canonical(Addr gva) const;

  /// The #PF handler: maps `gva` (not present) at the chosen page size,
  /// allocating page-table pages; a protection fault (pf_error bit 0) on a
  /// present page is an error the model cannot resolve. Runs in the faulting
  /// vCPU's thread at synced time (guest page tables are shared).
  void handle_fault(ExecContext& ctx, GuestMemory& gm, Addr gva, AccessType type, std::uint32_t pf_error,
                    unsigned vcpu);

  void register_stats(Stats& s, const std::string& prefix) const;
  std::uint64_t faults = 0, tables = 0, maps[4] = {0, 0, 0, 0};

 private:
  unsigned choose_level(Addr gva) const;
  Addr alloc_table();
  Addr alloc_data(unsigned level);

  GuestParams p_;
  models::PhysMem& mem_;
  std::vector<std::pair<Addr, Addr>> ram_;
  Addr pt_next_, pt_end_;
  Addr data_next_;
  Addr cr3_;
};

}  // namespace vmxsim::cpu
