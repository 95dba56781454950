// hv::ShadowEpt — L0's shadow MMU for a nested guest's EPT: EPT02, which
// maps L2-physical addresses straight to host-physical ones, built on demand
// from the EPT that L1 keeps for L2 (EPT12, in L1's memory) and L0's own map
// of L1's memory. KVM's shadow MMU in EPT mode (mmu.c with paging_tmpl.h,
// PTTYPE_EPT):
//   - walk_ept12()  FNAME(walk_addr_generic): EPT12 read entry by entry, the
//                   access ANDed over the levels; a failed walk gives the
//                   exit qualification L0 reflects to L1;
//   - fill()        FNAME(fetch): one shadow page per EPT12 table on the way
//                   down (indirect, role = level + access), direct ones where
//                   L0 maps L1 in smaller pages than L1 maps L2, then the
//                   leaf: host frame from L0, page size the smaller of the
//                   two, permissions the intersection; an rmap from the L1
//                   gfn to the entry;
//   - track_write() kvm_mmu_track_write: L1 wrote an EPT12 entry L0 shadows
//                   (the table is write-tracked): zap the shadow entries of
//                   that entry (not update them), a parentless child page
//                   with them;
//   - the budget    make_mmu_pages_available: when fewer than min_free
//                   shadow pages remain, zap the oldest until refill are free.
// Shadow pages are found by (gfn, role) in a hash, as kvm_mmu_find_shadow_page
// does. Zapped pages are handed back to the caller for its commit (flush, then
// the freeing policy). The tables are bit-exact EPT pages in models::PhysMem,
// so the hardware walker uses EPT02 as any EPT.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ept/entry.hpp"
#include "sim/exec_context.hpp"
#include "sim/types.hpp"

namespace vmxsim {
class Stats;
namespace models {
class PhysMem;
}
}  // namespace vmxsim

namespace vmxsim::hv {

/// A software walk of EPT12 for one L2 GPA.
struct Ept12Walk {
  bool ok = false;
  unsigned level = 0;               // leaf level (1 = 4 KiB) when ok, else the level that stopped the walk
  Addr l1_gpa = 0;                  // the L2 GPA's translation (when ok)
  std::uint64_t access = 0;         // R/W/X ANDed over every level read
  std::uint64_t qual = 0;           // when !ok: the EPT-violation qualification to reflect (SDM 27.2.1)
  Addr table_gpa[6] = {};           // L1 GPA of the EPT12 table read at each level (index = level)
  std::uint64_t access_at[6] = {};  // the ANDed access above each level's entries (index = level)
  unsigned entries = 0;             // EPT12 entries read
};

/// Reads one 8-byte EPT12 entry at an L1 GPA (through L1's memory).
using ReadL1 = std::function<std::uint64_t(Addr l1_gpa)>;

/// FNAME(walk_addr_generic) for EPT12 rooted at `root` (an L1 GPA), `levels`
/// deep. A failed walk's qualification: the access type in bits 2:0 and the
/// R/W/X of the entry that stopped it in bits 5:3 (nested_ept_inject_page_fault).
Ept12Walk walk_ept12(Addr root, unsigned levels, Addr l2_gpa, AccessType type, const ReadL1& read);

/// What L0 maps an L1 GPA to (its memslot, backing and dirty logging).
struct L0Mapping {
  bool ok = false;
  Addr hpa = 0;            // of the L1 GPA
  unsigned max_level = 1;  // the largest level L0 may map it at (1 = 4 KiB)
  bool writable = true;    // false: L0 write-protects it (read-only slot, dirty logging, a shadowed table)
};
using MapL1 = std::function<L0Mapping(Addr l1_gpa)>;

struct ShadowEptParams {
  unsigned levels = 4;           // EPT02's levels, as EPT12's
  std::uint64_t max_pages = 64;  // the budget (KVM: memslot pages / 50, at least KVM_MIN_ALLOC_MMU_PAGES = 64)
  std::uint64_t min_free = 5;    // KVM_MIN_FREE_MMU_PAGES
  std::uint64_t refill = 25;     // KVM_REFILL_PAGES
  Cycles hash_lookup = 30;       // guest.nested.costs.sp_lookup: one (gfn, role) hash probe (estimate)
  Cycles sp_alloc =
      400;  // guest.nested.costs.sp_alloc: a shadow page, its header and shadowed-translation page (estimate)
  Cycles spte_set = 25;   // hv.costs.spte_set
  Cycles zap_entry = 25;  // hv.costs.zap_leaf: one shadow entry cleared
  // guest.nested.costs.hash_entry: one shadow page of a hash chain visited
  // (its header's gfn and role compared). A lookup walks the whole bucket
  // of its gfn: KVM_NUM_MMU_PAGES (1 << KVM_MMU_HASH_SHIFT = 4096) buckets,
  // so pages / 4096 entries on average. Default 0, not charged: there is no
  // measurement, and at 70 (an L3 hit each) the model's nested table at 64
  // vCPUs runs eager splitting 53% slower than without at 100% writes,
  // against 12% faster published (docs/studies/nested-eager-split.md).
  Cycles hash_entry = 0;
  std::uint64_t hash_buckets = 4096;
  Cycles rmap_head = 4;  // guest.nested.costs.rmap_head: visiting one rmap head of a slot's per-level array (estimate)
  Cycles rmap_add = 20;  // guest.nested.costs.rmap_add: __rmap_add of one entry (estimate)
  Cycles split_entry = 160;    // hv.costs.split_entry: one child entry of a split (make_huge_page_split_spte)
  Cycles protect_entry = 100;  // hv.costs.dirty_log_protect_page: CLEAR write-protecting one shadow leaf
  Cycles enable_entry = 20;    // hv.costs.dirty_log_enable_leaf: enabling's pass write-protecting one
};

class ShadowEpt {
 public:
  /// A shadow page: one EPT02 table.
  struct Page {
    Addr table = 0;            // HPA of its 4 KiB EPT02 table
    Addr gfn = 0;              // indirect: the L1 GPA of the EPT12 table it shadows; direct: the L1 GPA it starts at
    unsigned level = 0;        // 1 = a table of 4 KiB entries
    std::uint64_t access = 0;  // role.access: R/W/X allowed above it
    bool direct = false;       // maps a larger L1 page with smaller ones
    bool root = false;
    std::uint64_t age = 0;      // creation order (KVM's active_mmu_pages is a FIFO)
    std::vector<Addr> parents;  // HPAs of the EPT02 entries that point to it
  };
  struct FillResult {
    unsigned level = 0;  // the leaf's level
    bool installed = false;
    bool flush = false;                // a huge leaf was dropped for a smaller mapping (drop_large_spte flushes)
    std::vector<Addr> newly_shadowed;  // L1 GPAs of EPT12 tables now shadowed: L0 write-tracks them
  };

  ShadowEpt(models::PhysMem& mem, const ShadowEptParams& p);

  /// The EPT02 root for EPT12 rooted at `root12` (an L1 GPA), made on first use.
  Addr root(ExecContext& ctx, Addr root12, std::vector<Addr>& newly_shadowed);
  ept::Eptp eptp() const { return ept::Eptp::make(root_ ? root_->table : 0, p_.levels, true); }

  /// Install the EPT02 translation of `l2_gpa` from a successful walk `w`
  /// and L0's mapping (caller holds mmu_lock for write). Zapped pages (the
  /// budget) go to `zapped` for the caller's commit.
  FillResult fill(ExecContext& ctx, Addr l2_gpa, const Ept12Walk& w, const MapL1& l0, std::vector<Addr>& zapped);

  /// L1 wrote the EPT12 entry at L1 GPA `entry_gpa`: zap the EPT02 entries
  /// that shadow it. Returns how many were present (a flush is needed if > 0).
  std::uint64_t track_write(ExecContext& ctx, Addr entry_gpa, std::vector<Addr>& zapped);
  /// Zap every shadow page (L1's INVEPT all-context, or a root change).
  std::uint64_t zap_all(ExecContext& ctx, std::vector<Addr>& zapped);

  /// The shadow coherence oracle (check.nested): every present EPT02 leaf
  /// must equal the composition of EPT12 (rooted at the root's gfn, read
  /// with `read`) and L0's map: the same host frame, a page no larger than
  /// either maps, permissions no wider than either grants.
  struct Incoherence {
    Addr l2_gpa = 0;
    std::uint64_t ept02 = 0;  // the EPT02 leaf
    unsigned level = 0;       // its level
    std::string why;
  };
  std::vector<Incoherence> check(const ReadL1& read, const MapL1& l0) const;

  /// Is the EPT12 table at this L1 GPA shadowed (so L0 must write-track it)?
  bool shadows(Addr table_gpa) const;
  /// The EPT02 leaf entries at `level` (1 = 4 KiB) mapping the L1 page that
  /// starts at `l1_base` (its rmap head; KVM: slot->arch.rmap[level - 1]).
  const std::vector<Addr>* rmap(Addr l1_base, unsigned level = 1) const;
  std::uint64_t pages() const { return n_pages_; }
  std::uint64_t available() const { return p_.max_pages > n_pages_ ? p_.max_pages - n_pages_ : 0; }
  const ShadowEptParams& params() const { return p_; }

  /// Write-protect every EPT02 leaf mapping L1 memory in [begin, end)
  /// (kvm_mmu_slot_remove_write_access / __rmap_clear_dirty on nested pages,
  /// which are write-protected for dirty logging: kvm_mmu_page_ad_need_write_protect):
  /// a walk of the rmap heads of every level from `min_level` up. Returns
  /// how many leaves lost W (a flush is needed if > 0).
  std::uint64_t protect_range(ExecContext& ctx, Addr begin, Addr end, unsigned min_level = 1);
  /// Write-protect the leaves mapping the 4 KiB L1 page `l1_page` (its
  /// 4 KiB rmap only, as kvm_mmu_write_protect_pt_masked), and with
  /// `huge` the huge leaves covering it (kvm_mmu_slot_gfn_write_protect at 2M).
  std::uint64_t protect_page(ExecContext& ctx, Addr l1_page, bool huge);

  /// Eager page splitting for nested MMUs (kvm_shadow_mmu_try_split_huge_pages):
  /// the huge leaves mapping L1 memory in [begin, end), 1 GiB ones first,
  /// then 2 MiB ones, each into a direct child page of 512 entries of the
  /// same rights and A/D bits.
  struct SplitHooks {
    /// Called before each split: may the split go on? The caller tops up
    /// its caches here (dropping mmu_lock: then the rmap walk restarts).
    /// Returns false to restart the walk of this level.
    std::function<bool()> before_split;
  };
  struct SplitResult {
    std::uint64_t splits = 0, refused = 0, reused = 0, flushes = 0, restarts = 0;
  };
  SplitResult split_huge(ExecContext& ctx, Addr begin, Addr end, const SplitHooks& hooks);

  void register_stats(Stats& s, const std::string& prefix) const;
  std::uint64_t created = 0, zapped_pages = 0, hash_hits = 0, hash_misses = 0, recycled = 0;
  std::uint64_t fills = 0, track_writes = 0, sptes_zapped = 0, protected_leaves = 0;

 private:
  struct Key {
    Addr gfn;
    unsigned level;
    std::uint64_t access;
    bool direct;
    bool operator==(const Key& o) const {
      return gfn == o.gfn && level == o.level && access == o.access && direct == o.direct;
    }
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const;
  };
  Page* get_page(ExecContext& ctx, Addr gfn, unsigned level, std::uint64_t access, bool direct, bool& created);
  /// Link `child` under the EPT02 entry at `at` (replacing whatever was there).
  void link(Addr at, Page& child);
  /// Clear the EPT02 entry at `at` in `owner`, dropping a rmap or a child link.
  bool zap_entry(ExecContext& ctx, Page& owner, unsigned index, std::vector<Addr>& zapped);
  void zap_page(ExecContext& ctx, Page* sp, std::vector<Addr>& zapped);
  void make_available(ExecContext& ctx, std::vector<Addr>& zapped);
  Page* page_of_table(Addr table) const;
  /// Walking one hash bucket (kvm_mmu_find_shadow_page, for_each_gfn_valid_sp_with_gptes).
  void charge_bucket(ExecContext& ctx) const;

  models::PhysMem& mem_;
  ShadowEptParams p_;
  std::unordered_map<Key, std::unique_ptr<Page>, KeyHash> hash_;
  std::unordered_map<Addr, std::vector<Page*>> by_gfn_;  // indirect pages by the EPT12 table they shadow
  std::unordered_map<Addr, Page*> by_table_;             // EPT02 table HPA -> its page
  /// Split the huge leaf at `at` (in `owner`, level `level`); false if the budget refused.
  bool split_one(ExecContext& ctx, Page& owner, unsigned index, SplitResult& r);
  void rmap_add(Addr at, Addr l1_base, unsigned level);
  /// W cleared on every writable leaf of one rmap head, `per_entry` each.
  std::uint64_t protect_head(ExecContext& ctx, const std::vector<Addr>& head, Cycles per_entry);
  // Per level (index level - 1), L1 page base -> EPT02 leaf entries mapping it,
  // ordered so a range is walked in GPA order.
  std::map<Addr, std::vector<Addr>> rmap_[3];
  struct LeafOf {
    Addr l1_base;
    unsigned level;
  };
  std::unordered_map<Addr, LeafOf> leaf_of_;  // EPT02 leaf entry HPA -> the L1 page it maps
  std::deque<Page*> fifo_;                    // oldest first
  Page* root_ = nullptr;
  std::uint64_t n_pages_ = 0, next_age_ = 0;
};

}  // namespace vmxsim::hv
