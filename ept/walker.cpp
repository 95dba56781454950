#include "ept/walker.hpp"

#include "models/mem_hierarchy.hpp"
#include "models/phys_mem.hpp"

namespace vmxsim::ept {

EptWalk Walker::translate(const Eptp& eptp, Addr gpa, AccessType type, WalkPurpose purpose,
                          bool gla_valid) {
  EptWalk w;
  Addr used[5];  // HPAs of the entries used, root first
  unsigned n = 0;
  std::uint64_t perms = kPermMask;
  Addr table = eptp.root();
  unsigned level = eptp.levels();
  std::uint64_t e = 0;
  for (;; --level) {
    const Addr at = table + Addr(index_at(gpa, level)) * 8;
    w.cycles += hier_.access(at);
    ++w.refs;
    e = mem_.read(at);
    used[n++] = at;
    perms &= e & kPermMask;  // SDM §27.2.1: bits 5:3 AND over the entries used
    if (!present(e) || is_leaf(e, level) || level == 1) break;
    table = entry_addr(e);
  }
  w.leaf_level = std::uint8_t(level);
  w.perms = std::uint8_t(perms);

  const std::uint64_t need = needed_perm(type);
  if (!present(e) || !(perms & need)) {
    w.qual = (type == AccessType::Read ? qual::kRead : 0) |
             (type == AccessType::Write ? qual::kWrite : 0) |
             (type == AccessType::Exec ? qual::kFetch : 0) | (perms << qual::kPermShift);
    if (gla_valid) {
      w.qual |= qual::kGlaValid;
      if (purpose == WalkPurpose::kFinal) w.qual |= qual::kFinalTranslation;
    }
    return w;
  }

  const unsigned shift = level_shift(level);
  w.ok = true;
  w.page_shift = std::uint8_t(shift);
  w.hpa = entry_addr(e, level) | (gpa & ((Addr{1} << shift) - 1));
  if (!eptp.ad_enabled()) {
    w.dirty = true;  // no D flag to maintain: writes never need a walk
    return w;
  }
  // SDM §28.3.5: A in every entry used; D in the leaf on a write. Each update
  // is a locked compare-and-exchange; a lost race re-reads and retries, as the
  // hardware's atomic update would.
  for (unsigned i = 0; i < n; ++i) {
    const bool leaf = i + 1 == n;
    std::uint64_t want = kAccessed | (leaf && type == AccessType::Write ? kDirty : 0);
    std::uint64_t cur = mem_.read(used[i]);
    while ((cur & want) != want) {
      if (mem_.cmpxchg(used[i], cur, cur | want)) {
        a_set += !(cur & kAccessed);
        d_set += (want & kDirty) && !(cur & kDirty);
        cur |= want;
      }
    }
    if (leaf) w.dirty = (cur & kDirty) != 0;
  }
  return w;
}

}  // namespace vmxsim::ept
