// models::SetAssoc — a small generic set-associative cache with true LRU.
//
// Keyed by a 64-bit tag the caller builds (every value of it, 0 included, is
// an ordinary tag: validity is kept apart). The set is tag % sets, a mask when
// the set count is a power of two, so callers that want hardware-like
// indexing put the index bits at the bottom of the tag. Used by models::Pwc
// (paging-structure caches) and models::CacheLevel (L1D/L2/LLC lines).
//
// Deterministic: replacement depends only on the sequence of calls. LRU is
// kept with per-way use stamps from a per-cache counter; the victim of a full
// set is the way with the smallest stamp. A stamp of 0 marks an invalid way
// (the valid bit), which is why the counter starts at 1.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sim/error.hpp"
#include "sim/hash.hpp"

namespace vmxsim::models {

// Callers fold a context into a tag with vmxsim::mix64 (sim/hash.hpp); a
// bijection means distinct inputs never share an output, but a tag built from
// two fields can still collide, so callers that fold fields must keep the full
// key in the value and compare it.
using vmxsim::mix64;

template <class V>
class SetAssoc {
 public:
  /// A disabled cache (0 entries): every lookup misses, inserts do nothing.
  SetAssoc() = default;

  /// `entries` 0 disables the cache. Otherwise ways >= 1 and entries % ways == 0;
  /// `what` names the cache in the error (config readers check first, with key paths).
  SetAssoc(std::uint32_t entries, std::uint32_t ways, const std::string& what = "cache") {
    if (ways == 0) throw Error(what + ": ways must be at least 1");
    if (entries % ways != 0)
      throw Error(what + ": entries (" + std::to_string(entries) +
                  ") must be a multiple of ways (" + std::to_string(ways) + ")");
    if (entries == 0) return;
    ways_ = ways;
    sets_ = entries / ways;
    pow2_ = (sets_ & (sets_ - 1)) == 0;
    set_mask_ = sets_ - 1;
    slots_.assign(entries, Slot{});
    values_.assign(entries, V{});
  }

  std::uint32_t entries() const { return sets_ * ways_; }
  std::uint32_t ways() const { return ways_; }
  std::uint32_t sets() const { return sets_; }

  /// The value cached under `tag`, or nullptr. A hit makes the way most recent.
  /// The pointer is valid until the next insert, invalidation or clear.
  V* lookup(std::uint64_t tag) {
    if (sets_ == 0) return nullptr;
    const std::size_t b = base(tag);
    for (std::uint32_t w = 0; w < ways_; ++w) {
      Slot& s = slots_[b + w];
      if (s.tag == tag && s.stamp != 0) {
        s.stamp = ++clock_;
        return &values_[b + w];
      }
    }
    return nullptr;
  }

  /// Caches `v` under `tag`: replaces the value if the tag is present, else
  /// takes a free way, else evicts the least recently used way (counted).
  void insert(std::uint64_t tag, const V& v) {
    if (sets_ == 0) return;
    const std::size_t b = base(tag);
    std::size_t victim = 0;
    const std::size_t hit = scan(b, tag, victim);
    values_[hit != kNone ? hit : fill_way(victim, tag)] = v;
  }

  /// Lookup that inserts `fill` on a miss, in one pass over the set (the hot
  /// path of a cache of lines). Returns whether it hit.
  bool access(std::uint64_t tag, const V& fill = V{}) {
    if (sets_ == 0) return false;
    const std::size_t b = base(tag);
    std::size_t victim = 0;
    if (scan(b, tag, victim) != kNone) return true;
    values_[fill_way(victim, tag)] = fill;
    return false;
  }

  /// Drops every valid entry for which pred(tag, const V&) holds; returns how many.
  template <class P>
  std::uint64_t invalidate_if(P pred) {
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      const V& v = values_[i];
      if (slots_[i].stamp != 0 && pred(slots_[i].tag, v)) {
        slots_[i].stamp = 0;
        ++n;
      }
    }
    return n;
  }

  void clear() {
    for (Slot& s : slots_) s.stamp = 0;
  }

  /// Valid entries (tests, debugging; walks the whole cache).
  std::uint32_t occupancy() const {
    std::uint32_t n = 0;
    for (const Slot& s : slots_) n += s.stamp != 0;
    return n;
  }

  std::uint64_t evictions = 0;

 private:
  struct Slot {
    std::uint64_t tag = 0;
    std::uint64_t stamp = 0;  // last use; 0 = invalid way
  };

  std::size_t base(std::uint64_t tag) const {
    const std::uint64_t set = pow2_ ? (tag & set_mask_) : (tag % sets_);
    return std::size_t(set) * ways_;
  }

  static constexpr std::size_t kNone = ~std::size_t{0};

  /// One pass over the set at `b`: if `tag` is there, makes it most recent and
  /// returns its index; else returns kNone with `victim` = the way to fill: the
  /// first free way, else the least recently used. An invalid way's stamp (0)
  /// is below every valid one, so one running minimum finds both. The minimum
  /// is kept in a register, not re-read through `victim`, so the loop carries
  /// no load dependency.
  std::size_t scan(std::size_t b, std::uint64_t tag, std::size_t& victim) {
    Slot* const set = &slots_[b];
    std::uint64_t oldest = ~std::uint64_t{0};
    std::uint32_t v = 0;
    for (std::uint32_t w = 0; w < ways_; ++w) {
      const std::uint64_t stamp = set[w].stamp;
      if (set[w].tag == tag && stamp != 0) {
        set[w].stamp = ++clock_;
        return b + w;
      }
      if (stamp < oldest) {
        oldest = stamp;
        v = w;
      }
    }
    if (oldest != 0) ++evictions;  // no free way: the LRU way goes
    victim = b + v;
    return kNone;
  }

  /// Writes `tag` into way `i` as the most recent; returns `i`.
  std::size_t fill_way(std::size_t i, std::uint64_t tag) {
    slots_[i] = Slot{tag, ++clock_};
    return i;
  }

  std::uint32_t sets_ = 0, ways_ = 0;
  std::uint64_t set_mask_ = 0;  // sets_ - 1, used when pow2_
  bool pow2_ = false;
  std::uint64_t clock_ = 0;     // last stamp handed out; stamps start at 1
  std::vector<Slot> slots_;     // [set * ways + way]
  std::vector<V> values_;       // parallel to slots_
};

}  // namespace vmxsim::models
