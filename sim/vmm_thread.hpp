// sim::VmmThread — the SystemC thread the userspace VMM (hv::Vmm) runs in.
#pragma once
#include <functional>

#include <systemc>

#include "hv/vmm.hpp"
#include "sim/sim_thread.hpp"

namespace vmxsim::sim {

class RunControl;

/// The VMM thread's id: after every vCPU (at most 512), below kMaxThreads.
inline constexpr unsigned kVmmThreadId = 1000;

class VmmThread : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(VmmThread);
  VmmThread(sc_core::sc_module_name name, hv::Vmm& vmm, Cycles quantum, RunControl& control,
            std::function<bool()> workload_done);
  hv::ExecContext& context() { return thread_; }
  void set_jitter(Cycles max, std::uint64_t seed) { thread_.set_jitter(max, seed); }

 private:
  void run();
  hv::Vmm& vmm_;
  SimThread thread_;
  RunControl& control_;
  std::function<bool()> done_;
};

}  // namespace vmxsim::sim
