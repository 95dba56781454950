#include "hv/mmio.hpp"

#include <string>

#include "sim/config.hpp"
#include "sim/error.hpp"
#include "sim/format.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

MmioParams MmioParams::from(const Cfg& hv, const std::vector<MemslotSpec>& slots) {
  MmioParams p;
  p.caching = hv.boolean("mmio_caching", p.caching);
  const Cfg costs = hv.section("costs");
  p.ept_misconfig = costs.u64("ept_misconfig", p.ept_misconfig);
  p.emulate = costs.u64("mmio_emulate", p.emulate);
  p.userspace = costs.u64("mmio_userspace", p.userspace);
  // hv.mmio_regions: [{ "gpa": bytes, "size": bytes }], device memory with no memslot.
  for (const Cfg& r : hv.list("mmio_regions", json::array())) {
    MmioRegion m;
    m.gpa = r.bytes("gpa", 0);
    m.size = r.bytes("size", 0);
    check_gpa_range(r, m.gpa, m.size, "region");
    const auto overlaps = [&m](Addr gpa, std::uint64_t size) { return m.gpa < gpa + size && gpa < m.gpa + m.size; };
    const std::string range = "region [" + hex(m.gpa) + ", " + hex(m.gpa + m.size) + ") overlaps ";
    for (std::size_t i = 0; i < slots.size(); ++i)
      if (overlaps(slots[i].gpa, slots[i].size))
        r.fail("gpa", range + "hv.memslots[" + std::to_string(i) + "]: device memory has no memslot");
    for (std::size_t i = 0; i < p.regions.size(); ++i)
      if (overlaps(p.regions[i].gpa, p.regions[i].size))
        r.fail("gpa", range + "hv.mmio_regions[" + std::to_string(i) + "]");
    p.regions.push_back(m);
  }
  return p;
}

bool Mmio::in_device(Addr gpa) const {
  for (const MmioRegion& r : p_.regions)
    if (r.contains(gpa)) return true;
  return false;
}

bool Mmio::covers(Addr gpa) const {
  if (in_device(gpa)) return true;
  for (const MmioRegion& r : vacated_)
    if (r.contains(gpa)) return true;
  return false;
}

FaultOutcome Mmio::emulate(ExecContext& ctx, unsigned vcpu, Addr gpa, AccessType type, const char* what) {
  if (type == AccessType::Exec)
    throw Error("vcpu" + std::to_string(vcpu) + ": instruction fetch from " + what + " at GPA " + hex(gpa) +
                " (cycle " + std::to_string(ctx.now()) +
                "): KVM cannot emulate it and reports an internal error; keep code in RAM");
  // x86_emulate_instruction decodes the access; the device is the VMM's
  // (KVM_EXIT_MMIO), so the vCPU returns to userspace and re-enters.
  const Cycles t0 = ctx.now();
  ++emulated;
  ctx.charge(p_.emulate + p_.userspace);
  if (tl_)
    tl_->span(ctx.thread_id(), "emulate mmio", t0, ctx.now(),
              TraceArgs().hex("gpa", gpa).flag("write", type == AccessType::Write).str());
  if (doorbell_ && type == AccessType::Write && (gpa & ~(kPageSize4K - 1)) == doorbell_gpa_) doorbell_(ctx, vcpu);
  FaultOutcome out;
  out.emulated = true;
  out.mmio = true;
  return out;
}

FaultOutcome Mmio::noslot_fault(ExecContext& ctx, unsigned vcpu, Addr gpa, AccessType type) {
  ++faults;
  if (!in_device(gpa)) ++vacated_faults;
  if (p_.caching) {
    // kvm_tdp_mmu_map with no slot: under mmu_lock (read), as any fault.
    lock_.acquire(ctx, LockMode::kRead);
    mmu_.install_mmio(ctx, gpa, slots_.generation());
    lock_.release(ctx);
  }
  return emulate(ctx, vcpu, gpa, type, "MMIO");
}

FaultOutcome Mmio::readonly_write(ExecContext& ctx, unsigned vcpu, Addr gpa) {
  ++readonly_writes;
  return emulate(ctx, vcpu, gpa, AccessType::Write, "a read-only memslot");
}

Mmio::Lookup Mmio::misconfig(ExecContext& ctx, unsigned vcpu, Addr gpa, AccessType type, FaultOutcome& out,
                             std::uint64_t& entry, unsigned& level) {
  // handle_mmio_page_fault: a lockless walk to the last entry (no mmu_lock;
  // the walk is one instant after the sync), then the generation check
  // against the current memslots (check_mmio_spte).
  ctx.sync();
  ctx.charge(p_.ept_misconfig);
  entry = mmu_.last_spte(gpa, level);
  if (!is_mmio_spte(entry)) return Lookup::kNotMmio;
  if (mmio_spte_generation(entry) != (slots_.generation() & kMmioGenMask)) {
    ++stale;
    return Lookup::kStale;
  }
  ++hits;
  out = emulate(ctx, vcpu, gpa, type, "MMIO");
  return Lookup::kHit;
}

void Mmio::register_stats(Stats& s) const {
  s.counter("hv.mmio.faults", &faults, "exits",
            "EPT violations on a GPA no memslot covers, in a device region (hv.mmio_regions): each installs an "
            "MMIO entry (with hv.mmio_caching) and is emulated");
  s.counter("hv.mmio.vacated_faults", &vacated_faults, "exits",
            "of hv.mmio.faults, those on a GPA a deleted or moved memslot left (memslot_perf_test's move-active "
            "case: counted, not an error)");
  s.counter("hv.mmio.hits", &hits, "exits",
            "EPT-misconfiguration exits served from a current MMIO entry (KVM's MMIO fast path)");
  s.counter("hv.mmio.stale", &stale, "exits",
            "EPT-misconfiguration exits that found an MMIO entry of an older memslots generation and took the fault "
            "path");
  s.counter("hv.mmio.readonly_writes", &readonly_writes, "writes",
            "guest writes to read-only memslots, emulated as MMIO writes");
  s.counter("hv.mmio.emulated", &emulated, "accesses",
            "accesses emulated and sent to the VMM's device model (all of the above that completed)");
}

}  // namespace vmxsim::hv
