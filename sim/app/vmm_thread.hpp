// sim::VmmThread — a SystemC thread of the userspace VMM (hv::Vmm): the
// dirty-logging loop, or the write-tracking schedule.
#pragma once
#include <functional>

#include <systemc>

#include "hv/vmm.hpp"
#include "sim/sim_thread.hpp"

namespace vmxsim::sim {

class RunControl;

/// The VMM threads' ids: after every vCPU (at most 512), below kMaxThreads.
inline constexpr unsigned kVmmThreadId = 1000;         // dirty logging
inline constexpr unsigned kVmmTrackThreadId = 1001;    // write tracking
inline constexpr unsigned kVmmMemslotThreadId = 1002;  // memslot operations
inline constexpr unsigned kVmmPerfThreadId = 1003;     // memslot_perf_test
inline constexpr unsigned kVmmDlptThreadId = 1004;     // dirty_log_perf_test
inline constexpr unsigned kVmmZapThreadId = 1005;      // the zap-storm loop

class VmmThread : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(VmmThread);
  using Body = std::function<void(ExecContext&)>;
  VmmThread(sc_core::sc_module_name name, unsigned id, Cycles quantum, RunControl& control, Body body);
  ExecContext& context() { return thread_; }
  void set_jitter(Cycles max, std::uint64_t seed) { thread_.set_jitter(max, seed); }

 private:
  void run();
  SimThread thread_;
  RunControl& control_;
  Body body_;
};

}  // namespace vmxsim::sim
