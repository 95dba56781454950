#include "sim/vmm_thread.hpp"

#include "sim/run_control.hpp"

namespace vmxsim::sim {

VmmThread::VmmThread(sc_core::sc_module_name name, hv::Vmm& vmm, Cycles quantum, RunControl& control,
                     std::function<bool()> workload_done)
    : sc_module(name), vmm_(vmm), thread_(kVmmThreadId, quantum), control_(control), done_(std::move(workload_done)) {
  SC_THREAD(run);
  set_stack_size(std::size_t(1) << 20);
}

void VmmThread::run() {
  try {
    vmm_.run(thread_, done_);
  } catch (...) {
    control_.fail(std::current_exception());
  }
}

}  // namespace vmxsim::sim
