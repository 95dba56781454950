#include "hv/memslots_common.hpp"

#include <algorithm>

#include "sim/error.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

void HvaIndex::query(Addr begin, Addr end, std::vector<std::uint32_t>& ids) const {
  ids.clear();
  if (begin >= end) return;
  const auto r = map_.equal_range(Interval::right_open(begin, end));
  for (auto it = r.first; it != r.second; ++it) ids.insert(ids.end(), it->second.begin(), it->second.end());
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
}

bool HpaIndex::find(Addr hpa, std::uint32_t& id) const {
  auto it = by_hpa_.upper_bound({hpa, ~std::uint32_t{0}});
  if (it == by_hpa_.begin()) return false;
  --it;
  if (hpa - it->first.first >= it->second) return false;
  id = it->first.second;
  return true;
}

void MemslotCounters::register_stats(Stats& s) const {
  s.counter("hv.memslots.lookups", &lookups, "lookups", "GPA->memslot lookups made by vCPUs or VM-wide, charged");
  s.counter("hv.memslots.lookup_cycles", &lookup_cycles, "cycles",
            "cycles those lookups' steps cost (the fixed hv.costs.memslot_lookup not included)");
  s.counter("hv.memslots.hva_walks", &hva_walks, "walks",
            "HVA-range walks over the memslots (MMU-notifier __kvm_handle_hva_range)");
  s.counter("hv.memslots.hva_cycles", &hva_cycles, "cycles", "cycles those HVA walks' steps cost");
  s.counter("hv.memslots.changes", &changes, "changes",
            "memslot changes after start-up: create, invalidate, remove, move, set_flags calls");
  s.counter("hv.memslots.change_cycles", &change_cycles, "cycles",
            "cycles those changes' steps cost (the hypervisor's SRCU and zap costs not included)");
  s.counter("hv.memslots.startup_steps", &startup_steps, "steps",
            "steps KVM's CREATEs of the start-up slots would take, one by one in list order (not charged)");
  s.counter("hv.memslots.startup_cycles", &startup_cycles, "cycles",
            "cycles those start-up steps would cost at the implementation's per-step costs (not charged)");
}

void check_new_id(const Memslot& s, bool in_use) {
  if (s.id >= kMemSlotsNum)
    throw Error("memslot id " + std::to_string(s.id) + " is not below KVM_MEM_SLOTS_NUM (" +
                std::to_string(kMemSlotsNum) + ")");
  if (in_use) throw Error("memslot id " + std::to_string(s.id) + " is already in use");
}

}  // namespace vmxsim::hv
