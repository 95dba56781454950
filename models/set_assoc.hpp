// models::SetAssoc — the one set-associative engine: TLB arrays (models::Tlb),
// paging-structure caches (models::Pwc) and cache levels (models::CacheLevel).
//
// The caller picks the set (set_of() of whatever index bits it likes) and
// the tag compared within it, so one array may hold several page sizes (the
// TLB indexes each size by its own page number) and a tag never has to be
// folded into 64 bits. Validity is kept apart from the tag: every value of a
// tag is an ordinary one.
//
// Each way is one record — tag, stamp and value together — so a hit reads
// one place. The stamp is the way's age from a per-array 32-bit clock
// (0 = free way); the policy (models/replacement.hpp) says whether hits
// restamp (LRU) and whether the victim is the oldest stamp (LRU, FIFO), which
// the engine then finds in the pass it makes anyway, without a virtual call.
// Before the clock would wrap, each set's stamps are renumbered 1..n in their
// order, so victims are those of an unbounded clock.
//
// Deterministic: replacement depends only on the sequence of calls.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "models/geometry.hpp"
#include "models/replacement.hpp"
#include "sim/error.hpp"

namespace vmxsim::models {

namespace detail {
/// One way. A value-less cache (lines whose presence is all that is modelled)
/// stores no value at all.
template <class Tag, class V, bool = std::is_empty<V>::value>
struct Way {
  Tag tag;
  V value;
  std::uint32_t stamp;
};
template <class Tag, class V>
struct Way<Tag, V, true> {
  Tag tag;
  std::uint32_t stamp;
  static V& value_of(Way&) {
    static V none;
    return none;
  }
};
}  // namespace detail

/// `kClockLimit` is the last stamp handed out before a renumbering (tests
/// lower it to exercise that).
template <class Tag, class V, std::uint32_t kClockLimit = UINT32_MAX>
class SetAssoc {
  using Way = detail::Way<Tag, V>;
  static constexpr bool kHasValue = !std::is_empty<V>::value;

 public:
  static constexpr std::uint32_t kMiss = ~std::uint32_t{0};

  /// A disabled array (0 entries): every lookup misses, inserts do nothing.
  SetAssoc() = default;

  /// `g.entries` 0 disables the array. `seed` is the array's own (random
  /// policies); `what` names the array in a geometry error.
  SetAssoc(const Geometry& g, const Replacement& policy, std::uint64_t seed, const std::string& what = "array") {
    checked_geometry(what, "entries", g.entries, g.ways);
    if (g.entries == 0) return;
    if (g.ways >= kClockLimit) throw Error(what + ": ways " + std::to_string(g.ways) + " too large");
    ways_ = g.ways;
    sets_ = g.sets();
    pow2_ = (sets_ & (sets_ - 1)) == 0;
    set_mask_ = sets_ - 1;
    way_.assign(g.entries, Way{});
    policy_ = policy.build(ReplacementArgs{sets_, ways_, seed});
    const ReplacementPolicy::Traits t = policy_->traits();
    stamp_hits_ = t.stamp_hits;
    oldest_victim_ = t.oldest_victim;
    hooks_ = t.hooks;
  }

  SetAssoc(SetAssoc&&) noexcept = default;
  SetAssoc& operator=(SetAssoc&&) noexcept = default;

  std::uint32_t entries() const { return sets_ * ways_; }
  std::uint32_t ways() const { return ways_; }
  std::uint32_t sets() const { return sets_; }
  bool enabled() const { return sets_ != 0; }

  /// The set of `index` (the caller's choice of bits): index mod sets, a mask
  /// when the set count is a power of two (0 for a disabled array).
  std::uint32_t set_of(std::uint64_t index) const {
    return pow2_ ? std::uint32_t(index & set_mask_) : std::uint32_t(index % sets_);
  }

  /// The way of `set` holding `tag`, or kMiss. A hit is a use for the policy.
  std::uint32_t find(std::uint32_t set, const Tag& tag) {
    if (sets_ == 0) return kMiss;
    Way* const w = &way_[base(set)];
    for (std::uint32_t i = 0; i < ways_; ++i)
      if (w[i].tag == tag && w[i].stamp != 0) {
        hit(set, w[i], i);
        return i;
      }
    return kMiss;
  }

  /// What find() found: valid until the next insert, invalidation or clear.
  V& value(std::uint32_t set, std::uint32_t way) { return value_of(way_[base(set) + way]); }
  const Tag& tag(std::uint32_t set, std::uint32_t way) const { return way_[base(set) + way].tag; }

  /// find() as a pointer to the value, or nullptr.
  V* lookup(std::uint32_t set, const Tag& tag) {
    const std::uint32_t w = find(set, tag);
    return w == kMiss ? nullptr : &value(set, w);
  }

  /// What insert() did.
  struct Filled {
    bool done = false;     // false: the array is disabled
    bool replaced = false; // the tag was present: its value was replaced in place
    bool evicted = false;  // a valid way was evicted for it...
    Tag evicted_tag{};     // ...which held this tag
  };

  /// Stores `v` under `tag` in `set`: in place if the tag is there, else in
  /// the first free way, else over the policy's victim (counted in
  /// `evictions`). Each case is a fill for the policy.
  Filled insert(std::uint32_t set, const Tag& tag, const V& v) {
    Filled f;
    if (sets_ == 0) return f;
    f.done = true;
    std::uint32_t way = 0;
    Way* const w = &way_[base(set)];
    if (scan(w, tag, way)) {
      f.replaced = true;
    } else if (w[way].stamp != 0) {
      way = evict(set, w, way);
      f.evicted = true;
      f.evicted_tag = w[way].tag;
    }
    fill(set, w[way], way, tag, v);
    return f;
  }

  /// find(), then insert(`fill`) on a miss, in one pass over the set (the hot
  /// path of a cache of lines). Returns whether it hit.
  bool access(std::uint32_t set, const Tag& tag, const V& v = V{}) {
    if (sets_ == 0) return false;
    std::uint32_t way = 0;
    Way* const w = &way_[base(set)];
    if (scan(w, tag, way)) {
      hit(set, w[way], way);
      return true;
    }
    if (w[way].stamp != 0) way = evict(set, w, way);
    fill(set, w[way], way, tag, v);
    return false;
  }

  /// Drops every valid way for which pred(tag, value) holds (called once per
  /// valid way); returns how many.
  template <class P>
  std::uint64_t invalidate_if(P pred) {
    std::uint64_t n = 0;
    for (Way& w : way_)
      if (w.stamp != 0 && pred(static_cast<const Tag&>(w.tag), static_cast<const V&>(value_of(w)))) {
        w.stamp = 0;
        ++n;
      }
    return n;
  }

  /// invalidate_if() within one set.
  template <class P>
  std::uint64_t invalidate_in(std::uint32_t set, P pred) {
    if (sets_ == 0) return 0;
    std::uint64_t n = 0;
    Way* const w = &way_[base(set)];
    for (std::uint32_t i = 0; i < ways_; ++i)
      if (w[i].stamp != 0 && pred(static_cast<const Tag&>(w[i].tag), static_cast<const V&>(value_of(w[i])))) {
        w[i].stamp = 0;
        ++n;
      }
    return n;
  }

  void clear() {
    for (Way& w : way_) w.stamp = 0;
  }

  /// Valid entries (tests, debugging; walks the whole array).
  std::uint32_t occupancy() const {
    std::uint32_t n = 0;
    for (const Way& w : way_) n += w.stamp != 0;
    return n;
  }

  std::uint64_t evictions = 0;

 private:
  static V& value_of(Way& w) {
    if constexpr (kHasValue) return w.value;
    else return Way::value_of(w);
  }
  std::size_t base(std::uint32_t set) const { return std::size_t(set) * ways_; }

  std::uint32_t next_stamp() {
    if (clock_ == kClockLimit) renumber();
    return ++clock_;
  }

  void hit(std::uint32_t set, Way& w, std::uint32_t way) {
    if (stamp_hits_) w.stamp = next_stamp();
    if (hooks_) policy_->on_hit(set, way);
  }

  void fill(std::uint32_t set, Way& w, std::uint32_t way, const Tag& tag, const V& v) {
    w.tag = tag;
    if constexpr (kHasValue) w.value = v;
    w.stamp = next_stamp();
    if (hooks_) policy_->on_fill(set, way);
  }

  /// One pass over a set: returns whether `tag` is there (`way` = its way);
  /// else `way` = the way with the smallest stamp, the first free one if any
  /// (a free way's stamp, 0, is below every valid one). The minimum is kept
  /// in a register, so the loop carries no load dependency.
  bool scan(Way* w, const Tag& tag, std::uint32_t& way) const {
    std::uint32_t oldest = UINT32_MAX, v = 0;
    for (std::uint32_t i = 0; i < ways_; ++i) {
      const std::uint32_t s = w[i].stamp;
      if (w[i].tag == tag && s != 0) {
        way = i;
        return true;
      }
      if (s < oldest) {
        oldest = s;
        v = i;
      }
    }
    way = v;
    return false;
  }

  /// The way to evict from the full set `set`, given its oldest way; counts it.
  std::uint32_t evict(std::uint32_t set, Way* w, std::uint32_t oldest) {
    ++evictions;
    if (oldest_victim_) return oldest;
    return policy_->victim(set, StampView(&w[0].stamp, sizeof(Way), ways_));
  }

  /// Renumbers each set's stamps 1..n in their order (free ways stay 0).
  void renumber() {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> order;  // (stamp, way)
    for (std::uint32_t s = 0; s < sets_; ++s) {
      Way* const w = &way_[base(s)];
      order.clear();
      for (std::uint32_t i = 0; i < ways_; ++i)
        if (w[i].stamp != 0) order.emplace_back(w[i].stamp, i);
      std::sort(order.begin(), order.end());
      for (std::uint32_t r = 0; r < order.size(); ++r) w[order[r].second].stamp = r + 1;
    }
    clock_ = ways_;
  }

  std::uint32_t sets_ = 0, ways_ = 0;
  std::uint64_t set_mask_ = 0;  // sets_ - 1, used when pow2_ (a disabled array's: set 0)
  bool pow2_ = true;
  bool stamp_hits_ = false, oldest_victim_ = false, hooks_ = false;  // the policy's traits
  std::uint32_t clock_ = 0;     // last stamp handed out; stamps start at 1
  std::vector<Way> way_;        // [set * ways + way]
  std::unique_ptr<ReplacementPolicy> policy_;
};

}  // namespace vmxsim::models
