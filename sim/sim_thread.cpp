#include "sim/sim_thread.hpp"

#include "sim/error.hpp"

namespace vmxsim::sim {

SimThread::SimThread(unsigned id, Cycles quantum)
    : id_(id), quantum_(quantum ? quantum : 1), next_yield_(quantum_) {
  if (id >= kMaxThreads) throw Error("too many simulated threads (at most 1024)");
}

void SimThread::sync() {
  next_yield_ = t_ + quantum_;
  const std::uint64_t target = t_ * kSlotsPerCycle + id_;
  const std::uint64_t now = sc_core::sc_time_stamp().value();
  if (target <= now) return;  // resumed by a lock handoff at or past our instant
  const std::uint64_t idle = sc_core::sc_time_to_pending_activity().value();
  if (idle > target - now) return;  // nobody else can act before our instant
  ++kernel_waits;
  sc_core::wait(sc_core::sc_time::from_value(target - now));
}

void SimThread::block() {
  ++kernel_waits;
  sc_core::wait(wake_event_);
  next_yield_ = t_ + quantum_;
}

void SimThread::wake(Cycles t) {
  const std::uint64_t target = t * kSlotsPerCycle + id_;
  const std::uint64_t now = sc_core::sc_time_stamp().value();
  if (target <= now) throw Error("internal error: wake time is not in the future");
  t_ = t;
  wake_event_.notify(sc_core::sc_time::from_value(target - now));
}

}  // namespace vmxsim::sim
