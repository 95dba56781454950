// hv::Mmu — the hypervisor's EPT management, modelled on KVM's TDP MMU
// (arch/x86/kvm/mmu/tdp_mmu.c). It owns the EPT root in models::PhysMem and
// maps a faulting GPA at the largest level its memslot and host backing allow
// (kvm_mmu_hugepage_adjust), creating page-table pages on the way down.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>
#include "sim/exec_context.hpp"
#include "sim/shared_line.hpp"

#include "ept/entry.hpp"
#include "hv/memslots.hpp"

namespace vmxsim {
class Cfg;
class Stats;
namespace models {
class PhysMem;
}
}  // namespace vmxsim

namespace vmxsim::hv {

struct MmuParams {
  unsigned levels = 4;                         // ept.levels: 4, or 5 for 5-level EPT
  bool ad = true;                              // ept.ad: EPTP[6] (KVM module default eptad=1)
  std::uint8_t max_page_shift = kPageShift1G;  // hv.mmu.max_page_size
  // hv.mmu.zap_tables: memslot DELETE/MOVE and MMU-notifier unmaps also
  // unlink and free the page-table pages wholly inside the zapped range (as
  // the fast zap of a deleted slot's roots does, FACTS H2); false: they clear
  // leaves only and the tables stay (tdp_mmu_zap_leafs).
  bool zap_tables = false;
  // Cycle costs of the map path's steps (hv.costs).
  Cycles pt_level = 15;   // visiting one level of the TDP iterator
  Cycles pt_alloc = 250;  // allocating, zeroing and linking a page-table page
  Cycles spte_set = 25;   // building and atomically installing the leaf
  // split_entry: building and writing one child entry when a huge page is
  // split (make_huge_page_split_spte). Splitting a 1.5 TB memslot took 30 s
  // (Matlack, eager page splitting RFC, Nov 2021): 19.5 ms/GiB, 74 ns per
  // 4 KiB entry, of which enabling's protect (dirty_log_enable_leaf) is
  // 8 ns: 160 cycles at 2.5 GHz.
  Cycles split_entry = 160;
  // A locked RMW on a VM-wide counter (kvm_update_page_stats' atomic64_add
  // on kvm->stat.pages, once per installed leaf): hv.costs.atomic_rmw with
  // its line here, hv.costs.line_transfer when another core has it (as
  // lock_acquire and lock_handoff; estimates).
  Cycles atomic_rmw = 20;
  Cycles line_transfer = 100;
  static MmuParams from(const Cfg& ept, const Cfg& mmu, const Cfg& costs);
};

/// What a zapped table's entries hold until it is freed (KVM's FROZEN_SPTE,
/// formerly REMOVED_SPTE: not present, and never a value a walker read).
inline constexpr std::uint64_t kFrozenSpte = ept::kSuppressVe | 0x5a0;

// KVM's MMIO SPTE (arch/x86/kvm/mmu/spte.h, make_mmio_spte): an entry the
// CPU finds misconfigured — W|X without R (VMX_EPT_MISCONFIG_WX_VALUE) — that
// holds the GFN in bits 51:12 and a 19-bit subset of the memslots generation:
// generation bits 7:0 in SPTE bits 10:3, bits 18:8 in SPTE bits 62:52. It is
// not "shadow-present": the MMU treats it as an empty slot it may overwrite.
inline constexpr std::uint64_t kMmioSpteValue = ept::kWrite | ept::kExec;
inline constexpr std::uint64_t kMmioSpteMask = ept::kPermMask | ept::kSuppressVe;
inline constexpr unsigned kMmioGenLowShift = 3, kMmioGenLowBits = 8;
inline constexpr unsigned kMmioGenHighShift = 52, kMmioGenHighBits = 11;
inline constexpr std::uint64_t kMmioGenMask = (1ull << (kMmioGenLowBits + kMmioGenHighBits)) - 1;

constexpr bool is_mmio_spte(std::uint64_t e) { return (e & kMmioSpteMask) == kMmioSpteValue; }
constexpr std::uint64_t make_mmio_spte(Addr gpa, std::uint64_t generation) {
  const std::uint64_t g = generation & kMmioGenMask;
  return kMmioSpteValue | (gpa & ept::kAddrMask) | ((g & ((1ull << kMmioGenLowBits) - 1)) << kMmioGenLowShift) |
         ((g >> kMmioGenLowBits) << kMmioGenHighShift);
}
constexpr std::uint64_t mmio_spte_generation(std::uint64_t e) {
  return ((e >> kMmioGenLowShift) & ((1ull << kMmioGenLowBits) - 1)) |
         (((e >> kMmioGenHighShift) & ((1ull << kMmioGenHighBits) - 1)) << kMmioGenLowBits);
}
constexpr Addr mmio_spte_gpa(std::uint64_t e) {
  const std::uint64_t gen_bits =
      (((1ull << kMmioGenLowBits) - 1) << kMmioGenLowShift) | (((1ull << kMmioGenHighBits) - 1) << kMmioGenHighShift);
  return e & ept::kAddrMask & ~gen_bits;
}
/// A present entry that maps memory or a table (KVM: is_shadow_present_pte).
constexpr bool shadow_present(std::uint64_t e) { return ept::present(e) && !is_mmio_spte(e); }

struct MapResult {
  unsigned level = 0;      // level of the leaf now covering the GPA
  bool installed = false;  // false: it was already mapped (another vCPU won)
};

/// A leaf entry of the EPT, as found by Mmu::find_leaf / for_each_leaf.
struct Leaf {
  Addr at = 0;  // HPA of the entry
  std::uint64_t value = 0;
  unsigned level = 0;  // 1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB; 0 = no leaf
  Addr gpa = 0;        // first GPA it maps
};

class Mmu {
 public:
  Mmu(models::PhysMem& mem, const MmuParams& p);

  ept::Eptp eptp() const { return eptp_; }
  bool zap_tables() const { return p_.zap_tables; }

  /// Largest level (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB) at which `gpa` may be
  /// mapped for `slot`: within the host page size, the configured maximum,
  /// the slot's bounds, and with GPA and host offsets agreeing inside the page.
  unsigned max_level(const Memslot& slot, Addr gpa) const;

  /// Map `gpa` (caller holds mmu_lock and has synchronised). Charges its
  /// steps. `max_level` caps the leaf (1 while the slot is dirty-logged: KVM
  /// maps 4 KiB only then); `writable`/`dirty` shape the new leaf.
  MapResult map(ExecContext& ctx, const Memslot& slot, Addr gpa, unsigned max_level = 3, bool writable = true,
                bool dirty = true);

  /// Install KVM's MMIO entry for the 4 KiB page at `gpa` (a GPA no memslot
  /// covers), creating page-table pages down to level 1, unless a
  /// shadow-present entry is there. Caller holds mmu_lock. Returns whether it
  /// installed one.
  bool install_mmio(ExecContext& ctx, Addr gpa, std::uint64_t generation);
  /// The entry where a walk for `gpa` stops — not present, a leaf, an MMIO
  /// entry — and its level (KVM's get_mmio_spte walk); no cost.
  std::uint64_t last_spte(Addr gpa, unsigned& level) const;

  /// Charge the TDP iterator's walk from the root down to a leaf at `level`.
  void charge_walk(ExecContext& ctx, unsigned level) const;
  /// The leaf mapping `gpa`, or level 0 if none (no cost: callers charge). An
  /// MMIO entry is none.
  Leaf find_leaf(Addr gpa) const;
  /// The entry at HPA `at` of a live page-table page (no cost).
  std::uint64_t entry(Addr at) const;
  /// Every present leaf overlapping [begin, end), in GPA order.
  void for_each_leaf(Addr begin, Addr end, const std::function<void(const Leaf&)>& f) const;
  /// Replace the huge leaf `l` by a table of 512 leaves one level down with
  /// the same memory type and software bits; `child` maps the old value to
  /// each child's R/W/X, A and D bits (KVM: tdp_mmu_split_huge_page). Returns
  /// the new table's HPA. Caller holds mmu_lock. `charge_alloc`: false when
  /// the caller charged the page-table page's allocation (eager splitting).
  Addr split(ExecContext& ctx, const Leaf& l, const std::function<std::uint64_t(std::uint64_t parent)>& child_flags,
             bool charge_alloc = true);
  /// KVM's kvm_mmu_recover_huge_pages (tdp_mmu_zap_collapsible_spte): every
  /// non-leaf entry over [begin, end) whose range could now be one leaf
  /// (`huge_ok(gpa, level)`) is cleared; each page-table page below it has
  /// its entries frozen (kFrozenSpte, so a lockless compare-and-exchange on a
  /// stale pointer fails) and goes to `unlinked`, for the caller to free
  /// after a TLB flush and an RCU grace period. Caller holds mmu_lock for
  /// write. Each frozen entry costs `per_entry` (handle_removed_pt).
  void zap_collapsible(ExecContext& ctx, Addr begin, Addr end,
                       const std::function<bool(Addr gpa, unsigned level)>& huge_ok, std::vector<Addr>& unlinked,
                       Cycles per_entry = 0);
  /// Zap [begin, end) under mmu_lock for write: clear every leaf in it
  /// (tdp_mmu_zap_leafs) and, with `tables`, unlink every page-table page
  /// wholly inside it with everything below, its entries frozen, into
  /// `unlinked` (as zapping a root or a slot's subtrees does:
  /// kvm_tdp_mmu_zap_all_fast, tdp_mmu_zap_root). Each cleared leaf and each
  /// frozen entry costs `per_entry`. Returns the entries cleared (leaves and
  /// table links): non-zero means a remote flush is needed.
  std::uint64_t zap_range(ExecContext& ctx, Addr begin, Addr end, bool tables, std::vector<Addr>& unlinked,
                          Cycles per_entry);
  /// Atomically set and clear bits of a leaf: compare-and-exchange until it
  /// sticks (another thread — the walker — may be setting A/D meanwhile).
  /// Returns the old value.
  std::uint64_t update(Addr at, std::uint64_t set, std::uint64_t clear);

  void register_stats(Stats& s, const std::string& prefix) const;
  std::uint64_t maps[4] = {0, 0, 0, 0};  // leaves installed per level (index 1..3)
  std::uint64_t tables_allocated = 0;
  std::uint64_t already_mapped = 0;
  std::uint64_t splits = 0;
  std::uint64_t zapped = 0;          // non-leaf entries zapped so that huge pages can return
  std::uint64_t mmio_installed = 0;  // MMIO entries installed
  std::uint64_t tables_zapped = 0;   // table links cleared by zap_range

 private:
  models::PhysMem& mem_;
  MmuParams p_;
  ept::Eptp eptp_;
  SharedLine page_stats_;  // kvm->stat.pages
};

}  // namespace vmxsim::hv
