// cpu::Vcpu — one virtual CPU as a SystemC module: an SC_THREAD that replays
// its access stream through the L1 and L2 TLBs, the EPT walker on a miss, and
// VM exits into the hypervisor (which runs in this thread) on an EPT
// violation, then VM entry and a retry of the access.
//
// Guest-physical mode: trace addresses are GPAs (guest paging off), so the
// TLBs cache GPA→HPA combined translations tagged with this vCPU's VPID.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include <systemc>

#include "ept/walker.hpp"
#include "models/mem_hierarchy.hpp"
#include "models/tlb.hpp"
#include "sim/sim_thread.hpp"
#include "traces/source.hpp"

namespace vmxsim {
class Cfg;
class Stats;
namespace hv {
class Hypervisor;
}
namespace sim {
class RunControl;
}
}  // namespace vmxsim

namespace vmxsim::cpu {

struct VcpuParams {
  Cycles access_cycles = 1;          // cpu.access_cycles: cost of an access that hits the L1 TLB
  std::uint32_t max_exits_per_access = 64;  // cpu.max_exits_per_access: livelock guard
  static VcpuParams from(const Cfg& cpu);
};

class Vcpu : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Vcpu);
  Vcpu(sc_core::sc_module_name name, unsigned id, const VcpuParams& p,
       const models::TlbLevelParams& l1, const models::TlbLevelParams& l2,
       const models::MemHierarchyParams& mem, Cycles quantum, models::PhysMem& phys,
       hv::Hypervisor& hv, std::unique_ptr<traces::Source> source, sim::RunControl& control);

  void register_stats(Stats& s) const;
  Cycles now() const { return thread_.now(); }
  unsigned id() const { return id_; }

  // Counters.
  std::uint64_t accesses = 0, walks = 0, walk_refs = 0, walk_cycles = 0, hit_rewalks = 0;
  std::uint64_t exits_ept_violation = 0;
  std::uint64_t cycles_guest = 0, cycles_hypervisor = 0;

 private:
  void run();
  void translate(Addr va, AccessType type);
  void walk_and_fill(Addr va, AccessType type, unsigned& exits);

  unsigned id_;
  VcpuParams p_;
  sim::SimThread thread_;
  models::Tlb l1_, l2_;
  models::MemHierarchy mem_;
  ept::Walker walker_;
  hv::Hypervisor& hv_;
  ept::Eptp eptp_;
  models::TlbContext tctx_;
  std::unique_ptr<traces::Source> source_;
  sim::RunControl& control_;
};

}  // namespace vmxsim::cpu
