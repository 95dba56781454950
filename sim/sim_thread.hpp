// sim::SimThread — one simulated thread's clock, and the hv::ExecContext that
// hypervisor code runs on. Implements the time model (docs/architecture.md, "Time"):
//
//  * Local time is a plain integer (cycles). A thread runs ahead of the SystemC
//    kernel and only enters it at a sync point or when it is a quantum ahead.
//  * Kernel time encodes (cycle, thread): value = cycle * kSlotsPerCycle + id.
//    No two threads ever stand at the same kernel instant, so shared-state
//    accesses replay in one total order, ties broken by thread id, whatever
//    the quantum is.
//  * Lazy sync: if no other process has anything pending before this
//    thread's instant, no one can observe the difference, so the kernel wait
//    is skipped (SystemC's sc_time_to_pending_activity()). A single vCPU on a
//    TLB-hit workload therefore never waits in the kernel.
#pragma once
#include <cstdint>

#include <systemc>

#include "hv/exec_context.hpp"

namespace vmxsim::sim {

inline constexpr std::uint64_t kSlotsPerCycle = 1024;
inline constexpr unsigned kMaxThreads = 1024;

class SimThread final : public hv::ExecContext {
 public:
  SimThread(unsigned id, Cycles quantum);

  Cycles now() const override { return t_; }
  void charge(Cycles c) override { t_ += c; }
  void sync() override;
  unsigned thread_id() const override { return id_; }
  void block() override;
  void wake(Cycles t) override;

  /// Hot path: enter the kernel only once a quantum has passed since the last sync.
  void maybe_yield() {
    if (yield_due()) sync();
  }
  bool yield_due() const { return t_ >= next_yield_; }
  /// The cycle at which the next quantum sync is due.
  Cycles next_yield() const { return next_yield_; }

  std::uint64_t kernel_waits = 0;  // syncs that really waited in the kernel

 private:
  Cycles t_ = 0;
  unsigned id_;
  Cycles quantum_;
  Cycles next_yield_;
  sc_core::sc_event wake_event_;
};

/// Kernel time of `cycle` for thread `id`.
inline sc_core::sc_time kernel_time(Cycles cycle, unsigned id) {
  return sc_core::sc_time::from_value(cycle * kSlotsPerCycle + id);
}

}  // namespace vmxsim::sim
