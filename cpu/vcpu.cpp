#include "cpu/vcpu.hpp"

#include <sstream>

#include "hv/hypervisor.hpp"
#include "sim/config.hpp"
#include "sim/run_control.hpp"
#include "sim/stats.hpp"

namespace vmxsim::cpu {

VcpuParams VcpuParams::from(const Cfg& cpu) {
  VcpuParams p;
  p.access_cycles = cpu.u64("access_cycles", p.access_cycles);
  p.max_exits_per_access = std::uint32_t(cpu.u64("max_exits_per_access", p.max_exits_per_access));
  if (p.max_exits_per_access == 0) cpu.fail("max_exits_per_access", "expected at least 1");
  return p;
}

Vcpu::Vcpu(sc_core::sc_module_name name, unsigned id, const VcpuParams& p,
           const models::TlbLevelParams& l1, const models::TlbLevelParams& l2,
           const models::MemHierarchyParams& mem, Cycles quantum, models::PhysMem& phys,
           hv::Hypervisor& hv, std::unique_ptr<traces::Source> source, sim::RunControl& control)
    : sc_module(name),
      id_(id),
      p_(p),
      thread_(id, quantum),
      l1_(l1),
      l2_(l2),
      mem_(mem),
      walker_(phys, mem_),
      hv_(hv),
      eptp_(hv.eptp()),
      source_(std::move(source)),
      control_(control) {
  // KVM gives each vCPU its own VPID, allocated from 1 (VPID 0 is the host's).
  tctx_.vpid = std::uint16_t(id + 1);
  tctx_.ept = 0;  // one EPT shared by all vCPUs
  SC_THREAD(run);
  set_stack_size(std::size_t(1) << 20);  // hypervisor paths run on this stack too
}

void Vcpu::run() {
  try {
    std::array<Access, 256> buf;
    for (std::size_t n; (n = source_->next(buf.data(), buf.size())) != 0;) {
      for (std::size_t i = 0; i < n; ++i) {
        const Access& a = buf[i];
        thread_.charge(a.gap + p_.access_cycles);
        ++accesses;
        translate(a.addr, a.type);
        // An access that crosses a 4 KiB boundary needs the next page too.
        const Addr last = a.addr + (a.size ? a.size - 1 : 0);
        if ((last >> kPageShift4K) != (a.addr >> kPageShift4K)) translate(last & ~(kPageSize4K - 1), a.type);
        thread_.maybe_yield();
        if (control_.stopping()) return;
      }
    }
  } catch (...) {
    control_.fail(std::current_exception());
  }
  cycles_guest = thread_.now() - cycles_hypervisor;
  control_.finished(id_, thread_.now());
}

void Vcpu::translate(Addr va, AccessType type) {
  // A hit serves the access if it grants the permission and, for a write,
  // the cached translation is already dirty; otherwise the walker must run
  // (to re-check permissions or to set D), as on real hardware.
  const std::uint8_t need = std::uint8_t(ept::needed_perm(type));
  const bool write = type == AccessType::Write;
  if (const models::TlbEntry* e = l1_.lookup(tctx_, va)) {
    thread_.charge(l1_.hit_cycles());
    if ((e->perms & need) && (!write || e->dirty)) return;
    ++hit_rewalks;
  } else {
    const models::TlbEntry* e2 = l2_.lookup(tctx_, va);
    thread_.charge(l2_.hit_cycles());  // the STLB lookup latency, hit or miss
    if (e2) {
      if ((e2->perms & need) && (!write || e2->dirty)) {
        const models::TlbEntry copy = *e2;
        l1_.fill(tctx_, va, copy);
        return;
      }
      ++hit_rewalks;
    }
  }
  unsigned exits = 0;
  walk_and_fill(va, type, exits);
}

void Vcpu::walk_and_fill(Addr va, AccessType type, unsigned& exits) {
  for (;;) {
    thread_.sync();  // page-table memory is shared state
    const ept::EptWalk w = walker_.translate(eptp_, va, type);
    ++walks;
    walk_refs += w.refs;
    walk_cycles += w.cycles;
    thread_.charge(w.cycles);
    if (w.ok) {
      models::TlbEntry e;
      e.page_shift = w.page_shift;
      e.hpa_base = w.hpa & ~((Addr{1} << w.page_shift) - 1);
      e.perms = w.perms;
      e.dirty = w.dirty;
      l2_.fill(tctx_, va, e);
      l1_.fill(tctx_, va, e);
      return;
    }
    if (++exits > p_.max_exits_per_access) {
      std::ostringstream m;
      m << "vcpu" << id_ << ": the access to GPA 0x" << std::hex << va << std::dec << " still faults after "
        << p_.max_exits_per_access << " VM exits (cpu.max_exits_per_access); the hypervisor "
        << "is not resolving it";
      throw Error(m.str());
    }
    // VM exit (reason 48), handler, VM entry; the access then retries.
    ++exits_ept_violation;
    const Cycles start = thread_.now();
    const hv::HvCosts& c = hv_.costs();
    thread_.charge(c.vm_exit);
    hv_.handle_ept_violation(thread_, id_, va, w.qual, type);
    thread_.charge(c.vm_entry);
    cycles_hypervisor += thread_.now() - start;
  }
}

void Vcpu::register_stats(Stats& s) const {
  const std::string p = "vcpu" + std::to_string(id_);
  s.counter(p + ".accesses", &accesses);
  l1_.register_stats(s, p + ".tlb.l1");
  l2_.register_stats(s, p + ".tlb.l2");
  s.counter(p + ".walks", &walks);
  s.counter(p + ".walk.refs", &walk_refs);
  s.counter(p + ".walk.cycles", &walk_cycles);
  s.counter(p + ".walk.hit_rewalks", &hit_rewalks);
  s.counter(p + ".walk.a_set", &walker_.a_set);
  s.counter(p + ".walk.d_set", &walker_.d_set);
  s.counter(p + ".exits.ept_violation", &exits_ept_violation);
  s.counter(p + ".cycles.guest", &cycles_guest);
  s.counter(p + ".cycles.hypervisor", &cycles_hypervisor);
  s.counter(p + ".sync.kernel_waits", &thread_.kernel_waits);
}

}  // namespace vmxsim::cpu
