// The `array` memslot implementation: slots sorted by GPA, found by binary
// search (KVM's pre-5.17 layout, __gfn_to_memslot's search over a sorted
// array), by HPA, HVA and id with a linear scan. Costs: each search probe and
// each slot a change or a scan visits is one hv.costs.memslot_step.
#include <algorithm>

#include "hv/memslots.hpp"
#include "sim/config.hpp"
#include "sim/error.hpp"
#include "sim/format.hpp"

namespace vmxsim::hv {
namespace {

class ArrayMemslots final : public Memslots {
 public:
  explicit ArrayMemslots(Cycles step) : step_(step) {}

  void add(const Memslot& s) override {
    if (by_id(s.id)) throw Error("memslot id " + std::to_string(s.id) + " is already in use");
    auto it = std::lower_bound(slots_.begin(), slots_.end(), s.gpa, [](const Memslot& m, Addr g) { return m.gpa < g; });
    if ((it != slots_.end() && it->gpa < s.end()) || (it != slots_.begin() && std::prev(it)->end() > s.gpa))
      throw Error("memslot [" + hex(s.gpa) + ", " + hex(s.end()) + ") overlaps an existing slot");
    slots_.insert(it, s);
  }
  void create(const Memslot& s, Cycles& cost) override {
    add(s);
    cost += step_ * slots_.size();  // the set is copied
  }
  void invalidate(std::uint32_t id, Cycles& cost) override {
    at(id).invalid = true;
    cost += step_ * slots_.size();
  }
  void remove(std::uint32_t id, Cycles& cost) override {
    slots_.erase(slots_.begin() + (&at(id) - slots_.data()));
    cost += step_ * (slots_.size() + 1);
  }
  void move(std::uint32_t id, Addr new_gpa, Cycles& cost) override {
    Memslot s = at(id);
    Cycles c = 0;
    remove(id, c);
    s.gpa = new_gpa;
    s.invalid = false;
    add(s);  // the caller checked the target range
    cost += c + step_ * slots_.size();
  }
  void set_flags(std::uint32_t id, bool readonly, bool dirty_log, Cycles& cost) override {
    Memslot& s = at(id);
    s.readonly = readonly;
    s.dirty_log = dirty_log;
    cost += step_ * slots_.size();
  }

  const Memslot* find(Addr gpa) const override {
    unsigned steps = 0;
    return search(gpa, steps);
  }
  const Memslot* find(Addr gpa, unsigned, Cycles& cost) override {
    unsigned steps = 0;
    const Memslot* s = search(gpa, steps);
    cost += step_ * steps;
    return s;
  }
  void for_each_hva(Addr begin, Addr end, const std::function<void(const Memslot&)>& f, Cycles& cost) const override {
    for (const Memslot& s : slots_)
      if (s.hva < end && begin < s.hva + s.size) f(s);
    cost += step_ * slots_.size();  // every slot is visited
  }

  const Memslot* by_id(std::uint32_t id) const override {
    for (const Memslot& s : slots_)
      if (s.id == id) return &s;
    return nullptr;
  }

  const Memslot* find_hpa(Addr hpa) const override {
    for (const Memslot& s : slots_)
      if (hpa - s.hpa < s.size) return &s;
    return nullptr;
  }

  void for_each(const std::function<void(const Memslot&)>& f) const override {
    for (const Memslot& s : slots_) f(s);
  }
  std::size_t size() const override { return slots_.size(); }

 private:
  const Memslot* search(Addr gpa, unsigned& steps) const {
    // Binary search for the last slot starting at or below gpa.
    std::size_t lo = 0, hi = slots_.size();
    steps = 0;
    while (lo < hi) {
      ++steps;
      const std::size_t mid = lo + (hi - lo) / 2;
      if (slots_[mid].gpa <= gpa) lo = mid + 1;
      else hi = mid;
    }
    if (lo == 0) return nullptr;
    const Memslot& s = slots_[lo - 1];
    return s.contains(gpa) ? &s : nullptr;
  }
  Memslot& at(std::uint32_t id) {
    for (Memslot& s : slots_)
      if (s.id == id) return s;
    throw Error("memslot id " + std::to_string(id) + " does not exist");
  }

  Cycles step_;
  std::vector<Memslot> slots_;  // sorted by gpa, non-overlapping
};

}  // namespace

VMXSIM_REGISTER(MemslotsRegistry, "array", "slots sorted by GPA, binary search by gfn (KVM before 5.17)",
                [](const Cfg& hv, const SystemInfo&) {
                  // hv.costs.memslot_step: one probe of the search, one slot visited by a scan or a copy.
                  const Cycles step = hv.section("costs").u64("memslot_step", 8);
                  return MemslotsRegistry::Maker([step] { return std::make_unique<ArrayMemslots>(step); });
                });

}  // namespace vmxsim::hv
