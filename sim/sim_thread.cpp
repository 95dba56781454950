#include "sim/sim_thread.hpp"

#include <algorithm>

#include "sim/error.hpp"

namespace vmxsim::sim {

namespace {
constexpr std::uint64_t kJitterStream = 0x6a17'0000;  // keeps jitter streams clear of other seed streams
}

SimThread::SimThread(unsigned id, Cycles quantum) : id_(id), quantum_(quantum ? quantum : 1), next_yield_(quantum_) {
  if (id >= kMaxThreads) throw Error("too many simulated threads (at most 1024)");
}

void SimThread::set_jitter(Cycles max, std::uint64_t seed) {
  jitter_max_ = max;
  // A stream per thread id, apart from the vCPUs' replacement-policy seeds.
  jitter_state_ = mix_seed(seed, kJitterStream + id_);
}

void SimThread::set_window(Cycles w) {
  window_ = w;
  next_window_ = w ? (t_ / w + 1) * w : ~Cycles{0};
  next_yield_ = std::min(next_yield_, next_window_);
}

void SimThread::plan_next_yield() {
  if (t_ >= next_window_) {
    window_due_ = true;
    next_window_ = (t_ / window_ + 1) * window_;
  }
  next_yield_ = std::min(t_ + quantum_, next_window_);
}

bool SimThread::reach_instant() {
  const std::uint64_t target = t_ * kSlotsPerCycle + id_;
  const std::uint64_t now = sc_core::sc_time_stamp().value();
  if (target <= now) return false;  // resumed by a lock handoff at or past our instant
  const std::uint64_t idle = sc_core::sc_time_to_pending_activity().value();
  if (idle > target - now) return false;  // nobody else can act before our instant
  sc_core::wait(sc_core::sc_time::from_value(target - now));
  return true;
}

void SimThread::sync() {
  plan_next_yield();
  if (reach_instant()) ++kernel_waits;
}

void SimThread::observe_sync() { reach_instant(); }

void SimThread::block() {
  ++kernel_waits;
  sc_core::wait(wake_event_);
  plan_next_yield();
}

void SimThread::wake(Cycles t) {
  const std::uint64_t target = t * kSlotsPerCycle + id_;
  const std::uint64_t now = sc_core::sc_time_stamp().value();
  if (target <= now) throw Error("internal error: wake time is not in the future");
  t_ = t;
  wake_event_.notify(sc_core::sc_time::from_value(target - now));
}

}  // namespace vmxsim::sim
