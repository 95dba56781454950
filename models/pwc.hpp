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
// paging-structure pages, keyed by (EPT context, GPA >> 12). A hit skips the
// EPT walk that precedes reading a guest paging-structure entry.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "sim/types.hpp"

namespace vmxsim {
class Cfg;
class Stats;
}

namespace vmxsim::models {

struct PwcCacheParams {
  std::uint32_t entries = 0;  // 0 disables the cache
  std::uint32_t ways = 1;
};

struct PwcParams {
  // Defaults: our estimates (Intel does not publish PSC sizes, FACTS A6).
  PwcCacheParams pml5e{2, 2}, pml4e{4, 4}, pdpte{4, 4}, pde{32, 4}, ept{16, 4};
  std::uint64_t seed = 1;
  /// Reads the `pwc` section: pwc.<cache>.entries / .ways for cache in
  /// pml5e, pml4e, pdpte, pde, ept.
  static PwcParams from(const Cfg& pwc);
};

struct PwcGuestEntry {
  Addr next_table_gpa = 0;
  std::uint8_t rights = 0;  // bit 0 writable, bit 1 user, bit 2 execute-disable, ANDed/ORed down the walk
};

class Pwc {
 public:
  explicit Pwc(const PwcParams& p);
  ~Pwc();

  /// Guest level 5, 4, 3 or 2. nullptr on a miss (counts hits/misses).
  const PwcGuestEntry* lookup_guest(unsigned level, std::uint64_t ctx, Addr gva);
  void fill_guest(unsigned level, std::uint64_t ctx, Addr gva, const PwcGuestEntry& e);

  /// EPT walk cache: HPA of the 4 KiB guest paging-structure page at `gpa`.
  bool lookup_ept(std::uint16_t ept_ctx, Addr gpa, Addr& hpa_page);
  void fill_ept(std::uint16_t ept_ctx, Addr gpa, Addr hpa_page);

  // Invalidation (SDM §28.3.3): guest caches by VPID (ctx low 16 bits), all of
  // an address's entries for a VPID; by EPT context (INVEPT single-context:
  // the EPT walk cache and the guest entries tagged with that context); all.
  void invalidate_vpid(std::uint16_t vpid);
  void invalidate_addr(std::uint16_t vpid, Addr gva);
  void invalidate_ept(std::uint16_t ept_ctx);
  void invalidate_all();

  /// Registers `<prefix>.<cache>.hits` and `.misses` for each enabled-or-not
  /// cache: pml5e, pml4e, pdpte, pde, ept.
  void register_stats(Stats& s, const std::string& prefix) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vmxsim::models
