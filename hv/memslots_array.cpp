// The `array` memslot implementation: slots sorted by GPA, found by binary
// search (KVM's pre-5.17 layout, __gfn_to_memslot's search over a sorted
// array), by HPA and by id with a linear scan.
#include <algorithm>

#include "hv/memslots.hpp"
#include "sim/error.hpp"
#include "sim/format.hpp"

namespace vmxsim::hv {
namespace {

class ArrayMemslots final : public Memslots {
 public:
  void add(const Memslot& s) override {
    if (by_id(s.id)) throw Error("memslot id " + std::to_string(s.id) + " is already in use");
    auto it = std::lower_bound(slots_.begin(), slots_.end(), s.gpa, [](const Memslot& m, Addr g) { return m.gpa < g; });
    if ((it != slots_.end() && it->gpa < s.end()) || (it != slots_.begin() && std::prev(it)->end() > s.gpa))
      throw Error("memslot [" + hex(s.gpa) + ", " + hex(s.end()) + ") overlaps an existing slot");
    slots_.insert(it, s);
  }

  const Memslot* find(Addr gpa, unsigned& steps) const override {
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
  std::vector<Memslot> slots_;  // sorted by gpa, non-overlapping
};

}  // namespace

VMXSIM_REGISTER(MemslotsRegistry, "array", "slots sorted by GPA, binary search by gfn (KVM before 5.17)",
                [](const Cfg&, const SystemInfo&) {
                  return MemslotsRegistry::Maker([] { return std::make_unique<ArrayMemslots>(); });
                });

}  // namespace vmxsim::hv
