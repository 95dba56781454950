#include "hv/exits.hpp"

#include <sstream>

#include "ept/entry.hpp"
#include "hv/dirty_log_ops.hpp"
#include "hv/nested/nested_mmu.hpp"
#include "sim/error.hpp"
#include "sim/format.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

void ExitHandlers::on_vm_exit(ExecContext& ctx, VcpuHandle& v) {
  if (pml::Engine* e = v.pml_engine()) dirty_ops_.drain_pml(ctx, *e);
}

const Memslot* ExitHandlers::lookup(ExecContext& ctx, unsigned vcpu, Addr gpa) {
  ctx.sync();  // memslots are shared
  Cycles cost = 0;
  const Memslot* slot = slots_.find(gpa, vcpu, cost);  // the implementation's steps × its costs
  ctx.charge(c_.memslot_lookup + cost);
  return slot;
}

FaultOutcome ExitHandlers::handle_ept_violation(ExecContext& ctx, unsigned vcpu, Addr gpa, std::uint64_t qual) {
  ++ept_violations;
  ctx.charge(c_.ept_violation);
  return fault(ctx, vcpu, gpa, ept::qual::access(qual), qual);
}

FaultOutcome ExitHandlers::handle_l2_ept_violation(ExecContext& ctx, unsigned vcpu, Addr l2_gpa, std::uint64_t qual) {
  ++ept_violations;
  ++l2_ept_violations;
  ctx.charge(c_.ept_violation);
  if (mmio_.covers(l2_gpa)) {
    // A device page of L1's, passed through at its address (L2 memslots
    // never overlap hv.mmio_regions).
    return fault(ctx, vcpu, l2_gpa, ept::qual::access(qual), qual);
  }
  return nested_->handle(ctx, vcpu, l2_gpa, qual);
}

FaultOutcome ExitHandlers::fault(ExecContext& ctx, unsigned vcpu, Addr gpa, AccessType type, std::uint64_t qual) {
  namespace qual_bits = ept::qual;
  const Memslot* slot = lookup(ctx, vcpu, gpa);
  if (!slot) {
    // kvm_faultin_pfn finds no slot: KVM treats the GPA as MMIO.
    if (mmio_.covers(gpa)) return mmio_.noslot_fault(ctx, vcpu, gpa, type);
    std::ostringstream m;
    m << "vcpu" << vcpu << ": EPT violation on "
      << (type == AccessType::Write  ? "write"
          : type == AccessType::Exec ? "fetch"
                                     : "read")
      << " of GPA 0x" << std::hex << gpa << " (exit qualification 0x" << qual << std::dec << ") at cycle " << ctx.now()
      << ": no memslot covers this GPA and no device region (hv.mmio_regions) does, so the hypervisor cannot "
         "resolve the exit; add a slot covering it to hv.memslots, declare the device in hv.mmio_regions, or keep "
         "the workload inside guest memory";
    throw Error(m.str());
  }
  // A slot being deleted or moved (KVM_MEMSLOT_INVALID): kvm_faultin_pfn
  // returns RET_PF_RETRY, and the vCPU re-enters until the change is done.
  if (slot->invalid) {
    ++memslot_retries;
    FaultOutcome retry;
    retry.retry = true;
    return retry;
  }
  // A write to a KVM_MEM_READONLY slot: kvm_faultin_pfn's read-only fault,
  // emulated as an MMIO write (the leaf, if any, stays R|X).
  if (slot->readonly && type == AccessType::Write) {
    if ((qual & qual_bits::kGlaValid) && !(qual & qual_bits::kFinalTranslation))
      throw Error("vcpu" + std::to_string(vcpu) +
                  ": the guest page walker updates a guest paging-structure entry at GPA " + hex(gpa) +
                  " in a read-only memslot; guest page tables must be in RAM");
    return mmio_.readonly_write(ctx, vcpu, gpa);
  }
  const FaultOutcome out = path_.handle(ctx, vcpu, *slot, gpa, type);
  if (out.emulated && (qual & qual_bits::kGlaValid) && !(qual & qual_bits::kFinalTranslation)) {
    std::ostringstream m;
    m << "vcpu" << vcpu << ": the guest page walker's accessed/dirty update of GPA 0x" << std::hex << gpa << std::dec
      << " at cycle " << ctx.now()
      << " hit a write-tracked page (hv.page_track); tracking a guest page-table page is not modelled: "
         "track data pages only";
    throw Error(m.str());
  }
  return out;
}

FaultOutcome ExitHandlers::handle_ept_misconfig(ExecContext& ctx, unsigned vcpu, Addr gpa, AccessType type) {
  ++ept_misconfigs;
  FaultOutcome out;
  std::uint64_t entry = 0;
  unsigned level = 0;
  switch (mmio_.misconfig(ctx, vcpu, gpa, type, out, entry, level)) {
    case Mmio::Lookup::kHit: return out;
    case Mmio::Lookup::kStale:
      // RET_PF_INVALID: the fault path, as for a violation (qualification
      // as the hardware would have reported the final access).
      return fault(ctx, vcpu, gpa, type,
                   (type == AccessType::Write  ? ept::qual::kWrite
                    : type == AccessType::Exec ? ept::qual::kFetch
                                               : ept::qual::kRead) |
                       ept::qual::kGlaValid | ept::qual::kFinalTranslation);
    case Mmio::Lookup::kNotMmio: break;
  }
  std::ostringstream m;
  m << "vcpu" << vcpu << ": EPT misconfiguration at GPA 0x" << std::hex << gpa << " (level-" << std::dec << level
    << " entry 0x" << std::hex << entry << std::dec << ") at cycle " << ctx.now()
    << ": the entry is not one of the hypervisor's MMIO entries (a corrupted EPT entry: write without read, a "
       "reserved bit, or memory type 2, 3 or 7; SDM 28.2.3.1); KVM reports an internal error";
  throw Error(m.str());
}

void ExitHandlers::register_stats(Stats& s) const {
  s.counter("hv.ept_violations", &ept_violations, "exits", "EPT-violation exits handled (all vCPUs)");
  if (nested_)
    s.counter("hv.l2_ept_violations", &l2_ept_violations, "exits",
              "EPT-violation exits from L2 (guest.nested), of hv.ept_violations");
  s.counter("hv.memslot_retries", &memslot_retries, "faults",
            "faults on a slot being deleted or moved (KVM_MEMSLOT_INVALID): the vCPU re-enters and retries");
  s.counter("hv.ept_misconfigs", &ept_misconfigs, "exits",
            "EPT-misconfiguration exits (reason 49) handled (all vCPUs): MMIO entries, current or stale");
}

}  // namespace vmxsim::hv
