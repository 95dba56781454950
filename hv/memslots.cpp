// The `hv.memslots` list, which every implementation of hv::Memslots holds,
// with KVM_SET_USER_MEMORY_REGION's checks (__kvm_set_memory_region).
#include "hv/memslots.hpp"

#include <map>

#include "sim/config.hpp"
#include "sim/error.hpp"
#include "sim/format.hpp"

namespace vmxsim::hv {

VMXSIM_REGISTRY_KIND(MemslotsRegistry, "hv.memslots_impl", "memslot implementations: the guest-physical memory map");

namespace {
// access_ok() on x86-64 with 4-level paging: a user range ends at or below
// TASK_SIZE_MAX = 2^47 - 4 KiB.
constexpr Addr kUserAddrEnd = (Addr{1} << 47) - kPageSize4K;
}  // namespace

void check_gpa_range(const Cfg& c, Addr gpa, std::uint64_t size, const char* what) {
  if (gpa % kPageSize4K) c.fail("gpa", "expected a multiple of 4 KiB, got " + hex(gpa));
  if (size == 0 || size % kPageSize4K)
    c.fail("size", "expected a non-zero multiple of 4 KiB, got " + std::to_string(size));
  if (gpa + size < gpa || gpa + size > (Addr{1} << 52))
    c.fail("size", std::string(what) + " ends beyond the 52-bit guest-physical address space");
}

// One slot: { "gpa": bytes, "size": bytes, "backing": "4K" | "2M" | "1G", "readonly": bool, "hva": bytes }
MemslotSpec MemslotSpec::parse(const Cfg& s, Addr next_hva) {
  MemslotSpec m;
  m.gpa = s.bytes("gpa", 0);
  m.size = s.bytes("size", 0);
  m.backing_shift = std::uint8_t(page_shift_of(s.choice("backing", "4K", {"4K", "2M", "1G"}).c_str()));
  m.readonly = s.boolean("readonly", false);
  const Addr align = Addr{1} << m.backing_shift;
  m.hva = s.bytes("hva", (next_hva + align - 1) & ~(align - 1));
  check_gpa_range(s, m.gpa, m.size, "slot");
  if (m.size / kPageSize4K > kMemMaxNrPages)
    s.fail("size", std::to_string(m.size / kPageSize4K) +
                       " pages, more than KVM's limit of 2^31 - 1 pages a slot (KVM_MEM_MAX_NR_PAGES)");
  if (m.hva % kPageSize4K) s.fail("hva", "expected a multiple of 4 KiB, got " + hex(m.hva));
  if (m.hva > kUserAddrEnd || m.size > kUserAddrEnd - m.hva)
    s.fail("hva", "[" + hex(m.hva) + ", " + hex(m.hva + m.size) + ") is not in the user address space, which ends at " +
                      hex(kUserAddrEnd) + " (access_ok); lower hv.hva_base or give the slot an hva");
  return m;
}

// hv.memslots: a list of slots (parse() above), at most KVM_USER_MEM_SLOTS.
// Default: one 4 GiB slot at GPA 0 on 4 KiB host pages. GPA ranges may not
// overlap (-EEXIST); HVA ranges may (KVM checks only the gfn range).
std::vector<MemslotSpec> MemslotSpec::from(const Cfg& hv) {
  const json def = json::array({{{"gpa", 0}, {"size", "4GiB"}, {"backing", "4K"}}});
  const Addr hva_base = hv.bytes("hva_base", 0x7f0000000000);
  if (hva_base % kPageSize4K) hv.fail("hva_base", "expected a multiple of 4 KiB, got " + hex(hva_base));
  const std::vector<Cfg> list = hv.list("memslots", def);
  if (list.size() > kUserMemSlots)
    hv.fail("memslots", std::to_string(list.size()) + " slots, more than the " + std::to_string(kUserMemSlots) +
                            " user memslots x86 KVM allows (KVM_USER_MEM_SLOTS)");
  std::vector<MemslotSpec> out;
  std::map<Addr, std::size_t> by_gpa;  // start -> index, of the slots so far (disjoint)
  Addr next_hva = hva_base;
  for (const Cfg& s : list) {
    const MemslotSpec m = parse(s, next_hva);
    // The earliest listed slot that overlaps m (its overlappers are adjacent in GPA order).
    auto it = by_gpa.lower_bound(m.gpa);
    if (it != by_gpa.begin() && out[std::prev(it)->second].gpa + out[std::prev(it)->second].size > m.gpa) --it;
    std::size_t first = out.size();
    for (; it != by_gpa.end() && it->first < m.gpa + m.size; ++it) first = std::min(first, it->second);
    if (first < out.size())
      s.fail("gpa", "slot [" + hex(m.gpa) + ", " + hex(m.gpa + m.size) + ") overlaps hv.memslots[" +
                        std::to_string(first) + "]");
    by_gpa.emplace(m.gpa, out.size());
    out.push_back(m);
    next_hva = m.hva + m.size;
  }
  return out;
}

}  // namespace vmxsim::hv
