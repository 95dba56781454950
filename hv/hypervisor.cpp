#include "hv/hypervisor.hpp"

#include <sstream>

#include "hv/exec_context.hpp"
#include "models/phys_mem.hpp"
#include "sim/config.hpp"
#include "sim/error.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

HvCosts HvCosts::from(const Cfg& c) {
  HvCosts k;
  k.vm_exit = c.u64("vm_exit", k.vm_exit);
  k.vm_entry = c.u64("vm_entry", k.vm_entry);
  k.ept_violation = c.u64("ept_violation", k.ept_violation);
  k.memslot_lookup = c.u64("memslot_lookup", k.memslot_lookup);
  k.memslot_step = c.u64("memslot_step", k.memslot_step);
  k.gfn_to_pfn = c.u64("gfn_to_pfn", k.gfn_to_pfn);
  k.ipi_send = c.u64("ipi_send", k.ipi_send);
  k.tlb_flush = c.u64("tlb_flush", k.tlb_flush);
  return k;
}

HvParams HvParams::from(const Cfg& hv, const Cfg& ept) {
  HvParams p;
  const Cfg costs = hv.section("costs");
  p.costs = HvCosts::from(costs);
  p.lock = LockCosts::from(costs);
  p.mmu = MmuParams::from(ept, hv.section("mmu"), costs);
  p.memslots = MemslotSpec::from(hv);
  return p;
}

Hypervisor::Hypervisor(const HvParams& p, models::PhysMem& mem)
    : p_(p), mem_(mem), mmu_(mem, p.mmu), mmu_lock_("mmu_lock", p.lock) {
  std::uint32_t id = 0;
  for (const auto& spec : p_.memslots) {
    Memslot s;
    s.id = id++;
    s.gpa = spec.gpa;
    s.size = spec.size;
    s.backing_shift = spec.backing_shift;
    s.hpa = mem_.alloc_data(spec.size, Addr{1} << spec.backing_shift);
    slots_.add(s);
  }
}

void Hypervisor::handle_ept_violation(ExecContext& ctx, unsigned vcpu, Addr gpa,
                                      std::uint64_t qual, AccessType type) {
  ++ept_violations;
  ctx.charge(p_.costs.ept_violation);
  ctx.sync();  // memslots are shared
  unsigned steps = 0;
  const Memslot* slot = slots_.find(gpa, steps);
  ctx.charge(p_.costs.memslot_lookup + steps * p_.costs.memslot_step);
  if (!slot) {
    std::ostringstream m;
    m << "vcpu" << vcpu << ": EPT violation on " << (type == AccessType::Write ? "write" : type == AccessType::Exec ? "fetch" : "read")
      << " of GPA 0x" << std::hex << gpa << " (exit qualification 0x" << qual << std::dec
      << ") at cycle " << ctx.now()
      << ": no memslot covers this GPA, so the hypervisor cannot resolve the exit (KVM would "
         "exit to userspace as MMIO and this model has no device there); add a slot covering "
         "it to hv.memslots or keep the workload inside guest memory";
    throw Error(m.str());
  }
  ctx.charge(p_.costs.gfn_to_pfn);
  mmu_lock_.acquire(ctx);
  mmu_.map(ctx, *slot, gpa);
  mmu_lock_.release(ctx);
}

void Hypervisor::attach_vcpu(unsigned id, VcpuHandle* v) {
  if (vcpus_.size() <= id) vcpus_.resize(id + 1, nullptr);
  vcpus_[id] = v;
}

void Hypervisor::flush_remote_tlbs(ExecContext& ctx, int from) {
  ++remote_flushes;
  ctx.sync();  // the other vCPUs' request flags are shared
  for (std::size_t i = 0; i < vcpus_.size(); ++i) {
    if (!vcpus_[i]) continue;
    if (int(i) == from) {
      ctx.charge(p_.costs.tlb_flush);
      vcpus_[i]->flush_tlb_local();
    } else {
      ctx.charge(p_.costs.ipi_send);
      vcpus_[i]->request_tlb_flush();
    }
  }
}

void Hypervisor::register_stats(Stats& s) const {
  s.counter("hv.ept_violations", &ept_violations);
  s.counter("hv.remote_flushes", &remote_flushes);
  mmu_.register_stats(s, "hv.mmu");
  mmu_lock_.register_stats(s, "hv.lock.mmu_lock");
}

}  // namespace vmxsim::hv
