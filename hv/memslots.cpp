// The `hv.memslots` list, which every implementation of hv::Memslots holds.
#include "hv/memslots.hpp"

#include "sim/config.hpp"
#include "sim/error.hpp"
#include "sim/format.hpp"

namespace vmxsim::hv {

VMXSIM_REGISTRY_KIND(MemslotsRegistry, "hv.memslots_impl", "memslot implementations: the guest-physical memory map");

// One slot: { "gpa": bytes, "size": bytes, "backing": "4K" | "2M" | "1G", "readonly": bool }
MemslotSpec MemslotSpec::parse(const Cfg& s) {
  MemslotSpec m;
  m.gpa = s.bytes("gpa", 0);
  m.size = s.bytes("size", 0);
  m.backing_shift = std::uint8_t(page_shift_of(s.choice("backing", "4K", {"4K", "2M", "1G"}).c_str()));
  m.readonly = s.boolean("readonly", false);
  if (m.gpa % kPageSize4K) s.fail("gpa", "expected a multiple of 4 KiB, got " + hex(m.gpa));
  if (m.size == 0 || m.size % kPageSize4K)
    s.fail("size", "expected a non-zero multiple of 4 KiB, got " + std::to_string(m.size));
  if (m.gpa + m.size < m.gpa || m.gpa + m.size > (Addr{1} << 52))
    s.fail("size", "slot ends beyond the 52-bit guest-physical address space");
  return m;
}

// hv.memslots: a list of slots (parse() above).
// Default: one 4 GiB slot at GPA 0 on 4 KiB host pages.
std::vector<MemslotSpec> MemslotSpec::from(const Cfg& hv) {
  const json def = json::array({{{"gpa", 0}, {"size", "4GiB"}, {"backing", "4K"}}});
  std::vector<MemslotSpec> out;
  for (const Cfg& s : hv.list("memslots", def)) {
    const MemslotSpec m = parse(s);
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

}  // namespace vmxsim::hv
