#include "hv/nested/shadow_ept.hpp"

#include <algorithm>

#include "ept/walker.hpp"
#include "models/phys_mem.hpp"
#include "sim/error.hpp"
#include "sim/format.hpp"
#include "sim/hash.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

using namespace vmxsim::ept;

namespace {
std::uint64_t access_type_bits(AccessType t) {
  return t == AccessType::Read ? qual::kRead : t == AccessType::Write ? qual::kWrite : qual::kFetch;
}
}  // namespace

Ept12Walk walk_ept12(Addr root, unsigned levels, Addr l2_gpa, AccessType type, const ReadL1& read) {
  Ept12Walk w;
  std::uint64_t access = kPermMask;
  Addr table = root;
  for (unsigned level = levels; level >= 1; --level) {
    w.table_gpa[level] = table;
    w.access_at[level] = access;
    const std::uint64_t e = read(table + Addr(index_at(l2_gpa, level)) * 8);
    ++w.entries;
    access &= e & kPermMask;
    w.level = level;
    if (!present(e)) break;  // not present: a violation with the bits ANDed so far (all 0 here)
    if (is_leaf(e, level)) {
      const Addr size = Addr{1} << level_shift(level);
      w.l1_gpa = entry_addr(e, level) + (l2_gpa & (size - 1));
      w.access = access;
      w.ok = (access & needed_perm(type)) != 0;
      break;
    }
    table = entry_addr(e);
  }
  if (!w.ok) w.qual = access_type_bits(type) | (access << qual::kPermShift);
  return w;
}

std::size_t ShadowEpt::KeyHash::operator()(const Key& k) const {
  return std::size_t(mix64(k.gfn ^ (std::uint64_t(k.level) << 1) ^ (k.access << 8) ^ (k.direct ? 1u << 12 : 0)));
}

ShadowEpt::ShadowEpt(models::PhysMem& mem, const ShadowEptParams& p) : mem_(mem), p_(p) {
  if (p_.max_pages < p_.min_free + 1)
    throw Error("shadow EPT: a budget of " + std::to_string(p_.max_pages) +
                " pages leaves none above the minimum free");
}

ShadowEpt::Page* ShadowEpt::page_of_table(Addr table) const {
  const auto it = by_table_.find(table);
  return it == by_table_.end() ? nullptr : it->second;
}

void ShadowEpt::charge_bucket(ExecContext& ctx) const {
  ctx.charge(p_.hash_lookup + p_.hash_entry * (n_pages_ / p_.hash_buckets));
}

ShadowEpt::Page* ShadowEpt::get_page(ExecContext& ctx, Addr gfn, unsigned level, std::uint64_t access, bool direct,
                                     bool& made) {
  charge_bucket(ctx);
  const Key k{gfn, level, access, direct};
  made = false;
  if (auto it = hash_.find(k); it != hash_.end()) {
    ++hash_hits;
    return it->second.get();
  }
  ++hash_misses;
  ctx.charge(p_.sp_alloc);
  auto sp = std::make_unique<Page>();
  sp->table = mem_.alloc_table();
  sp->gfn = gfn;
  sp->level = level;
  sp->access = access;
  sp->direct = direct;
  sp->age = next_age_++;
  Page* raw = sp.get();
  hash_.emplace(k, std::move(sp));
  by_table_[raw->table] = raw;
  if (!direct) by_gfn_[gfn].push_back(raw);
  fifo_.push_back(raw);
  ++n_pages_;
  ++created;
  made = true;
  return raw;
}

void ShadowEpt::link(Addr at, Page& child) {
  mem_.write(at, make_table(child.table));
  child.parents.push_back(at);
}

bool ShadowEpt::shadows(Addr table_gpa) const {
  const auto it = by_gfn_.find(table_gpa);
  return it != by_gfn_.end() && !it->second.empty();
}

const std::vector<Addr>* ShadowEpt::rmap(Addr l1_base, unsigned level) const {
  if (level < 1 || level > 3) return nullptr;
  const auto it = rmap_[level - 1].find(l1_base);
  return it == rmap_[level - 1].end() || it->second.empty() ? nullptr : &it->second;
}

void ShadowEpt::rmap_add(Addr at, Addr l1_base, unsigned level) {
  rmap_[level - 1][l1_base].push_back(at);
  leaf_of_[at] = {l1_base, level};
}

Addr ShadowEpt::root(ExecContext& ctx, Addr root12, std::vector<Addr>& newly_shadowed) {
  if (root_ && root_->gfn == root12) return root_->table;
  if (root_) {  // a new EPTP12: this model keeps one root (KVM caches a few previous ones)
    std::vector<Addr> dropped;
    zap_all(ctx, dropped);
    for (Addr t : dropped) mem_.free_table(t);
  }
  bool made = false;
  root_ = get_page(ctx, root12, p_.levels, kPermMask, false, made);
  root_->root = true;
  if (made) newly_shadowed.push_back(root12);
  return root_->table;
}

ShadowEpt::FillResult ShadowEpt::fill(ExecContext& ctx, Addr l2_gpa, const Ept12Walk& w, const MapL1& l0,
                                      std::vector<Addr>& zapped) {
  if (!root_) throw Error("shadow EPT: fill before the root was made");
  if (!w.ok) throw Error("shadow EPT: fill from a failed EPT12 walk of L2 GPA " + hex(l2_gpa));
  make_available(ctx, zapped);
  FillResult r;
  const L0Mapping m = l0(w.l1_gpa & ~Addr{kPageSize4K - 1});
  if (!m.ok) throw Error("shadow EPT: L1 GPA " + hex(w.l1_gpa) + " (for L2 GPA " + hex(l2_gpa) + ") has no L0 memslot");
  // kvm_mmu_hugepage_adjust: the smaller of L1's leaf and what L0 allows.
  const unsigned goal = std::min({w.level, m.max_level, 3u});
  Page* sp = root_;
  for (unsigned level = p_.levels; level > goal; --level) {
    const Addr at = sp->table + Addr(index_at(l2_gpa, level)) * 8;
    const unsigned child_level = level - 1;
    const bool direct = child_level < w.level;  // below L1's leaf: L0 maps L1's page in smaller ones
    const Addr size = Addr{1} << level_shift(level);
    const Addr gfn = direct ? (w.l1_gpa & ~(size - 1)) : w.table_gpa[child_level];
    const std::uint64_t access = direct ? w.access : w.access_at[child_level];
    const std::uint64_t e = mem_.read(at);
    if (present(e) && !is_leaf(e, level)) {
      Page* child = page_of_table(entry_addr(e));
      if (child && child->gfn == gfn && child->access == access && child->direct == direct) {
        sp = child;
        continue;
      }
    }
    if (present(e)) r.flush |= zap_entry(ctx, *sp, index_at(l2_gpa, level), zapped) && is_leaf(e, level);
    bool made = false;
    Page* child = get_page(ctx, gfn, child_level, access, direct, made);
    if (made && !direct) r.newly_shadowed.push_back(gfn);
    link(at, *child);
    sp = child;
  }
  const Addr size = Addr{1} << level_shift(goal);
  const Addr l1_base = w.l1_gpa & ~(size - 1);
  const L0Mapping base = l0(l1_base);
  const std::uint64_t perms = w.access & (m.writable ? kPermMask : ~kWrite);
  // A and D set: vmcs02 runs without PML (KVM: PML would log L2 addresses),
  // so no D transition in EPT02 may be taken for a log entry.
  const std::uint64_t leaf = make_leaf(base.hpa, goal, perms) | kIgnorePat | kAccessed | kDirty;
  const unsigned idx = index_at(l2_gpa, goal);
  const Addr at = sp->table + Addr(idx) * 8;
  r.level = goal;
  const std::uint64_t old = mem_.read(at);
  if (old != leaf) {
    // mmu_set_spte: a present leaf of the same frame is updated in place
    // (was_rmapped: its rmap stays); another frame's is dropped first.
    const bool same = present(old) && is_leaf(old, goal) && entry_addr(old, goal) == base.hpa;
    if (present(old) && !same) zap_entry(ctx, *sp, idx, zapped);
    // make_spte → mmu_try_to_unsync_pages: a writable leaf's gfn is looked
    // up among the pages that shadow guest tables (its hash bucket).
    if (perms & kWrite) charge_bucket(ctx);
    ctx.charge(p_.spte_set);
    mem_.write(at, leaf);
    if (!same) {
      ctx.charge(p_.rmap_add);
      rmap_add(at, l1_base, goal);
    }
    r.installed = true;
    ++fills;
  }
  return r;
}

bool ShadowEpt::zap_entry(ExecContext& ctx, Page& owner, unsigned index, std::vector<Addr>& zapped) {
  const Addr at = owner.table + Addr(index) * 8;
  const std::uint64_t e = mem_.read(at);
  if (!present(e)) return false;
  mem_.write(at, 0);
  ctx.charge(p_.zap_entry);
  ++sptes_zapped;
  if (is_leaf(e, owner.level)) {
    if (auto it = leaf_of_.find(at); it != leaf_of_.end()) {
      auto& level_map = rmap_[it->second.level - 1];
      std::vector<Addr>& rm = level_map[it->second.l1_base];
      rm.erase(std::remove(rm.begin(), rm.end(), at), rm.end());
      if (rm.empty()) level_map.erase(it->second.l1_base);
      leaf_of_.erase(it);
    }
  } else if (Page* child = page_of_table(entry_addr(e))) {
    child->parents.erase(std::remove(child->parents.begin(), child->parents.end(), at), child->parents.end());
    // mmu_page_zap_pte: a parentless nested page is unlikely to be used again.
    if (child->parents.empty() && !child->root) zap_page(ctx, child, zapped);
  }
  return true;
}

void ShadowEpt::zap_page(ExecContext& ctx, Page* sp, std::vector<Addr>& zapped) {
  for (unsigned i = 0; i < 512; ++i) zap_entry(ctx, *sp, i, zapped);
  for (Addr at : sp->parents) {  // unlink from the parents
    mem_.write(at, 0);
    ctx.charge(p_.zap_entry);
  }
  sp->parents.clear();
  if (!sp->direct) {
    std::vector<Page*>& v = by_gfn_[sp->gfn];
    v.erase(std::remove(v.begin(), v.end(), sp), v.end());
    if (v.empty()) by_gfn_.erase(sp->gfn);
  }
  by_table_.erase(sp->table);
  fifo_.erase(std::remove(fifo_.begin(), fifo_.end(), sp), fifo_.end());
  if (sp == root_) root_ = nullptr;
  zapped.push_back(sp->table);
  --n_pages_;
  ++zapped_pages;
  hash_.erase(Key{sp->gfn, sp->level, sp->access, sp->direct});  // frees sp
}

void ShadowEpt::make_available(ExecContext& ctx, std::vector<Addr>& zapped) {
  // make_mmu_pages_available → kvm_mmu_zap_oldest_mmu_pages: the oldest
  // pages first, roots skipped, children counting with their parent.
  const std::uint64_t avail = p_.max_pages > n_pages_ ? p_.max_pages - n_pages_ : 0;
  if (avail >= p_.min_free) return;
  const std::uint64_t want = p_.refill - avail, before = n_pages_;
  while (before - n_pages_ < want) {
    auto it = std::find_if(fifo_.begin(), fifo_.end(), [](const Page* p) { return !p->root; });
    if (it == fifo_.end()) break;
    zap_page(ctx, *it, zapped);
    ++recycled;
  }
}

std::uint64_t ShadowEpt::track_write(ExecContext& ctx, Addr entry_gpa, std::vector<Addr>& zapped) {
  ++track_writes;
  const Addr table = entry_gpa & ~Addr{kPageSize4K - 1};
  const auto it = by_gfn_.find(table);
  if (it == by_gfn_.end()) return 0;
  const std::vector<Page*> pages = it->second;  // zapping may change the list
  std::uint64_t n = 0;
  for (Page* sp : pages)
    if (by_table_.count(sp->table) && zap_entry(ctx, *sp, unsigned((entry_gpa & (kPageSize4K - 1)) / 8), zapped)) ++n;
  return n;
}

std::uint64_t ShadowEpt::zap_all(ExecContext& ctx, std::vector<Addr>& zapped) {
  const std::uint64_t before = n_pages_;
  while (!fifo_.empty()) zap_page(ctx, fifo_.back(), zapped);
  return before;
}

std::vector<ShadowEpt::Incoherence> ShadowEpt::check(const ReadL1& read, const MapL1& l0) const {
  std::vector<Incoherence> out;
  if (!root_) return out;
  std::function<void(Addr, unsigned, Addr)> visit = [&](Addr table, unsigned level, Addr base) {
    const Addr size = Addr{1} << level_shift(level);
    for (unsigned i = 0; i < 512; ++i) {
      const std::uint64_t e = mem_.read(table + Addr(i) * 8);
      if (!present(e)) continue;
      const Addr l2 = base + Addr(i) * size;
      if (!is_leaf(e, level)) {
        visit(entry_addr(e), level - 1, l2);
        continue;
      }
      const auto bad = [&](std::string why) { out.push_back({l2, e, level, std::move(why)}); };
      const Ept12Walk w = walk_ept12(root_->gfn, p_.levels, l2, AccessType::Read, read);
      if (w.level == 0 || (!w.ok && (w.access & kPermMask) == 0)) {
        bad("EPT12 does not map it");
        continue;
      }
      if (w.level < level) {
        bad("larger than EPT12's " + std::to_string(w.level) + "-level leaf");
        continue;
      }
      const L0Mapping m = l0(w.l1_gpa & ~(size - 1));
      if (!m.ok) {
        bad("L0 maps no memory at L1 GPA " + hex(w.l1_gpa));
        continue;
      }
      if (m.max_level < level) bad("larger than L0's " + std::to_string(m.max_level) + "-level mapping");
      if (entry_addr(e, level) != m.hpa) bad("host frame " + hex(entry_addr(e, level)) + ", L0 maps " + hex(m.hpa));
      const std::uint64_t allowed = w.access & (m.writable ? kPermMask : ~kWrite);
      if (e & kPermMask & ~allowed) bad("permissions wider than EPT12 and L0 grant");
    }
  };
  visit(root_->table, p_.levels, 0);
  return out;
}

std::uint64_t ShadowEpt::protect_range(ExecContext& ctx, Addr begin, Addr end, unsigned min_level) {
  std::uint64_t n = 0;
  for (unsigned level = min_level; level <= 3; ++level) {
    const Addr size = Addr{1} << level_shift(level);
    const Addr lo = begin & ~(size - 1);
    // walk_slot_rmaps visits every head of the range at this level.
    ctx.charge(p_.rmap_head * ((end - lo + size - 1) / size));
    auto& m = rmap_[level - 1];
    for (auto it = m.lower_bound(lo); it != m.end() && it->first < end; ++it)
      n += protect_head(ctx, it->second, p_.enable_entry);
  }
  protected_leaves += n;
  return n;
}

std::uint64_t ShadowEpt::protect_head(ExecContext& ctx, const std::vector<Addr>& head, Cycles per_entry) {
  std::uint64_t n = 0;
  for (Addr at : head) {
    const std::uint64_t e = mem_.read(at);
    if (!(e & kWrite)) continue;
    ctx.charge(per_entry);
    mem_.write(at, e & ~kWrite);
    ++n;
  }
  return n;
}

std::uint64_t ShadowEpt::protect_page(ExecContext& ctx, Addr l1_page, bool huge) {
  std::uint64_t n = 0;
  for (unsigned level = 1; level <= (huge ? 3u : 1u); ++level) {
    const Addr size = Addr{1} << level_shift(level);
    ctx.charge(p_.rmap_head);
    const auto it = rmap_[level - 1].find(l1_page & ~(size - 1));
    if (it != rmap_[level - 1].end()) n += protect_head(ctx, it->second, p_.protect_entry);
  }
  protected_leaves += n;
  return n;
}

bool ShadowEpt::split_one(ExecContext& ctx, Page& owner, unsigned index, SplitResult& r) {
  // shadow_mmu_try_split_huge_page: refuse at the minimum free.
  if (available() <= p_.min_free) {
    ++r.refused;
    return false;
  }
  const Addr at = owner.table + Addr(index) * 8;
  const std::uint64_t huge = mem_.read(at);
  const unsigned level = owner.level;
  const auto lf = leaf_of_.find(at);
  if (lf == leaf_of_.end()) return true;  // not one of ours
  const Addr l1_base = lf->second.l1_base;
  const unsigned child_level = level - 1;
  const Addr child_size = Addr{1} << level_shift(child_level);
  // shadow_mmu_get_sp_for_split: a direct child with the huge leaf's access;
  // one with the same role may exist (then it is reused).
  bool made = false;
  Page* child = get_page(ctx, l1_base, child_level, huge & kPermMask, true, made);
  bool flush = false;
  if (!made) ++r.reused;
  // shadow_mmu_split_huge_page: present entries are kept (a non-leaf one
  // means the split unmaps part of the range: flush), the rest set from the huge leaf.
  const std::uint64_t child_bits = (huge & ~(kAddrMask | kPageSize)) | (child_level > 1 ? kPageSize : 0);
  for (unsigned i = 0; i < 512; ++i) {
    const Addr cat = child->table + Addr(i) * 8;
    const std::uint64_t e = mem_.read(cat);
    if (present(e)) {
      if (!is_leaf(e, child_level)) flush = true;
      continue;
    }
    ctx.charge(p_.split_entry);
    mem_.write(cat, ((entry_addr(huge, level) + Addr(i) * child_size) & kAddrMask) | child_bits);
    ctx.charge(p_.rmap_add);
    rmap_add(cat, l1_base + Addr(i) * child_size, child_level);
  }
  // __link_shadow_page: drop the huge leaf, link the child.
  std::vector<Addr> none;
  zap_entry(ctx, owner, index, none);
  link(at, *child);
  if (flush) ++r.flushes;
  ++r.splits;
  return true;
}

ShadowEpt::SplitResult ShadowEpt::split_huge(ExecContext& ctx, Addr begin, Addr end, const SplitHooks& hooks) {
  SplitResult r;
  for (unsigned level = 3; level >= 2; --level) {
    const Addr size = Addr{1} << level_shift(level);
    const Addr lo = begin & ~(size - 1);
    ctx.charge(p_.rmap_head * ((end - lo + size - 1) / size));
    auto& m = rmap_[level - 1];
    bool refused = false;
    for (auto it = m.lower_bound(lo); it != m.end() && it->first < end && !refused;) {
      const Addr at = it->second.front();
      ++it;  // the split removes this head
      Page* owner = page_of_table(at & ~Addr{kPageSize4K - 1});
      if (!owner) continue;
      if (hooks.before_split && !hooks.before_split()) {
        // mmu_lock was dropped: the rmap may have changed; restart the level.
        ++r.restarts;
        it = m.lower_bound(lo);
        continue;
      }
      if (!split_one(ctx, *owner, unsigned((at & (kPageSize4K - 1)) / 8), r)) refused = true;
    }
    if (refused) break;  // -ENOSPC ends the split
  }
  return r;
}

void ShadowEpt::register_stats(Stats& s, const std::string& prefix) const {
  s.counter(prefix + ".created", &created, "pages", "shadow pages (EPT02 tables) made");
  s.counter(prefix + ".zapped", &zapped_pages, "pages", "shadow pages zapped");
  s.counter(prefix + ".recycled", &recycled, "pages",
            "shadow pages zapped to keep the budget's minimum free (kvm_mmu_zap_oldest_mmu_pages)");
  s.counter(prefix + ".hash_hits", &hash_hits, "lookups", "(gfn, role) lookups that found a shadow page");
  s.counter(prefix + ".hash_misses", &hash_misses, "lookups", "(gfn, role) lookups that made one");
  s.counter(prefix + ".fills", &fills, "entries", "EPT02 leaves installed from EPT12 and L0's map");
  s.counter(prefix + ".track_writes", &track_writes, "writes", "L1 writes to write-tracked EPT12 tables");
  s.counter(prefix + ".sptes_zapped", &sptes_zapped, "entries", "EPT02 entries cleared");
  s.counter(prefix + ".protected_leaves", &protected_leaves, "entries",
            "EPT02 leaves write-protected for dirty logging of L1 (through the rmaps)");
}

}  // namespace vmxsim::hv
