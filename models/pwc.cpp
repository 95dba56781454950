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
// The set tag folds the key and the context into 64 bits: prefix ^ mix64(ctx).
// Within one context consecutive prefixes land in consecutive sets, as an
// address-indexed cache would place them. Two different (prefix, ctx) pairs
// can fold to one tag, so each entry keeps its full key and a lookup compares
// it: a collision costs at most a miss (or the other entry, on a fill), never
// a wrong hit. The EPT walk cache does the same with (GPA >> 12, EPT context).
#include "models/pwc.hpp"

#include <array>
#include <vector>

#include "models/set_assoc.hpp"
#include "sim/config.hpp"
#include "sim/error.hpp"
#include "sim/stats.hpp"

namespace vmxsim::models {

namespace {

// Caches by index: the four guest levels, highest first, then the EPT cache.
constexpr unsigned kCaches = 5;
constexpr unsigned kEpt = 4;
const char* const kName[kCaches] = {"pml5e", "pml4e", "pdpte", "pde", "ept"};
constexpr PwcCacheParams PwcParams::*kField[kCaches] = {
    &PwcParams::pml5e, &PwcParams::pml4e, &PwcParams::pdpte, &PwcParams::pde, &PwcParams::ept};

// Guest paging levels a cache exists for (SDM §4.10.3.1: PML5E, PML4E, PDPTE,
// PDE caches; PTEs are cached only as translations, in the TLB).
constexpr unsigned kLowestGuestLevel = 2;
constexpr unsigned kHighestGuestLevel = 5;
constexpr unsigned kEntryIndexBits = 9;  // 512 entries per paging structure

constexpr unsigned level_shift(unsigned level) {
  return kPageShift4K + kEntryIndexBits * (level - 1);
}
static_assert(level_shift(2) == kPageShift2M && level_shift(3) == kPageShift1G);

constexpr unsigned cache_of(unsigned level) { return kHighestGuestLevel - level; }

// TlbContext::key() keeps the VPID in its low 16 bits.
constexpr std::uint64_t kVpidMask = 0xFFFF;
constexpr unsigned kCtxEptShift = 32;  // TlbContext::key(): vpid | pcid << 16 | ept << 32

std::uint64_t fold(std::uint64_t prefix, std::uint64_t ctx) { return prefix ^ mix64(ctx); }

std::string geometry_error(std::uint64_t entries, std::uint64_t ways, std::string& key) {
  if (ways == 0) {
    key = "ways";
    return "must be at least 1";
  }
  if (ways > UINT32_MAX) {
    key = "ways";
    return "too large: " + std::to_string(ways);
  }
  if (entries > UINT32_MAX) {
    key = "entries";
    return "too large: " + std::to_string(entries);
  }
  if (entries % ways != 0) {
    key = "entries";
    return std::to_string(entries) + " is not a multiple of ways (" + std::to_string(ways) + ")";
  }
  return "";
}

}  // namespace

// ---- configuration ----------------------------------------------------------

PwcParams PwcParams::from(const Cfg& pwc) {
  PwcParams p;
  // Read every key of every cache first, so all are known and listed.
  std::vector<Cfg> sections;
  std::uint64_t entries[kCaches], ways[kCaches];
  for (unsigned i = 0; i < kCaches; ++i) {
    const PwcCacheParams& d = p.*kField[i];
    sections.push_back(pwc.section(kName[i]));
    entries[i] = sections[i].u64("entries", d.entries);
    ways[i] = sections[i].u64("ways", d.ways);
  }
  for (unsigned i = 0; i < kCaches; ++i) {
    std::string key;
    const std::string err = geometry_error(entries[i], ways[i], key);
    if (!err.empty()) sections[i].fail(key, err);
    p.*kField[i] = PwcCacheParams{std::uint32_t(entries[i]), std::uint32_t(ways[i])};
  }
  return p;
}

// ---- the caches -------------------------------------------------------------

struct Pwc::Impl {
  struct GuestSlot {
    std::uint64_t prefix = 0;  // gva >> level_shift(level)
    std::uint64_t ctx = 0;     // TlbContext::key()
    PwcGuestEntry entry;
  };
  struct EptSlot {
    std::uint64_t gpn = 0;     // gpa >> 12
    std::uint16_t ept = 0;
    Addr hpa_page = 0;
  };

  std::array<SetAssoc<GuestSlot>, kEpt> guest;  // by cache_of(level)
  SetAssoc<EptSlot> ept;
  std::uint64_t hits[kCaches] = {}, misses[kCaches] = {};

  SetAssoc<GuestSlot>& guest_cache(unsigned level) {
    if (level < kLowestGuestLevel || level > kHighestGuestLevel)
      throw Error("pwc: guest level " + std::to_string(level) + " has no cache (2 to 5)");
    return guest[cache_of(level)];
  }
};

Pwc::Pwc(const PwcParams& p) : impl_(std::make_unique<Impl>()) {
  for (unsigned i = 0; i < kCaches; ++i) {
    const PwcCacheParams& c = p.*kField[i];
    std::string key;
    const std::string err = geometry_error(c.entries, c.ways, key);
    if (!err.empty()) throw Error(std::string("pwc.") + kName[i] + "." + key + ": " + err);
  }
  for (unsigned i = 0; i < kEpt; ++i) {
    const PwcCacheParams& c = p.*kField[i];
    impl_->guest[i] = SetAssoc<Impl::GuestSlot>(c.entries, c.ways, kName[i]);
  }
  impl_->ept = SetAssoc<Impl::EptSlot>(p.ept.entries, p.ept.ways, kName[kEpt]);
}

Pwc::~Pwc() = default;

const PwcGuestEntry* Pwc::lookup_guest(unsigned level, std::uint64_t ctx, Addr gva) {
  auto& cache = impl_->guest_cache(level);  // checks the level before it is used
  const unsigned i = cache_of(level);
  const std::uint64_t prefix = gva >> level_shift(level);
  const Impl::GuestSlot* s = cache.lookup(fold(prefix, ctx));
  if (s && s->prefix == prefix && s->ctx == ctx) {
    ++impl_->hits[i];
    return &s->entry;
  }
  ++impl_->misses[i];
  return nullptr;
}

void Pwc::fill_guest(unsigned level, std::uint64_t ctx, Addr gva, const PwcGuestEntry& e) {
  auto& cache = impl_->guest_cache(level);  // checks the level before it is used
  const std::uint64_t prefix = gva >> level_shift(level);
  cache.insert(fold(prefix, ctx), Impl::GuestSlot{prefix, ctx, e});
}

bool Pwc::lookup_ept(std::uint16_t ept_ctx, Addr gpa, Addr& hpa_page) {
  const std::uint64_t gpn = gpa >> kPageShift4K;
  const Impl::EptSlot* s = impl_->ept.lookup(fold(gpn, ept_ctx));
  if (s && s->gpn == gpn && s->ept == ept_ctx) {
    ++impl_->hits[kEpt];
    hpa_page = s->hpa_page;
    return true;
  }
  ++impl_->misses[kEpt];
  return false;
}

void Pwc::fill_ept(std::uint16_t ept_ctx, Addr gpa, Addr hpa_page) {
  const std::uint64_t gpn = gpa >> kPageShift4K;
  impl_->ept.insert(fold(gpn, ept_ctx), Impl::EptSlot{gpn, ept_ctx, hpa_page});
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
  for (auto& c : impl_->guest)
    c.invalidate_if([vpid](std::uint64_t, const Impl::GuestSlot& s) {
      return (s.ctx & kVpidMask) == vpid;
    });
}

void Pwc::invalidate_addr(std::uint16_t vpid, Addr gva) {
  for (unsigned level = kLowestGuestLevel; level <= kHighestGuestLevel; ++level) {
    const std::uint64_t prefix = gva >> level_shift(level);
    impl_->guest[cache_of(level)].invalidate_if(
        [vpid, prefix](std::uint64_t, const Impl::GuestSlot& s) {
          return s.prefix == prefix && (s.ctx & kVpidMask) == vpid;
        });
  }
}

void Pwc::invalidate_ept(std::uint16_t ept_ctx) {
  // Single-context INVEPT drops the combined paging-structure-cache entries
  // of that EPT context too (SDM §28.3.3.1), not just the EPT walk cache.
  impl_->ept.invalidate_if(
      [ept_ctx](std::uint64_t, const Impl::EptSlot& s) { return s.ept == ept_ctx; });
  for (auto& c : impl_->guest)
    c.invalidate_if([ept_ctx](std::uint64_t, const Impl::GuestSlot& s) {
      return std::uint16_t(s.ctx >> kCtxEptShift) == ept_ctx;
    });
}

void Pwc::invalidate_all() {
  for (auto& c : impl_->guest) c.clear();
  impl_->ept.clear();
}

void Pwc::register_stats(Stats& s, const std::string& prefix) const {
  for (unsigned i = 0; i < kCaches; ++i) {
    s.counter(prefix + "." + kName[i] + ".hits", &impl_->hits[i]);
    s.counter(prefix + "." + kName[i] + ".misses", &impl_->misses[i]);
  }
}

}  // namespace vmxsim::models
