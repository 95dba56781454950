#include "sim/app/vmm_thread.hpp"

#include "sim/run_control.hpp"

namespace vmxsim::sim {

VmmThread::VmmThread(sc_core::sc_module_name name, unsigned id, Cycles quantum, RunControl& control, Body body)
    : sc_module(name), thread_(id, quantum), control_(control), body_(std::move(body)) {
  SC_THREAD(run);
  set_stack_size(std::size_t(1) << 20);
}

void VmmThread::run() {
  try {
    body_(thread_);
  } catch (...) {
    control_.fail(std::current_exception());
  }
}

}  // namespace vmxsim::sim
