// models::SetAssoc — the one set-associative engine: TLB arrays (models::Tlb),
// paging-structure caches (models::Pwc) and cache levels (models::CacheLevel).
//
// The caller gives an index (whatever bits it likes: the set is the index
// mod sets) and the tag compared within the set, so one array may hold
// several page sizes (the TLB indexes each size by its own page number) and a
// tag never has to be folded into 64 bits. A tag must always come with the
// same index (the index is a function of the tag). Every value of a tag is an
// ordinary one: validity is kept apart.
//
// Layout, for speed (the TLB-hit and walk-heavy paths probe these arrays on
// every access):
//  - a one-byte hint per way: 7 bits of its index above the set's (0 = free
//    way), the set's hints contiguous. A probe compares 8 ways in a few
//    instructions, with no branch per way, and a miss reads one small line
//    (the hints of a whole LLC fit the host's L2) instead of every tag;
//  - one record per way, the tag and its value together, read only where the
//    hint matches (then the full tag decides);
//  - a 32-bit stamp per way, the way's age from a per-array clock (0 = free),
//    contiguous per set for the victim search. The policy
//    (models/replacement.hpp) says whether hits restamp (LRU) and whether
//    the victim is the oldest stamp (LRU, FIFO), which the engine then finds
//    itself, without a virtual call. Before the clock would wrap, each set's
//    stamps are renumbered 1..n in their order, so the victims are those of
//    an unbounded clock.
//
// Deterministic: replacement depends only on the sequence of calls (hints
// only filter compares; the full tag always decides).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
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
/// One way's tag and value. A value-less array (cache lines, whose presence is
/// all that is modelled) stores no value at all.
template <class Tag, class V, bool = std::is_empty<V>::value>
struct Record {
  Tag tag;
  V value;
};
template <class Tag, class V>
struct Record<Tag, V, true> {
  Tag tag;
};
}  // namespace detail

/// `kClockLimit` is the last stamp handed out before a renumbering (tests
/// lower it to exercise that).
template <class Tag, class V, std::uint32_t kClockLimit = UINT32_MAX>
class SetAssoc {
  using Record = detail::Record<Tag, V>;
  static constexpr bool kHasValue = !std::is_empty<V>::value;
  static constexpr std::uint32_t kHintChunk = 8;  // hints compared at once (one 64-bit word)

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
    index_bits_ = pow2_ ? std::uint32_t(__builtin_ctz(sets_)) : 0;
    hint_stride_ = (ways_ + kHintChunk - 1) / kHintChunk * kHintChunk;  // padding hints stay 0
    hint_.assign(std::size_t(sets_) * hint_stride_, 0);
    hints_ = hint_.data();
    stamp_.assign(g.entries, 0);
    rec_.assign(g.entries, Record{});
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

  /// The set of `index`: index mod sets, a mask when the set count is a power
  /// of two (0 for a disabled array).
  std::uint32_t set_of(std::uint64_t index) const {
    return pow2_ ? std::uint32_t(index & set_mask_) : std::uint32_t(index % sets_);
  }

  /// The value under `tag` in `index`'s set, or nullptr. A hit is a use for
  /// the policy. The pointer is valid until the next insert, invalidation or
  /// clear.
  V* lookup(std::uint64_t index, const Tag& tag) {
    const Probe p = probe(index);
    const std::uint32_t way = match(p, tag);
    if (way == kMiss) return nullptr;
    hit(p.set, way);
    return &value_of(rec_[slot(p.set, way)]);
  }

  /// What insert() did.
  struct Filled {
    bool done = false;      // false: the array is disabled
    bool replaced = false;  // the tag was present: its value was replaced in place
    bool evicted = false;   // a valid way was evicted for it...
    Tag evicted_tag{};      // ...which held this tag
  };

  /// Stores `v` under `tag` in `set`: in place if the tag is there, else in
  /// the first free way, else over the policy's victim (counted in
  /// `evictions`). Each case is a fill for the policy.
  Filled insert(std::uint64_t index, const Tag& tag, const V& v) {
    const Probe p = probe(index);
    const std::uint32_t way = match(p, tag);
    if (way == kMiss) return insert_missing(p, tag, v);
    fill(p, way, tag, v);
    Filled f;
    f.done = f.replaced = true;
    return f;
  }

  /// lookup(), then insert(`v`) on a miss (the hot path of a cache of lines).
  /// Returns whether it hit.
  bool access(std::uint64_t index, const Tag& tag, const V& v = V{}) {
    const Probe p = probe(index);
    const std::uint32_t way = match(p, tag);
    if (__builtin_expect(way != kMiss, 1)) {
      hit(p.set, way);
      return true;
    }
    fill_missing(p, tag, v);
    return false;
  }

  /// Drops every valid way for which pred(tag, value) holds (called once per
  /// valid way); returns how many.
  template <class P>
  std::uint64_t invalidate_if(P pred) {
    std::uint64_t n = 0;
    for (std::uint32_t s = 0; s < sets_; ++s) n += invalidate_set(s, pred);
    return n;
  }

  /// invalidate_if() within `index`'s set.
  template <class P>
  std::uint64_t invalidate_in(std::uint64_t index, P pred) {
    return invalidate_set(set_of(index), pred);
  }

  void clear() {
    std::fill(stamp_.begin(), stamp_.end(), 0);
    std::fill(hint_.begin(), hint_.end(), 0);
  }

  /// Valid entries (tests, debugging; walks the whole array).
  std::uint32_t occupancy() const {
    std::uint32_t n = 0;
    for (std::uint32_t s : stamp_) n += s != 0;
    return n;
  }

  /// Read-only: calls f(set, way, tag, value) for every valid way, in set
  /// then way order (inspection, e.g. `vmxsim run --dump`; never on a hot path).
  template <class F>
  void for_each_valid(F f) const {
    for (std::uint32_t s = 0; s < sets_; ++s)
      for (std::uint32_t w = 0; w < ways_; ++w) {
        const std::size_t i = slot(s, w);
        if (stamp_[i] == 0) continue;
        if constexpr (kHasValue) f(s, w, static_cast<const Tag&>(rec_[i].tag), static_cast<const V&>(rec_[i].value));
        else f(s, w, static_cast<const Tag&>(rec_[i].tag), V{});
      }
  }

  std::uint64_t evictions = 0;

 private:
  /// Where a probe of `index` looks, and the hint it looks for.
  struct Probe {
    std::uint32_t set;
    std::uint8_t hint;
  };
  Probe probe(std::uint64_t index) const {
    if (pow2_)  // the next 7 index bits above the set's
      return Probe{std::uint32_t(index & set_mask_), std::uint8_t((index >> index_bits_) | 0x80)};
    // Other set counts (unusual geometries): a multiplicative hash of the index.
    return Probe{std::uint32_t(index % sets_), std::uint8_t(((index * 0x9E3779B97F4A7C15ull) >> 57) | 0x80)};
  }

  template <class P>
  std::uint64_t invalidate_set(std::uint32_t set, P pred) {
    std::uint64_t n = 0;
    for (std::uint32_t w = 0; w < ways_; ++w) {
      const std::size_t i = slot(set, w);
      if (stamp_[i] != 0 && pred(static_cast<const Tag&>(rec_[i].tag), static_cast<const V&>(value_of(rec_[i])))) {
        free_way(set, w);
        ++n;
      }
    }
    return n;
  }

  static V& value_of(Record& r) {
    if constexpr (kHasValue) {
      return r.value;
    } else {
      static V none;  // nothing to store
      return none;
    }
  }
  std::size_t slot(std::uint32_t set, std::uint32_t way) const { return std::size_t(set) * ways_ + way; }

  /// The way of the probed set holding `tag`, or kMiss. The hints of eight
  /// ways are compared at once: bytes equal to the probe's hint become zero
  /// bytes, which the carry trick flags. A flag can be false only on the byte
  /// just above a flagged one whose hint differs in its lowest bit, so only
  /// on a valid way (free ways and padding hold 0, never within one bit of a
  /// hint, whose high bit is set); the full compare discards it.
  std::uint32_t match(const Probe& p, const Tag& tag) const {
    constexpr std::uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
    const std::uint64_t pattern = kOnes * p.hint;
    const std::uint8_t* const hints = hints_ + std::size_t(p.set) * hint_stride_;
    const Record* const rec = rec_.data() + slot(p.set, 0);
    std::uint32_t c = 0;
    do {  // at least one chunk: a disabled array's is kNoHints
      std::uint64_t word;
      std::memcpy(&word, hints + c, sizeof word);  // little-endian: byte i is way c + i
      word ^= pattern;
      for (std::uint64_t flags = (word - kOnes) & ~word & kHighs; flags; flags &= flags - 1) {
        const std::uint32_t way = c + std::uint32_t(__builtin_ctzll(flags)) / 8;
        if (rec[way].tag == tag) return way;
      }
      c += kHintChunk;
    } while (c < hint_stride_);
    return kMiss;
  }

  void free_way(std::uint32_t set, std::uint32_t way) {
    stamp_[slot(set, way)] = 0;
    hint_[std::size_t(set) * hint_stride_ + way] = 0;
  }

  std::uint32_t next_stamp() {
    if (__builtin_expect(clock_ == kClockLimit, 0)) renumber();
    return ++clock_;
  }

  void hit(std::uint32_t set, std::uint32_t way) {
    if (stamp_hits_) stamp_[slot(set, way)] = next_stamp();
    if (hooks_) policy_->on_hit(set, way);
  }

  void fill(const Probe& p, std::uint32_t way, const Tag& tag, const V& v) {
    const std::size_t i = slot(p.set, way);
    rec_[i].tag = tag;
    if constexpr (kHasValue) rec_[i].value = v;
    hint_[std::size_t(p.set) * hint_stride_ + way] = p.hint;
    stamp_[i] = next_stamp();
    if (hooks_) policy_->on_fill(p.set, way);
  }

  /// A miss of `tag` in `set`: fills the first free way, else evicts the
  /// victim (the oldest way for a stamp policy, found in the same pass: a free
  /// way's stamp, 0, is below every valid one, ties go to the lowest way).
  /// Says what it did in `f` when given one.
  void fill_miss(const Probe& p, const Tag& tag, const V& v, Filled* f) {
    if (ways_ == 0) return;  // disabled
    const std::uint32_t set = p.set;
    const std::uint32_t* const s = stamp_.data() + slot(set, 0);
    // The smallest (stamp, way) pair, packed into one integer: one compare and
    // select per way, no branch (which way wins is unpredictable).
    std::uint64_t best = std::uint64_t(s[0]) << 32;
    for (std::uint32_t w = 1; w < ways_; ++w) best = std::min(best, std::uint64_t(s[w]) << 32 | w);
    const std::uint32_t oldest = std::uint32_t(best >> 32);
    std::uint32_t way = std::uint32_t(best);
    if (oldest != 0) {  // full
      ++evictions;
      if (!oldest_victim_) way = policy_->victim(set, StampView(s, ways_));
      if (f) {
        f->evicted = true;
        f->evicted_tag = rec_[slot(set, way)].tag;
      }
    }
    if (f) f->done = true;
    fill(p, way, tag, v);
  }
  // Out of line, with everything by value, so the hit paths stay small enough
  // to inline and keep their registers.
  __attribute__((noinline)) void fill_missing(Probe p, Tag tag, V v) { fill_miss(p, tag, v, nullptr); }
  __attribute__((noinline)) Filled insert_missing(Probe p, Tag tag, V v) {
    Filled f;
    fill_miss(p, tag, v, &f);
    return f;
  }

  /// Renumbers each set's stamps 1..n in their order (free ways stay 0).
  __attribute__((noinline)) void renumber() {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> order;  // (stamp, way)
    for (std::uint32_t set = 0; set < sets_; ++set) {
      std::uint32_t* const s = stamp_.data() + slot(set, 0);
      order.clear();
      for (std::uint32_t w = 0; w < ways_; ++w)
        if (s[w] != 0) order.emplace_back(s[w], w);
      std::sort(order.begin(), order.end());
      for (std::uint32_t r = 0; r < order.size(); ++r) s[order[r].second] = r + 1;
    }
    clock_ = ways_;
  }

  std::uint32_t sets_ = 0, ways_ = 0;
  // Hints per set: ways rounded up to kHintChunk (one chunk of kNoHints, all
  // free, for a disabled array, so a probe needs no test of its own).
  std::uint32_t hint_stride_ = kHintChunk;
  static constexpr std::uint8_t kNoHints[kHintChunk] = {};
  const std::uint8_t* hints_ = kNoHints;  // hint_.data() when enabled
  std::uint64_t set_mask_ = 0;            // sets_ - 1, used when pow2_ (a disabled array's: set 0)
  std::uint32_t index_bits_ = 0;          // log2(sets_), used when pow2_
  bool pow2_ = true;
  bool stamp_hits_ = false, oldest_victim_ = false, hooks_ = false;  // the policy's traits
  std::uint32_t clock_ = 0;                                          // last stamp handed out; stamps start at 1
  std::vector<std::uint8_t> hint_;                                   // [set * hint_stride_ + way]; 0 = free
  std::vector<std::uint32_t> stamp_;                                 // [set * ways + way]; 0 = free
  std::vector<Record> rec_;                                          // [set * ways + way]
  std::unique_ptr<ReplacementPolicy> policy_;
};

}  // namespace vmxsim::models
