#include "ept/walker.hpp"

#include <algorithm>

#include "ept/guest_entry.hpp"
#include "models/mem_hierarchy.hpp"
#include "models/phys_mem.hpp"
#include "models/pwc.hpp"
#include "pml/engine.hpp"

namespace vmxsim::ept {

EptWalk Walker::translate(const Eptp& eptp, Addr gpa, AccessType type, WalkPurpose purpose, bool gla_valid) {
  EptWalk w;
  Addr used[5];           // HPAs of the entries used, root first
  std::uint64_t vals[5];  // and their values as read
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
    vals[n] = e;
    used[n++] = at;
    perms &= e & kPermMask;  // SDM §27.2.1: bits 5:3 AND over the entries used
    if (!present(e)) break;
    // The common case first: a table entry with bits 7:3 clear and not
    // write-without-read is well-formed (SDM §28.2.3.1); anything else gets
    // the full check once.
    if (__builtin_expect(level > 1 && (e & 0xF8) == 0 && (e & (kRead | kWrite)) != kWrite, 1)) {
      table = entry_addr(e);
      continue;
    }
    if (misconfigured(e, level)) {  // exit reason 49: no qualification, no flag set
      w.leaf_level = std::uint8_t(level);
      w.misconfig = true;
      return w;
    }
    break;  // a leaf
  }
  w.leaf_level = std::uint8_t(level);
  w.perms = std::uint8_t(perms);

  const std::uint64_t need = needed_perm(type);
  if (!present(e) || !(perms & need)) {
    w.qual = (type == AccessType::Read ? qual::kRead : 0) | (type == AccessType::Write ? qual::kWrite : 0) |
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
  const auto want_of = [&](unsigned i) { return kAccessed | (i + 1 == n && type == AccessType::Write ? kDirty : 0); };
  // SDM §28.3.6: before an access that must set an A or D flag, a full PML log
  // (index outside the log) causes a PML-full exit instead; no flag is set.
  if (pml_) {
    bool any = false;
    for (unsigned i = 0; i < n; ++i) any |= (vals[i] & want_of(i)) != want_of(i);
    if (any && !pml_->may_set_flags()) {
      w.ok = false;
      w.pml_full = true;
      return w;
    }
  }
  for (unsigned i = 0; i < n; ++i) {
    const bool leaf = i + 1 == n;
    const std::uint64_t want = want_of(i);
    std::uint64_t cur = vals[i];  // nothing ran since the read: the walk is one instant
    while ((cur & want) != want) {
      if (mem_.cmpxchg(used[i], cur, cur | want)) {
        a_set += !(cur & kAccessed);
        if ((want & kDirty) && !(cur & kDirty)) {
          ++d_set;
          if (pml_) pml_->log(gpa);  // a leaf D 0→1 is logged
        }
        cur |= want;
      }
    }
    if (leaf) w.dirty = (cur & kDirty) != 0;
  }
  return w;
}

namespace {
// Combined guest rights carried down the walk (and in the PWC).
constexpr std::uint8_t kRightWrite = 1, kRightUser = 2, kRightNoExec = 4;
std::uint8_t rights_of(std::uint64_t e) {
  return std::uint8_t(((e & guest::kWritable) ? kRightWrite : 0) | ((e & guest::kUser) ? kRightUser : 0) |
                      ((e & guest::kNoExecute) ? kRightNoExec : 0));
}
std::uint8_t combine(std::uint8_t acc, std::uint8_t e) {
  // W and U need every level; XD on any level forbids execution.
  return std::uint8_t((acc & e & (kRightWrite | kRightUser)) | ((acc | e) & kRightNoExec));
}
// Guest #PF error code (SDM Vol. 3A §4.7): bit 0 protection violation (else
// not present), bit 1 write, bit 2 user-mode access, bit 4 instruction fetch.
std::uint32_t pf_error(bool protection, AccessType type) {
  return (protection ? 1u : 0u) | (type == AccessType::Write ? 2u : 0u) | 4u | (type == AccessType::Exec ? 16u : 0u);
}
}  // namespace

Walk2d Walker::translate_2d(const Eptp& eptp, const GuestPaging& g, Addr gva, AccessType type, models::Pwc* pwc) {
  Walk2d w;
  const bool ad = eptp.ad_enabled();
  // With EPT A/D on, guest paging-structure accesses are EPT writes (SDM §28.3.3.2).
  const AccessType table_access = ad ? AccessType::Write : AccessType::Read;
  // A faulting guest-paging access reports the entry's GPA (SDM §27.2.1: the
  // guest-physical address of the access), not its table's.
  auto fail_ept = [&](const EptWalk& e, Addr gpa, bool guest_paging) {
    w.status = e.pml_full ? WalkStatus::kPmlFull : e.misconfig ? WalkStatus::kEptMisconfig : WalkStatus::kEptViolation;
    // With A/D on the walker reads and updates each entry in one locked
    // access: hardware reports it as a read and a write (bits 0 and 1; the
    // SDM allows bit 0 on a read-modify-write, and kvm-unit-tests' EPT access
    // tests expect both). Without A/D the read is a plain read.
    w.qual = e.qual | (guest_paging && ad && !e.pml_full && !e.misconfig ? qual::kRead : 0);
    w.fault_gpa = gpa;
    w.paging_fault = guest_paging;
    return w;
  };
  // With EPT A/D off, setting a guest entry's A or D flag is a write to guest
  // memory like any other: it needs EPT write permission on the page holding
  // the entry, or it is an EPT violation (a read-modify-write: RD|WR, bits
  // 5:3 the rights the page's translation grants, a guest-paging access).
  auto fail_update = [&](Addr entry_gpa, std::uint8_t page_perms) {
    w.status = WalkStatus::kEptViolation;
    w.qual = qual::kRead | qual::kWrite | (std::uint64_t(page_perms) << qual::kPermShift) | qual::kGlaValid;
    w.fault_gpa = entry_gpa;
    w.paging_fault = true;
    return w;
  };

  // Longest paging-structure-cache match first: a PDE-cache hit skips the most.
  unsigned level = g.levels;
  Addr table = g.cr3;
  std::uint8_t rights = kRightWrite | kRightUser;
  if (pwc) {
    for (unsigned l = 2; l <= g.levels; ++l) {
      if (const models::PwcGuestEntry* c = pwc->lookup_guest(l, g.ctx, gva)) {
        level = l - 1;
        table = c->next_table_gpa;
        rights = c->rights;
        break;
      }
    }
  }

  Addr used[5];  // HPAs of guest entries read
  Addr used_gpa[5];
  std::uint64_t vals[5];
  unsigned used_levels[5];
  std::uint8_t rights_to[5];    // rights combined down to and including each entry
  std::uint8_t page_perms = 0;  // EPT rights on the page of the last entry read
  unsigned n = 0;
  std::uint64_t e = 0;
  for (;; --level) {
    const Addr entry_gpa = table + Addr(guest::index_at(gva, level)) * 8;
    Addr table_hpa = 0;
    if (!pwc || !pwc->lookup_ept(g.ept_ctx, entry_gpa, table_hpa, &page_perms)) {
      const EptWalk t = translate(eptp, entry_gpa, table_access, WalkPurpose::kGuestPaging);
      w.refs += t.refs;
      w.cycles += t.cycles;
      if (!t.ok) return fail_ept(t, entry_gpa, true);
      table_hpa = t.hpa & ~(kPageSize4K - 1);
      page_perms = t.perms;
      if (pwc) pwc->fill_ept(g.ept_ctx, entry_gpa, table_hpa, page_perms);
    }
    const Addr at = table_hpa + (entry_gpa & (kPageSize4K - 1));
    w.cycles += hier_.access(at);
    ++w.refs;
    ++w.guest_refs;
    e = mem_.read(at);
    vals[n] = e;
    used[n] = at;
    used_gpa[n] = entry_gpa;
    used_levels[n++] = level;
    if (!guest::present(e)) {
      w.status = WalkStatus::kGuestFault;
      w.pf_error = pf_error(false, type);
      return w;
    }
    // The A flag is set as the entry is used, before the next level is read.
    if (!ad && !(e & guest::kAccessed) && !(page_perms & kWrite)) return fail_update(entry_gpa, page_perms);
    rights = combine(rights, rights_of(e));
    rights_to[n - 1] = rights;
    if (guest::is_leaf(e, level)) break;
    table = guest::entry_addr(e, level);
  }
  if ((type == AccessType::Write && !(rights & kRightWrite)) || (type == AccessType::Exec && (rights & kRightNoExec))) {
    w.status = WalkStatus::kGuestFault;
    w.pf_error = pf_error(true, type);
    return w;
  }
  // A permitted write sets the leaf's D flag: another write to the entry's page.
  if (!ad && type == AccessType::Write && !(e & guest::kDirty) && !(page_perms & kWrite))
    return fail_update(used_gpa[n - 1], page_perms);

  const unsigned gshift = guest::level_shift(level);
  w.gpa = guest::entry_addr(e, level) | (gva & ((Addr{1} << gshift) - 1));
  const EptWalk f = translate(eptp, w.gpa, type, WalkPurpose::kFinal);
  w.refs += f.refs;
  w.cycles += f.cycles;
  if (!f.ok) return fail_ept(f, w.gpa, false);

  // Success: guest A in every entry used, guest D in the leaf on a write
  // (guest-physical writes, by compare-and-exchange like the EPT flags).
  bool guest_dirty = false;
  for (unsigned i = 0; i < n; ++i) {
    const bool leaf = i + 1 == n;
    const std::uint64_t want = guest::kAccessed | (leaf && type == AccessType::Write ? guest::kDirty : 0);
    std::uint64_t cur = vals[i];
    while ((cur & want) != want) {
      if (mem_.cmpxchg(used[i], cur, cur | want)) {
        guest_a_set += !(cur & guest::kAccessed);
        guest_d_set += (want & guest::kDirty) && !(cur & guest::kDirty);
        cur |= want;
        if (writes_) writes_->walker_wrote(used[i]);
      }
    }
    if (leaf) guest_dirty = (cur & guest::kDirty) != 0;
    // Cache the non-leaf entries just used (PML4E, PDPTE, PDE caches), with
    // the rights combined down to each, so a walk starting there keeps the
    // restrictions of the levels above (SDM §4.10.3).
    if (pwc && !leaf && used_levels[i] >= 2)
      pwc->fill_guest(used_levels[i], g.ctx, gva,
                      models::PwcGuestEntry{guest::entry_addr(cur, used_levels[i]), rights_to[i]});
  }
  w.status = WalkStatus::kOk;
  w.hpa = f.hpa;
  w.page_shift = std::uint8_t(std::min<unsigned>(gshift, f.page_shift));
  w.perms = std::uint8_t(kRead | ((rights & kRightWrite) && (f.perms & kWrite) ? kWrite : 0) |
                         (!(rights & kRightNoExec) && (f.perms & kExec) ? kExec : 0));
  w.dirty = guest_dirty && f.dirty;
  return w;
}

}  // namespace vmxsim::ept
