// What the memslot implementations share: host-side indexes that answer the
// lookups KVM makes by HVA and the checkers make by HPA quickly (not KVM
// state: the steps KVM takes are counted by each implementation), and the
// counters every implementation reports under hv.memslots.*.
#pragma once
#include <algorithm>
#include <boost/icl/interval_map.hpp>
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "hv/memslots.hpp"

namespace vmxsim::hv {

/// ceil(log2(n + 1)): the levels of a balanced binary tree of n nodes.
inline unsigned tree_levels(std::size_t n) { return n ? unsigned(64 - __builtin_clzll(n)) : 0; }

/// Slots by HVA range. Ranges may alias: KVM checks only that gfn ranges
/// are disjoint (__kvm_set_memory_region), so two slots can map the same HVAs.
class HvaIndex {
 public:
  void add(const Memslot& s) { map_ += std::make_pair(range(s), std::set<std::uint32_t>{s.id}); }
  void remove(const Memslot& s) { map_ -= std::make_pair(range(s), std::set<std::uint32_t>{s.id}); }
  /// The ids of the slots intersecting [begin, end), each once, unordered.
  void query(Addr begin, Addr end, std::vector<std::uint32_t>& ids) const;

 private:
  using Interval = boost::icl::interval<Addr>;
  static Interval::type range(const Memslot& s) { return Interval::right_open(s.hva, s.hva + s.size); }
  boost::icl::interval_map<Addr, std::set<std::uint32_t>> map_;
};

/// Slots by host backing (disjoint, from PhysMem::alloc_data): find_hpa in O(log n).
class HpaIndex {
 public:
  void add(const Memslot& s) { by_hpa_[{s.hpa, s.id}] = s.size; }
  void remove(const Memslot& s) { by_hpa_.erase({s.hpa, s.id}); }
  /// The id of the slot whose backing holds `hpa`; false if none does.
  bool find(Addr hpa, std::uint32_t& id) const;

 private:
  std::map<std::pair<Addr, std::uint32_t>, std::uint64_t> by_hpa_;  // (hpa, id) -> size
};

/// Calls `f` on the slots `ids` names, in HVA order, ties by GPA (then id).
template <class ById, class F>
void in_hva_order(std::vector<std::uint32_t>& ids, const ById& by_id, const F& f) {
  std::vector<const Memslot*> v;
  v.reserve(ids.size());
  for (std::uint32_t id : ids) v.push_back(by_id(id));
  std::sort(v.begin(), v.end(), [](const Memslot* a, const Memslot* b) {
    return a->hva != b->hva ? a->hva < b->hva : a->gpa != b->gpa ? a->gpa < b->gpa : a->id < b->id;
  });
  for (const Memslot* s : v) f(*s);
}

/// The counters both implementations register (hv.memslots.*).
struct MemslotCounters {
  std::uint64_t lookups = 0, lookup_cycles = 0;         // find(gpa, vcpu, cost)
  std::uint64_t hva_walks = 0, hva_cycles = 0;          // for_each_hva
  std::uint64_t changes = 0, change_cycles = 0;         // create, invalidate, remove, move, set_flags
  std::uint64_t startup_steps = 0, startup_cycles = 0;  // add: what KVM's CREATEs would take, not charged
  void register_stats(Stats& s) const;
};

/// Throws vmxsim::Error unless a new slot's id can be used (below
/// KVM_MEM_SLOTS_NUM, not in use: `in_use`).
void check_new_id(const Memslot& s, bool in_use);

}  // namespace vmxsim::hv
