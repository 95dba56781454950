// models::Tlb — one TLB level: set-associative arrays of combined (GVA/GPA→HPA)
// translations tagged with VPID, PCID and EPT context.
//
// ## Configuration of one level (`tlb.l1`, `tlb.l2`, ...)
//
// | key                          | type            | default            | meaning |
// |------------------------------|-----------------|--------------------|---------|
// | `hit_cycles`                 | integer         | level's default    | latency of one probe of this level |
// | `replacement`                | string          | level's default    | replacement policy of every array: a registered name (`fifo`, `lru`, `random`) |
// | `<policy>`                   | object          | none               | the chosen policy's own keys (models/replacement.hpp; the built-in ones have none) |
// | `arrays`                     | object          | level's arrays     | array name → array object (below) |
// | `arrays.<name>.entries`      | integer         | see below          | entries in the array; `0` disables it |
// | `arrays.<name>.ways`         | integer         | see below          | associativity; at least 1, and `entries` must be a multiple of it |
// | `arrays.<name>.page_sizes`   | list of strings | see below          | page sizes held: non-empty, each of `"4K"`, `"2M"`, `"1G"` |
//
// A level's default arrays are always present (and listed by `config show`);
// an entry under `arrays` with the same name overrides their fields one by
// one. An entry with a new name adds an array, whose fields default to
// `entries: 0`, `ways: 1`, `page_sizes: ["4K"]`. Lookups probe the default
// arrays in their order, then added arrays in name order; a fill goes to the
// first enabled array holding the page size it stores. With `random`
// replacement, array i of a level is seeded with the level's seed + i.
//
// Example (Skylake's L1 DTLB with its 4K array made 8-way):
//   "tlb": { "l1": { "arrays": { "4k": { "ways": 8 } } } }
#include "models/tlb.hpp"

#include <algorithm>

#include "models/set_assoc.hpp"
#include "sim/config.hpp"
#include "sim/stats.hpp"

namespace vmxsim::models {

namespace {

// Page sizes by index: bit i of PageSizeMask holds kShift[i].
constexpr unsigned kSizes = kTlbPageSizes;
constexpr unsigned kShift[kSizes] = {kPageShift4K, kPageShift2M, kPageShift1G};
const char* const kSizeName[kSizes] = {"4K", "2M", "1G"};

constexpr Addr page_mask(unsigned shift) { return ~((Addr{1} << shift) - 1); }

// An entry's key: the page's base address (its low 12 bits are always free),
// the page-size index in bits 1-2 (so a 4K and a 2M page at one base differ)
// and a valid bit in bit 0. Key 0 is an invalid entry.
constexpr std::uint64_t kValid = 1;
constexpr std::uint64_t make_key(Addr va, unsigned shift, unsigned size) {
  return (va & page_mask(shift)) | (std::uint64_t(size) << 1) | kValid;
}
static_assert(kSizes << 1 < kPageSize4K, "key's size bits must sit below a 4K page base");
constexpr unsigned size_of_key(std::uint64_t key) { return unsigned(key >> 1) & 3; }

// Field masks of TlbContext::key().
constexpr unsigned kCtxFieldBits = 16;
constexpr std::uint64_t kCtxFieldMask = (std::uint64_t{1} << kCtxFieldBits) - 1;
constexpr unsigned kCtxEptShift = 2 * kCtxFieldBits;
constexpr std::uint16_t ctx_vpid(std::uint64_t c) { return std::uint16_t(c & kCtxFieldMask); }
constexpr std::uint16_t ctx_ept(std::uint64_t c) { return std::uint16_t((c >> kCtxEptShift) & kCtxFieldMask); }

/// The array's geometry; throws for a bad one (params built in code: the
/// config reader reports the same problems with key paths).
Geometry checked_array(const TlbArrayParams& a) {
  const std::string what = "tlb array '" + a.name + "'";
  const Geometry g = checked_geometry(what, "entries", a.entries, a.ways);
  if (a.entries != 0 && (a.page_sizes & (kHolds4K | kHolds2M | kHolds1G)) == 0)
    throw Error(what + ": holds no page size");
  return g;
}

}  // namespace

Tlb::Tlb(const TlbLevelParams& p) : params_(p) {
  for (std::size_t i = 0; i < p.arrays.size(); ++i) {
    const TlbArrayParams& ap = p.arrays[i];
    const Geometry g = checked_array(ap);
    if (ap.entries == 0) continue;  // disabled
    Array a;
    a.ways = SetAssoc<Tag, TlbEntry>(g, p.replacement, p.seed + i, "tlb array '" + ap.name + "'");
    a.holds = ap.page_sizes;
    arrays_.push_back(std::move(a));
    names_.push_back(ap.name);
  }
  for (Array& a : arrays_)  // now that the arrays stay where they are
    for (unsigned s = 0; s < kSizes; ++s)
      if (a.holds & (1u << s)) probes_.push_back({&a, page_mask(kShift[s]), make_key(0, kShift[s], s), kShift[s], s});
}

Tlb::~Tlb() = default;

void Tlb::fill(const TlbContext& ctx, Addr va, const TlbEntry& e) {
  // The size stored: the translation's own if some array holds it, else the
  // largest held smaller size ("fracturing"); the first array holding it.
  Array* a = nullptr;
  unsigned sz = kSizes;
  for (unsigned s = kSizes; s-- > 0 && !a;) {
    if (kShift[s] > e.page_shift) continue;
    for (Array& ap : arrays_)
      if (ap.holds & (1u << s)) {
        a = &ap;
        sz = s;
        break;
      }
  }
  if (!a) return;  // no array holds a size <= the translation's

  TlbEntry stored = e;
  if (kShift[sz] < e.page_shift) {
    const Addr big_offset = va & ~page_mask(e.page_shift);
    stored.hpa_base = e.hpa_base + (big_offset & page_mask(kShift[sz]));
    stored.page_shift = std::uint8_t(kShift[sz]);
  }

  // Same page and context: replaced in place; else a free way, else a victim.
  const auto f = a->ways.insert(va >> kShift[sz], Tag{make_key(va, kShift[sz], sz), ctx.key()}, stored);
  if (!f.replaced) {
    if (f.evicted) {
      ++evictions;
      --a->live[size_of_key(f.evicted_tag.key)];
    }
    ++a->live[sz];
  }
  ++fills;
}

// Invalidation models SDM §28.3.3.1 (operations that invalidate cached
// mappings): INVLPG / INVVPID individual-address drops the mappings of every
// page size and PCID that cover the address for that VPID; INVVPID
// single-context drops every mapping of a VPID; INVEPT single-context drops
// the combined mappings of one EP4TA for every VPID and PCID; the all-context
// forms drop everything.

std::uint64_t Tlb::invalidate_addr(std::uint16_t vpid, Addr va) {
  std::uint64_t n = 0;
  // A page covering va can only sit in va's set for the page's size.
  for (const Probe& p : probes_) {
    Array& a = *p.array;
    const std::uint64_t key = (va & p.page_mask) | p.key_low;
    const std::uint64_t dropped = a.ways.invalidate_in(
        va >> p.shift, [key, vpid](const Tag& t, const TlbEntry&) { return t.key == key && ctx_vpid(t.ctx) == vpid; });
    a.live[p.size] -= std::uint32_t(dropped);
    n += dropped;
  }
  invalidations += n;
  return n;
}

namespace {
template <class Arrays, class Pred>
std::uint64_t drop_where(Arrays& arrays, Pred pred) {
  std::uint64_t n = 0;
  for (auto& a : arrays)
    n += a.ways.invalidate_if([&](const auto& t, const TlbEntry&) {
      if (!pred(t.ctx)) return false;
      --a.live[size_of_key(t.key)];
      return true;
    });
  return n;
}
}  // namespace

std::uint64_t Tlb::invalidate_vpid(std::uint16_t vpid) {
  const std::uint64_t n = drop_where(arrays_, [vpid](std::uint64_t c) { return ctx_vpid(c) == vpid; });
  invalidations += n;
  return n;
}

std::uint64_t Tlb::invalidate_ept(std::uint16_t ept) {
  const std::uint64_t n = drop_where(arrays_, [ept](std::uint64_t c) { return ctx_ept(c) == ept; });
  invalidations += n;
  return n;
}

std::uint64_t Tlb::invalidate_all() {
  const std::uint64_t n = drop_where(arrays_, [](std::uint64_t) { return true; });
  invalidations += n;
  return n;
}

std::uint32_t Tlb::capacity() const {
  std::uint32_t n = 0;
  for (const Array& a : arrays_) n += a.ways.entries();
  return n;
}

std::vector<Tlb::ArrayInfo> Tlb::arrays() const {
  std::vector<ArrayInfo> out;
  for (std::size_t i = 0; i < arrays_.size(); ++i) {
    const Array& a = arrays_[i];
    out.push_back({names_[i], a.ways.entries(), a.ways.ways(), a.ways.sets(), a.holds});
  }
  return out;
}

Tlb::ValidEntry Tlb::valid_entry(std::uint32_t set, std::uint32_t way, const Tag& t, const TlbEntry& e) {
  ValidEntry v;
  v.set = set;
  v.way = way;
  v.va = t.key & page_mask(kShift[size_of_key(t.key)]);
  v.ctx.vpid = ctx_vpid(t.ctx);
  v.ctx.pcid = std::uint16_t((t.ctx >> kCtxFieldBits) & kCtxFieldMask);
  v.ctx.ept = ctx_ept(t.ctx);
  v.entry = e;
  return v;
}

void Tlb::register_stats(Stats& s, const std::string& prefix) const {
  s.counter(prefix + ".hits", &hits, "lookups", "lookups that found a translation in some array of this level");
  s.counter(prefix + ".misses", &misses, "lookups", "lookups that found no translation in any array of this level");
  s.counter(prefix + ".fills", &fills, "entries",
            "translations stored in this level (a fill of a page already held replaces it and counts too)");
  s.counter(prefix + ".evictions", &evictions, "entries",
            "valid entries of this level replaced by a fill of another page (its set was full)");
  s.counter(prefix + ".invalidations", &invalidations, "entries",
            "entries of this level dropped by INVLPG, INVVPID or INVEPT (and TLB flushes)");
}

// ---- configuration ----------------------------------------------------------

namespace {

std::vector<std::string> size_names(std::uint8_t mask) {
  std::vector<std::string> out;
  for (unsigned s = 0; s < kSizes; ++s)
    if (mask & (1u << s)) out.push_back(kSizeName[s]);
  return out;
}

/// Reads every key of one array's section (so each is known and listed),
/// with `d` supplying the defaults.
TlbArrayParams read_array(const Cfg& c, const TlbArrayParams& d) {
  TlbArrayParams a;
  a.name = d.name;
  const std::uint64_t entries = c.u64("entries", d.entries);
  const std::uint64_t ways = c.u64("ways", d.ways);
  const std::vector<std::string> sizes = c.str_list("page_sizes", size_names(d.page_sizes));

  const Geometry g = geometry_from(c, "entries", entries, ways);
  if (sizes.empty()) c.fail("page_sizes", "must name at least one page size (4K, 2M, 1G)");

  a.entries = g.entries;
  a.ways = g.ways;
  a.page_sizes = 0;
  for (const auto& name : sizes) {
    unsigned s = 0;
    while (s < kSizes && name != kSizeName[s]) ++s;
    if (s == kSizes) c.fail("page_sizes", "unknown page size \"" + name + "\" (expected 4K, 2M or 1G)");
    a.page_sizes = std::uint8_t(a.page_sizes | (1u << s));
  }
  return a;
}

}  // namespace

TlbLevelParams TlbLevelParams::from(const Cfg& level, const TlbLevelParams& defaults) {
  TlbLevelParams p;
  p.seed = defaults.seed;
  p.hit_cycles = level.u64("hit_cycles", defaults.hit_cycles);
  p.replacement = Replacement::read(level, defaults.replacement);

  const Cfg arrays = level.section("arrays");
  for (const auto& d : defaults.arrays) p.arrays.push_back(read_array(arrays.section(d.name), d));

  // Arrays the user adds; every field defaults as for an empty array.
  for (const auto& name : arrays.user_keys()) {
    const bool is_default = std::any_of(defaults.arrays.begin(), defaults.arrays.end(),
                                        [&](const TlbArrayParams& d) { return d.name == name; });
    if (is_default) continue;
    TlbArrayParams fresh;
    fresh.name = name;
    fresh.entries = 0;
    fresh.ways = 1;
    fresh.page_sizes = kHolds4K;
    p.arrays.push_back(read_array(arrays.section(name), fresh));
  }
  return p;
}

}  // namespace vmxsim::models
