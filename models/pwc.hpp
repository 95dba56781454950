// models::Pwc — paging-structure caches of one vCPU (SDM §4.10.3 for the guest
// side; the SDM publishes no sizes, so every size is a config value).
//
// Guest caches: the PML5E/PML4E/PDPTE/PDE caches. An entry for level L (5, 4,
// 3 or 2) is keyed by the GVA bits that select the level-L guest entry,
// gva >> level_shift(L), plus the context (VPID, PCID). It holds what that
// entry says: the GPA of the next-level guest table, and the access rights
// (R/W, U/S, NX) ANDed down to it. A hit at level L lets the 2D walk start at
// the level L-1 table, skipping the guest levels above and their EPT walks.
//
// EPT walk cache: caches the full GPA→HPA translation of guest
// paging-structure pages, keyed by (EPT context, GPA >> 12), with the R/W/X
// rights the EPT walk granted (guest-physical mappings include their access
// rights, SDM §28.3.2): with EPT A/D off the walker must know whether it may
// write a guest entry's A/D flag. A hit skips the EPT walk that precedes
// reading a guest paging-structure entry.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <utility>

#include "models/replacement.hpp"
#include "models/set_assoc.hpp"
#include "sim/hash.hpp"
#include "sim/types.hpp"

namespace vmxsim {
class Cfg;
class Stats;
}  // namespace vmxsim

namespace vmxsim::models {

struct PwcCacheParams {
  std::uint32_t entries = 0;  // 0 disables the cache
  std::uint32_t ways = 1;
  Replacement replacement;  // `lru` unless configured

  PwcCacheParams(std::uint32_t e = 0, std::uint32_t w = 1, Replacement r = {})
      : entries(e), ways(w), replacement(std::move(r)) {}
};

struct PwcParams {
  // Defaults: our estimates (Intel does not publish PSC sizes, FACTS A6).
  PwcCacheParams pml5e{2, 2}, pml4e{4, 4}, pdpte{4, 4}, pde{32, 4}, ept{16, 4};
  std::uint64_t seed = 1;  // cache i (pml5e 0 .. ept 4) gets seed + i (random replacement)
  /// Reads the `pwc` section: pwc.<cache>.entries / .ways / .replacement for
  /// cache in pml5e, pml4e, pdpte, pde, ept.
  static PwcParams from(const Cfg& pwc);
};

/// An EPT walk cache entry: a guest paging-structure page's HPA and the R/W/X
/// rights (bits 2:0, as in an EPT entry) its translation granted.
struct PwcEptEntry {
  Addr hpa_page = 0;
  std::uint8_t perms = 0;
};
inline constexpr std::uint8_t kAllRights = 7;

struct PwcGuestEntry {
  Addr next_table_gpa = 0;
  std::uint8_t rights = 0;  // bit 0 writable, bit 1 user, bit 2 execute-disable, ANDed/ORed down the walk
};

class Pwc {
 public:
  explicit Pwc(const PwcParams& p);

  /// Guest level 5, 4, 3 or 2. nullptr on a miss (counts hits/misses). The
  /// pointer is valid until the next fill or invalidation.
  const PwcGuestEntry* lookup_guest(unsigned level, std::uint64_t ctx, Addr gva) {
    const unsigned i = cache_of(level);  // checks the level before it is used
    const GuestTag t{gva >> level_shift(level), ctx};
    const PwcGuestEntry* e = guest_[i].lookup(set_index(t.prefix, ctx), t);
    ++(e ? hits_[i] : misses_[i]);
    return e;
  }
  void fill_guest(unsigned level, std::uint64_t ctx, Addr gva, const PwcGuestEntry& e) {
    const unsigned i = cache_of(level);
    const GuestTag t{gva >> level_shift(level), ctx};
    guest_[i].insert(set_index(t.prefix, ctx), t, e);
  }

  /// EPT walk cache: HPA of the 4 KiB guest paging-structure page at `gpa`,
  /// and (if `perms` is not null) the R/W/X rights (bits 2:0) it was cached with.
  bool lookup_ept(std::uint16_t ept_ctx, Addr gpa, Addr& hpa_page, std::uint8_t* perms = nullptr) {
    const EptTag t{gpa >> kPageShift4K, ept_ctx};
    const PwcEptEntry* h = ept_.lookup(set_index(t.gpn, ept_ctx), t);
    ++(h ? hits_[kEptCache] : misses_[kEptCache]);
    if (h) {
      hpa_page = h->hpa_page;
      if (perms) *perms = h->perms;
    }
    return h != nullptr;
  }
  void fill_ept(std::uint16_t ept_ctx, Addr gpa, Addr hpa_page, std::uint8_t perms = kAllRights) {
    const EptTag t{gpa >> kPageShift4K, ept_ctx};
    ept_.insert(set_index(t.gpn, ept_ctx), t, PwcEptEntry{hpa_page, perms});
  }

  // Invalidation (SDM §28.3.3): guest caches by VPID (ctx low 16 bits), all of
  // an address's entries for a VPID; by EPT context (INVEPT single-context:
  // the EPT walk cache and the guest entries tagged with that context); all.
  void invalidate_vpid(std::uint16_t vpid);
  void invalidate_addr(std::uint16_t vpid, Addr gva);
  void invalidate_ept(std::uint16_t ept_ctx);
  /// An EPT violation or misconfiguration at `gpa` drops the guest-physical
  /// mappings that would translate it (SDM §28.3.3.1): its EPT walk cache entry.
  void invalidate_ept_addr(std::uint16_t ept_ctx, Addr gpa);
  void invalidate_all();

  /// Registers `<prefix>.<cache>.hits` and `.misses` for each enabled-or-not
  /// cache: pml5e, pml4e, pdpte, pde, ept.
  void register_stats(Stats& s, const std::string& prefix) const;

 private:
  // Caches by index: the four guest levels, highest first, then the EPT cache.
  static constexpr unsigned kGuestCaches = 4, kEptCache = 4, kCaches = 5;
  // Guest paging levels a cache exists for (SDM §4.10.3.1: PML5E, PML4E,
  // PDPTE, PDE caches; PTEs are cached only as translations, in the TLB).
  static constexpr unsigned kLowestGuestLevel = 2, kHighestGuestLevel = 5;
  static constexpr unsigned kEntryIndexBits = 9;  // 512 entries per paging structure

  /// The GVA bits that select a level-`level` entry start here (pwc.cpp).
  static constexpr unsigned level_shift(unsigned level) { return kPageShift4K + kEntryIndexBits * (level - 1); }
  static unsigned cache_of(unsigned level) {
    if (level < kLowestGuestLevel || level > kHighestGuestLevel) bad_level(level);
    return kHighestGuestLevel - level;
  }
  [[noreturn]] static void bad_level(unsigned level);
  /// The index of a (key, context) pair: the key's bits spread by the
  /// context, so one context's consecutive keys take consecutive sets.
  static std::uint64_t set_index(std::uint64_t key, std::uint64_t ctx) { return key ^ mix64(ctx); }

  struct GuestTag {
    std::uint64_t prefix = 0;  // gva >> level_shift(level)
    std::uint64_t ctx = 0;     // TlbContext::key()
    bool operator==(const GuestTag& o) const { return ((prefix ^ o.prefix) | (ctx ^ o.ctx)) == 0; }
  };
  struct EptTag {
    std::uint64_t gpn = 0;  // gpa >> 12
    std::uint16_t ept = 0;
    bool operator==(const EptTag& o) const { return ((gpn ^ o.gpn) | std::uint64_t(ept ^ o.ept)) == 0; }
  };

  std::array<SetAssoc<GuestTag, PwcGuestEntry>, kGuestCaches> guest_;  // by cache_of(level)
  SetAssoc<EptTag, PwcEptEntry> ept_;
  std::uint64_t hits_[kCaches] = {}, misses_[kCaches] = {};
};

}  // namespace vmxsim::models
