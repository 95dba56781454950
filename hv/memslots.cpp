#include "hv/memslots.hpp"
#include "sim/format.hpp"

#include <algorithm>
#include <sstream>

#include "sim/config.hpp"
#include "sim/error.hpp"

namespace vmxsim::hv {

// hv.memslots: [{ "gpa": bytes, "size": bytes, "backing": "4K" | "2M" | "1G" }]
// Default: one 4 GiB slot at GPA 0 on 4 KiB host pages.
std::vector<MemslotSpec> MemslotSpec::from(const Cfg& hv) {
  const json def = json::array({{{"gpa", 0}, {"size", "4GiB"}, {"backing", "4K"}}});
  std::vector<MemslotSpec> out;
  for (const Cfg& s : hv.list("memslots", def)) {
    MemslotSpec m;
    m.gpa = s.bytes("gpa", 0);
    m.size = s.bytes("size", 0);
    m.backing_shift = std::uint8_t(page_shift_of(s.choice("backing", "4K", {"4K", "2M", "1G"}).c_str()));
    if (m.gpa % kPageSize4K) s.fail("gpa", "expected a multiple of 4 KiB, got " + hex(m.gpa));
    if (m.size == 0 || m.size % kPageSize4K)
      s.fail("size", "expected a non-zero multiple of 4 KiB, got " + std::to_string(m.size));
    if (m.gpa + m.size < m.gpa || m.gpa + m.size > (Addr{1} << 52))
      s.fail("size", "slot ends beyond the 52-bit guest-physical address space");
    for (std::size_t i = 0; i < out.size(); ++i) {
      const auto& o = out[i];
      if (m.gpa < o.gpa + o.size && o.gpa < m.gpa + m.size)
        s.fail("gpa", "slot [" + hex(m.gpa) + ", " + hex(m.gpa + m.size) + ") overlaps hv.memslots[" +
                          std::to_string(i) + "]");
    }
    out.push_back(m);
  }
  return out;
}

void Memslots::add(const Memslot& s) {
  auto it = std::lower_bound(slots_.begin(), slots_.end(), s.gpa,
                             [](const Memslot& m, Addr g) { return m.gpa < g; });
  if ((it != slots_.end() && it->gpa < s.end()) || (it != slots_.begin() && std::prev(it)->end() > s.gpa))
    throw Error("memslot [" + hex(s.gpa) + ", " + hex(s.end()) + ") overlaps an existing slot");
  slots_.insert(it, s);
}

const Memslot* Memslots::find(Addr gpa, unsigned& steps) const {
  // Binary search for the last slot starting at or below gpa.
  std::size_t lo = 0, hi = slots_.size();
  steps = 0;
  while (lo < hi) {
    ++steps;
    std::size_t mid = lo + (hi - lo) / 2;
    if (slots_[mid].gpa <= gpa) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return nullptr;
  const Memslot& s = slots_[lo - 1];
  return s.contains(gpa) ? &s : nullptr;
}

}  // namespace vmxsim::hv
