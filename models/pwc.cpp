// models::Pwc — the paging-structure caches of one vCPU.
//
// ## Configuration (`pwc`)
//
// | key                  | type    | default | meaning |
// |----------------------|---------|---------|---------|
// | `pwc.pml5e.entries`  | integer | 2       | PML5E cache entries; 0 disables it |
// | `pwc.pml5e.ways`     | integer | 2       | associativity: at least 1, and `entries` a multiple of it |
// | `pwc.pml4e.entries`  | integer | 4       | |
// | `pwc.pml4e.ways`     | integer | 4       | |
// | `pwc.pdpte.entries`  | integer | 4       | |
// | `pwc.pdpte.ways`     | integer | 4       | |
// | `pwc.pde.entries`    | integer | 32      | |
// | `pwc.pde.ways`       | integer | 4       | |
// | `pwc.ept.entries`    | integer | 16      | EPT walk cache (GPA→HPA of guest paging-structure pages) |
// | `pwc.ept.ways`       | integer | 4       | |
// | `pwc.<cache>.replacement` | string | `lru` | replacement policy of that cache: a registered name (`fifo`, `lru`, `random`) |
// | `pwc.<cache>.<policy>` | object | none  | the chosen policy's own keys (models/replacement.hpp) |
//
// With `random`, cache i (pml5e 0, pml4e 1, pdpte 2, pde 3, ept 4) is seeded
// with PwcParams::seed + i (a stream of sim.seed per vCPU).
//
// Every default is our estimate: Intel does not publish paging-structure-cache
// sizes (SDM §4.10.3 describes what they may hold, not how many entries).
//
// ## Keys
//
// A level-L guest entry is selected by GVA bits 12+9L-1 .. 12+9(L-1) and every
// bit above (SDM §4.10.3.1: a PDE-cache entry is referenced by bits 47:21 of
// the linear address with 4-level paging, and so on up), so its key is gva >> level_shift(L)
// with level_shift(L) = 12 + 9(L-1): 21 (PDE, 2 MiB), 30 (PDPTE, 1 GiB),
// 39 (PML4E), 48 (PML5E). Entries also carry the context (VPID, PCID, EPT
// context; TlbContext::key()).
//
// The set of an entry is picked by prefix ^ mix64(ctx): within one context
// consecutive prefixes land in consecutive sets, as an address-indexed cache
// would place them. The tag compared within the set is the full (prefix, ctx)
// pair, so a hit is always the entry's own. The EPT walk cache does the same
// with (GPA >> 12, EPT context).
#include "models/pwc.hpp"

#include <vector>

#include "models/geometry.hpp"
#include "sim/config.hpp"
#include "sim/error.hpp"
#include "sim/stats.hpp"

namespace vmxsim::models {

namespace {

// Caches by index (as Pwc's): the four guest levels, highest first, then the EPT cache.
constexpr unsigned kCaches = 5;
const char* const kName[kCaches] = {"pml5e", "pml4e", "pdpte", "pde", "ept"};
constexpr PwcCacheParams PwcParams::*kField[kCaches] = {&PwcParams::pml5e, &PwcParams::pml4e, &PwcParams::pdpte,
                                                        &PwcParams::pde, &PwcParams::ept};

// TlbContext::key() keeps the VPID in its low 16 bits and the EPT context at bit 32.
constexpr std::uint64_t kVpidMask = 0xFFFF;
constexpr unsigned kCtxEptShift = 32;

}  // namespace

static_assert(kPageShift4K + 9 * (2 - 1) == kPageShift2M && kPageShift4K + 9 * (3 - 1) == kPageShift1G,
              "a PDE covers 2 MiB, a PDPTE 1 GiB");

// ---- configuration ----------------------------------------------------------

PwcParams PwcParams::from(const Cfg& pwc) {
  PwcParams p;
  // Read every key of every cache first, so all are known and listed.
  std::vector<Cfg> sections;
  std::uint64_t entries[kCaches], ways[kCaches];
  for (unsigned i = 0; i < kCaches; ++i) {
    PwcCacheParams& c = p.*kField[i];
    sections.push_back(pwc.section(kName[i]));
    entries[i] = sections[i].u64("entries", c.entries);
    ways[i] = sections[i].u64("ways", c.ways);
    c.replacement = Replacement::read(sections[i], c.replacement);
  }
  for (unsigned i = 0; i < kCaches; ++i) {
    const Geometry g = geometry_from(sections[i], "entries", entries[i], ways[i]);
    (p.*kField[i]).entries = g.entries;
    (p.*kField[i]).ways = g.ways;
  }
  return p;
}

// ---- the caches -------------------------------------------------------------

Pwc::Pwc(const PwcParams& p) {
  for (unsigned i = 0; i < kCaches; ++i) {
    const PwcCacheParams& c = p.*kField[i];
    const std::string what = std::string("pwc.") + kName[i];
    const Geometry g = checked_geometry(what, "entries", c.entries, c.ways);
    if (i == kEptCache) ept_ = SetAssoc<EptTag, PwcEptEntry>(g, c.replacement, p.seed + i, what);
    else guest_[i] = SetAssoc<GuestTag, PwcGuestEntry>(g, c.replacement, p.seed + i, what);
  }
}

void Pwc::bad_level(unsigned level) {
  throw Error("pwc: guest level " + std::to_string(level) + " has no cache (2 to 5)");
}

// Invalidation, after SDM §28.3.3.1 (operations that invalidate cached
// mappings). The guest caches hold linear mappings' upper levels, tagged with
// VPID, so INVVPID single-context drops a VPID's entries for every PCID and
// EPT context. INVVPID individual-address drops, at every level, the entries
// of that VPID (any PCID, any EPT context) that would be used to translate the
// address, i.e. whose prefix is the address's. The EPT walk cache holds
// guest-physical mappings, which INVEPT single-context drops for one EPT
// context; INVVPID never touches it. The caches are small (tens of entries),
// so each invalidation scans them whole.

void Pwc::invalidate_vpid(std::uint16_t vpid) {
  for (auto& c : guest_)
    c.invalidate_if([vpid](const GuestTag& t, const PwcGuestEntry&) { return (t.ctx & kVpidMask) == vpid; });
}

void Pwc::invalidate_addr(std::uint16_t vpid, Addr gva) {
  for (unsigned level = kLowestGuestLevel; level <= kHighestGuestLevel; ++level) {
    const std::uint64_t prefix = gva >> level_shift(level);
    guest_[cache_of(level)].invalidate_if([vpid, prefix](const GuestTag& t, const PwcGuestEntry&) {
      return t.prefix == prefix && (t.ctx & kVpidMask) == vpid;
    });
  }
}

void Pwc::invalidate_ept(std::uint16_t ept_ctx) {
  // Single-context INVEPT drops the combined paging-structure-cache entries
  // of that EPT context too (SDM §28.3.3.1), not just the EPT walk cache.
  ept_.invalidate_if([ept_ctx](const EptTag& t, const PwcEptEntry&) { return t.ept == ept_ctx; });
  for (auto& c : guest_)
    c.invalidate_if(
        [ept_ctx](const GuestTag& t, const PwcGuestEntry&) { return std::uint16_t(t.ctx >> kCtxEptShift) == ept_ctx; });
}

void Pwc::invalidate_ept_addr(std::uint16_t ept_ctx, Addr gpa) {
  if (!ept_.enabled()) return;
  const EptTag tag{gpa >> kPageShift4K, ept_ctx};
  ept_.invalidate_in(set_index(tag.gpn, ept_ctx), [tag](const EptTag& t, const PwcEptEntry&) { return t == tag; });
}

void Pwc::invalidate_all() {
  for (auto& c : guest_) c.clear();
  ept_.clear();
}

void Pwc::register_stats(Stats& s, const std::string& prefix) const {
  for (unsigned i = 0; i < kCaches; ++i) {
    const std::string what = i == kEptCache ? "EPT-walk-cache lookups (guest paging-structure page GPA to HPA)"
                                            : std::string(kName[i]) + "-cache lookups of the 2D walk";
    s.counter(prefix + "." + kName[i] + ".hits", &hits_[i], "lookups", what + " that hit");
    s.counter(prefix + "." + kName[i] + ".misses", &misses_[i], "lookups",
              what + " that missed (a disabled cache always misses)");
  }
}

}  // namespace vmxsim::models
