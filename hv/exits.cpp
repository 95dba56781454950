#include "hv/exits.hpp"

#include <sstream>

#include "ept/entry.hpp"
#include "hv/dirty_log_ops.hpp"
#include "sim/error.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

void ExitHandlers::on_vm_exit(ExecContext& ctx, VcpuHandle& v) {
  if (pml::Engine* e = v.pml_engine()) dirty_ops_.drain_pml(ctx, *e);
}

const Memslot* ExitHandlers::lookup(ExecContext& ctx, Addr gpa) {
  ctx.sync();  // memslots are shared
  unsigned steps = 0;
  const Memslot* slot = slots_.find(gpa, steps);
  ctx.charge(c_.memslot_lookup + steps * c_.memslot_step);
  return slot;
}

FaultOutcome ExitHandlers::handle_ept_violation(ExecContext& ctx, unsigned vcpu, Addr gpa, std::uint64_t qual) {
  namespace qual_bits = ept::qual;
  ++ept_violations;
  // The faulting access as the exit qualification reports it (KVM derives the
  // fault's error code from it): a guest paging-structure access with EPT A/D
  // on is a write even when the instruction only reads.
  const AccessType type = (qual & qual_bits::kWrite)   ? AccessType::Write
                          : (qual & qual_bits::kFetch) ? AccessType::Exec
                                                       : AccessType::Read;
  ctx.charge(c_.ept_violation);
  const Memslot* slot = lookup(ctx, gpa);
  if (!slot) {
    std::ostringstream m;
    m << "vcpu" << vcpu << ": EPT violation on "
      << (type == AccessType::Write  ? "write"
          : type == AccessType::Exec ? "fetch"
                                     : "read")
      << " of GPA 0x" << std::hex << gpa << " (exit qualification 0x" << qual << std::dec << ") at cycle " << ctx.now()
      << ": no memslot covers this GPA, so the hypervisor cannot resolve the exit (KVM would "
         "exit to userspace as MMIO and this model has no device there); add a slot covering "
         "it to hv.memslots or keep the workload inside guest memory";
    throw Error(m.str());
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

void ExitHandlers::register_stats(Stats& s) const {
  s.counter("hv.ept_violations", &ept_violations, "exits", "EPT-violation exits handled (all vCPUs)");
}

}  // namespace vmxsim::hv
