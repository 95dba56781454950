// models::Tlb — one level of a set-associative translation cache (L1 or L2).
//
// A level is made of one or more arrays, each holding some page sizes (Skylake's
// L1 DTLB has separate 4K / 2M / 1G arrays; its STLB holds 4K and 2M together and
// 1G apart). Entries cache combined translations (SDM §28.3.1: "combined
// mappings", GVA→HPA, or GPA→HPA with guest paging off), tagged with VPID, PCID
// and the EPT context (EP4TA, as a small integer id). The cached page size is
// min(guest page, EPT page); a level with no array for that size stores the
// 4 KiB (or next smaller held) piece that contains the address ("fracturing").
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/replacement.hpp"
#include "models/set_assoc.hpp"
#include "sim/types.hpp"

namespace vmxsim {
class Cfg;
class Stats;
}  // namespace vmxsim

namespace vmxsim::models {

/// Bit i set = holds pages of shift 12 (bit 0), 21 (bit 1), 30 (bit 2).
enum PageSizeMask : std::uint8_t { kHolds4K = 1, kHolds2M = 2, kHolds1G = 4 };
inline constexpr unsigned kTlbPageSizes = 3;  // the bits of PageSizeMask

struct TlbArrayParams {
  std::string name;           // e.g. "4k", "shared", "1g"
  std::uint32_t entries = 0;  // 0 disables the array
  std::uint32_t ways = 1;     // entries % ways == 0
  std::uint8_t page_sizes = kHolds4K;
};

struct TlbLevelParams {
  std::vector<TlbArrayParams> arrays;
  Replacement replacement;  // of every array of the level
  Cycles hit_cycles = 0;    // latency of one probe of this level (the vCPU charges it on each L2 probe, hit or miss)
  std::uint64_t seed = 1;   // array i's policy gets seed + i (random replacement)

  /// Reads one level's section, e.g. `tlb.l1`, with `defaults` for its arrays.
  static TlbLevelParams from(const Cfg& level, const TlbLevelParams& defaults);
};

/// The context a translation belongs to. Packed into one integer for compares.
struct TlbContext {
  std::uint16_t vpid = 0;
  std::uint16_t pcid = 0;
  std::uint16_t ept = 0;  // EPT context id (which EPTP / EP4TA filled it)
  constexpr std::uint64_t key() const {
    return std::uint64_t(vpid) | (std::uint64_t(pcid) << 16) | (std::uint64_t(ept) << 32);
  }
};

/// What a lookup returns and what a fill stores.
struct TlbEntry {
  Addr hpa_base = 0;  // host-physical base of the cached page
  std::uint8_t page_shift = kPageShift4K;
  std::uint8_t perms = 0;  // bit 0 R, bit 1 W, bit 2 X, as the walk granted
  bool dirty = false;      // the leaf's D was set by or before the filling walk;
                           // a write through an entry without it re-walks (to set D)

  /// The entry for a walk that translated to `hpa` with a page of `shift`.
  static TlbEntry of_walk(Addr hpa, std::uint8_t shift, std::uint8_t perms, bool dirty) {
    return TlbEntry{hpa & ~((Addr{1} << shift) - 1), shift, perms, dirty};
  }
  /// The HPA this entry gives `va` (which it covers).
  Addr translate(Addr va) const { return hpa_base + (va & ((Addr{1} << page_shift) - 1)); }
};

class Tlb {
 public:
  explicit Tlb(const TlbLevelParams& p);
  ~Tlb();
  Tlb(const Tlb&) = delete;
  Tlb& operator=(const Tlb&) = delete;

  /// Probe every array for every page size it holds. On a hit, updates the
  /// replacement state, counts a hit and returns the entry; else counts a miss
  /// and returns nullptr. The pointer is valid until the next fill/invalidation.
  /// Inline: the vCPU calls it on every access.
  const TlbEntry* lookup(const TlbContext& ctx, Addr va) {
    const std::uint64_t c = ctx.key();
    for (const Probe& p : probes_) {
      Array& a = *p.array;
      if (!a.live[p.size]) continue;
      if (const TlbEntry* e = a.ways.lookup(va >> p.shift, Tag{(va & p.page_mask) | p.key_low, c})) {
        ++hits;
        return e;
      }
    }
    ++misses;
    return nullptr;
  }

  /// Insert the translation of `va` (entry.page_shift is the translation's size;
  /// fractured to a size some array holds). Replaces an existing entry for the
  /// same page and context. No-op if no array is enabled.
  void fill(const TlbContext& ctx, Addr va, const TlbEntry& e);

  // Invalidation (SDM §28.3.3): each returns how many entries it dropped.
  std::uint64_t invalidate_addr(std::uint16_t vpid, Addr va);  // INVVPID type 0 / INVLPG: any PCID, any size
  std::uint64_t invalidate_vpid(std::uint16_t vpid);           // INVVPID type 1 (single context)
  std::uint64_t invalidate_ept(std::uint16_t ept);             // INVEPT single context: combined mappings of that EPT
  std::uint64_t invalidate_all();                              // INVEPT all-context / INVVPID type 2

  Cycles hit_cycles() const { return params_.hit_cycles; }
  std::uint32_t capacity() const;  // total enabled entries

  /// One enabled array, as inspection sees it.
  struct ArrayInfo {
    std::string name;
    std::uint32_t entries = 0, ways = 0, sets = 0;
    std::uint8_t page_sizes = 0;  // PageSizeMask
  };
  /// One valid entry, as inspection sees it.
  struct ValidEntry {
    std::uint32_t set = 0, way = 0;
    Addr va = 0;  // the cached page's base (a GVA, or a GPA with guest paging off)
    TlbContext ctx;
    TlbEntry entry;  // entry.page_shift is the page size stored in the array
  };
  /// The enabled arrays, in lookup order.
  std::vector<ArrayInfo> arrays() const;
  /// Read-only visitor: f(array index into arrays(), entry) for every valid
  /// entry, array by array, in set then way order. Changes no state (no
  /// replacement update, no stat): for `vmxsim run --dump`, off the hot path.
  template <class F>
  void for_each_valid(F f) const {
    for (std::size_t i = 0; i < arrays_.size(); ++i)
      arrays_[i].ways.for_each_valid([&](std::uint32_t set, std::uint32_t way, const Tag& t, const TlbEntry& e) {
        f(i, valid_entry(set, way, t, e));
      });
  }

  /// Registers `<prefix>.hits`, `.misses`, `.fills`, `.evictions`, `.invalidations`.
  void register_stats(Stats& s, const std::string& prefix) const;

  // Counters (plain integers; the hot path increments them).
  std::uint64_t hits = 0, misses = 0, fills = 0, evictions = 0, invalidations = 0;

 private:
  /// An entry's tag: its key (the page's base, its size's index in bits 1-2
  /// and a valid bit in bit 0: tlb.cpp) and its context (TlbContext::key()).
  struct Tag {
    std::uint64_t key = 0;
    std::uint64_t ctx = 0;
    bool operator==(const Tag& o) const { return ((key ^ o.key) | (ctx ^ o.ctx)) == 0; }  // one branch
  };
  /// One array, indexed by the page number of each size it holds.
  struct Array {
    SetAssoc<Tag, TlbEntry> ways;
    std::uint8_t holds = 0;  // PageSizeMask
    // Valid entries of each page size: a lookup skips a size the array holds
    // none of (exact, and it saves most of a miss's probes when, say, no 2M
    // or 1G translation exists).
    std::uint32_t live[kTlbPageSizes] = {};
  };
  /// One probe of a lookup: an array and one page size it holds, with what
  /// the hot path needs precomputed.
  struct Probe {
    Array* array;
    Addr page_mask;         // ~(page size - 1)
    std::uint64_t key_low;  // the key's bits below the page base
    unsigned shift;         // log2(page size): the array's index is va >> shift
    unsigned size;          // index into PageSizeMask's bits
  };
  static ValidEntry valid_entry(std::uint32_t set, std::uint32_t way, const Tag& t, const TlbEntry& e);

  TlbLevelParams params_;
  std::vector<Array> arrays_;       // the enabled ones, in lookup order
  std::vector<std::string> names_;  // arrays_[i]'s name (inspection only)
  std::vector<Probe> probes_;       // what a lookup probes, in order: arrays in order, sizes smallest first
};

}  // namespace vmxsim::models
