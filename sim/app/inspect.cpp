#include "sim/app/inspect.hpp"

#include <cstdio>
#include <string>

#include "ept/guest_entry.hpp"
#include "ept/inspect.hpp"
#include "sim/format.hpp"

namespace vmxsim::inspect {

namespace {

/// A raw 64-bit entry: "0x" and 16 hex digits, so bit positions line up.
std::string raw(std::uint64_t v) {
  char buf[19];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

/// "4K", "2M", "1G" for the page sizes x86-64 maps, else the byte count.
json page_size(unsigned shift) {
  for (unsigned i = 0; i < 3; ++i)
    if (kPageSizeShifts[i] == shift) return kPageSizeNames[i];
  return std::uint64_t{1} << shift;
}

json ept_entry(const ept::EptEntryView& v) {
  namespace e = vmxsim::ept;
  const std::uint64_t x = v.value;
  json j = {{"level", v.level},
            {"table", hex(v.table)},
            {"index", v.index},
            {"at", hex(v.at)},
            {"gpa", hex(v.gpa)},
            {"bytes", v.bytes},
            {"raw", raw(x)},
            {"leaf", v.leaf},
            {"misconfigured", v.misconfigured},
            {"r", bool(x & e::kRead)},
            {"w", bool(x & e::kWrite)},
            {"x", bool(x & e::kExec)},
            {"a", bool(x & e::kAccessed)}};
  if (v.leaf) {
    j["d"] = bool(x & e::kDirty);
    j["memtype"] = unsigned((x & e::kMemTypeMask) >> e::kMemTypeShift);
    j["ipat"] = bool(x & e::kIgnorePat);
    j["hpa"] = hex(e::entry_addr(x, v.level));
  } else if (!v.misconfigured) {  // (a misconfigured entry is neither a page nor a table)
    j["next"] = hex(e::entry_addr(x, v.level));
  }
  j["sw"] = unsigned((x >> 52) & 0x7FF);  // software-available bits 62:52
  j["host_writable"] = bool(x & e::kHostWritable);
  j["mmu_writable"] = bool(x & e::kMmuWritable);
  j["spte_id"] = unsigned((x & e::kSpteIdMask) >> e::kSpteIdShift);
  j["suppress_ve"] = bool(x & e::kSuppressVe);
  return j;
}

json guest_entry(const ept::GuestEntryView& v) {
  namespace g = vmxsim::ept::guest;
  const std::uint64_t x = v.value;
  json j = {{"level", v.level},
            {"table", hex(v.table)},
            {"index", v.index},
            {"at", hex(v.at)},
            {"gva", hex(v.gva)},
            {"bytes", v.bytes},
            {"raw", raw(x)},
            {"leaf", v.leaf},
            {"p", bool(x & g::kPresent)},
            {"w", bool(x & g::kWritable)},
            {"u", bool(x & g::kUser)},
            {"nx", bool(x & g::kNoExecute)},
            {"a", bool(x & g::kAccessed)}};
  if (v.leaf) {
    j["d"] = bool(x & g::kDirty);
    j["gpa"] = hex(g::entry_addr(x, v.level));
  } else {
    j["next"] = hex(g::entry_addr(x, v.level));
  }
  return j;
}

}  // namespace

json ept(const models::PhysMem& mem, const ept::Eptp& eptp) {
  json entries = json::array();
  ept::for_each_ept_entry(mem, eptp, [&entries](const ept::EptEntryView& v) { entries.push_back(ept_entry(v)); });
  return {{"eptp", raw(eptp.raw)},
          {"root", hex(eptp.root())},
          {"levels", eptp.levels()},
          {"ad", eptp.ad_enabled()},
          {"entries", std::move(entries)}};
}

json guest(const models::PhysMem& mem, const cpu::GuestOs& os, const hv::Memslots& slots) {
  const auto gpa_to_hpa = [&slots](Addr gpa) {
    const hv::Memslot* s = slots.find(gpa);
    return s ? s->hpa_of(gpa) : ~Addr{0};
  };
  json entries = json::array();
  ept::for_each_guest_entry(mem, os.cr3(), os.levels(), gpa_to_hpa,
                            [&entries](const ept::GuestEntryView& v) { entries.push_back(guest_entry(v)); });
  json space = {{"cr3", hex(os.cr3())}, {"levels", os.levels()}, {"entries", std::move(entries)}};
  return {{"address_spaces", json::array({std::move(space)})}};
}

json tlb(const models::Tlb& t) {
  json arrays = json::array();
  for (const models::Tlb::ArrayInfo& a : t.arrays()) {
    json sizes = json::array();
    for (unsigned i = 0; i < models::kTlbPageSizes; ++i)
      if (a.page_sizes & (1u << i)) sizes.push_back(kPageSizeNames[i]);
    arrays.push_back({{"name", a.name},
                      {"capacity", a.entries},
                      {"ways", a.ways},
                      {"sets", a.sets},
                      {"page_sizes", std::move(sizes)},
                      {"valid", json::array()}});
  }
  t.for_each_valid([&arrays](std::size_t i, const models::Tlb::ValidEntry& v) {
    const models::TlbEntry& e = v.entry;
    arrays[i]["valid"].push_back({{"set", v.set},
                                  {"way", v.way},
                                  {"va", hex(v.va)},
                                  {"page_size", page_size(e.page_shift)},
                                  {"vpid", v.ctx.vpid},
                                  {"pcid", v.ctx.pcid},
                                  {"ept", v.ctx.ept},
                                  {"hpa", hex(e.hpa_base)},
                                  {"r", bool(e.perms & 1)},
                                  {"w", bool(e.perms & 2)},
                                  {"x", bool(e.perms & 4)},
                                  {"dirty", e.dirty}});
  });
  return {{"arrays", std::move(arrays)}};
}

json pml(const pml::Engine* e) {
  if (!e) return nullptr;
  json log = json::array();
  e->for_each_logged([&log](std::uint32_t slot, Addr gpa) { log.push_back({{"slot", slot}, {"gpa", hex(gpa)}}); });
  return {{"enabled", e->enabled()},
          {"index", e->index()},
          {"log_entries", e->log_entries()},
          {"pending", e->pending()},
          {"log", std::move(log)}};
}

json memslot(const hv::Memslot& s) {
  return {
      {"id", s.id},
      {"gpa", hex(s.gpa)},
      {"bytes", s.size},
      {"hpa", hex(s.hpa)},
      {"backing", page_size(s.backing_shift)},
      {"hva", hex(s.hva)},
      {"readonly", s.readonly},
      {"dirty_log", s.dirty_log},
      {"invalid", s.invalid},
  };
}

json memslots(const hv::Memslots& slots) {
  json out = json::array();
  slots.for_each([&out](const hv::Memslot& s) { out.push_back(memslot(s)); });
  return {{"generation", slots.generation()}, {"slots", std::move(out)}};
}

json dirty_log(const hv::DirtyLog& log) {
  json bitmaps = json::array();
  log.for_each_bitmap([&bitmaps](const hv::Memslot& s, const std::vector<std::uint64_t>& words) {
    json dirty = json::array();
    for (std::size_t w = 0; w < words.size(); ++w)
      for (std::uint64_t bits = words[w]; bits; bits &= bits - 1)
        dirty.push_back(hex(s.gpa + ((w * 64 + unsigned(__builtin_ctzll(bits))) << kPageShift4K)));
    bitmaps.push_back(
        {{"slot", s.id}, {"gpa", hex(s.gpa)}, {"pages", s.size >> kPageShift4K}, {"dirty", std::move(dirty)}});
  });
  return {{"mode", log.params().mode},
          {"enabled", log.enabled()},
          {"gpa", hex(log.begin())},
          {"bytes", log.end() - log.begin()},
          {"bitmaps", std::move(bitmaps)}};
}

json vcpu(const cpu::Vcpu& v, Cycles cycle) {
  return {{"id", v.id()},
          {"cycle", cycle},
          {"finished", v.finished()},
          {"accesses", v.accesses},
          {"tlb", {{"l1", tlb(v.l1())}, {"l2", tlb(v.l2())}}},
          {"pml", pml(v.pml())}};
}

json dirty_gets(const std::vector<hv::DirtyOracle::Get>& gets) {
  json out = json::array();
  for (std::size_t i = 0; i < gets.size(); ++i) {
    const hv::DirtyOracle::Get& g = gets[i];
    json pages = json::array();
    for (Addr gpa : g.pages) pages.push_back(hex(gpa));
    out.push_back({{"get", i + 1},
                   {"start_cycle", g.start},
                   {"end_cycle", g.end},
                   {"count", g.pages.size()},
                   {"pages", std::move(pages)}});
  }
  return {{"format", "vmxsim-dirty-log-gets"}, {"version", 1}, {"gets", std::move(out)}};
}

}  // namespace vmxsim::inspect
