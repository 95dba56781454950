// sim::SimThread — one simulated thread's clock, and the ExecContext that
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

#include "sim/exec_context.hpp"
#include "sim/hash.hpp"

namespace vmxsim::sim {

inline constexpr std::uint64_t kSlotsPerCycle = 1024;
inline constexpr unsigned kMaxThreads = 1024;

class SimThread final : public ExecContext {
 public:
  SimThread(unsigned id, Cycles quantum);

  /// `sim.jitter_cycles`: every charge() (a hypervisor, VMM or guest-kernel
  /// step, which all go through ExecContext) takes 0..max extra cycles,
  /// drawn from this thread's own SplitMix64 stream of `seed`. Each thread's
  /// draws depend only on its own sequence of steps, so a run stays a pure
  /// function of (config, seed) at any quantum, while a sweep over seeds
  /// perturbs the relative timing of racing threads.
  void set_jitter(Cycles max, std::uint64_t seed);

  Cycles now() const override { return t_; }
  /// Interrupt windows every `w` cycles (0: none): sync() then also stops
  /// at each multiple of `w`, and take_window() says whether a sync passed
  /// one. A vCPU takes posted requests (IPIs) only there, so their
  /// delivery time depends on the requester's time alone, never on the
  /// quantum (docs/architecture.md, "Requests and acknowledgements").
  void set_window(Cycles w);
  /// Whether a sync passed a window boundary since the last call (which
  /// consumes it): any sync notes the boundary, only the owner acts on it.
  bool take_window() {
    const bool d = window_due_;
    window_due_ = false;
    return d;
  }

  /// A hypervisor-side step (jittered).
  void charge(Cycles c) override {
    t_ += c;
    if (jitter_max_) t_ += splitmix64(jitter_state_) % (jitter_max_ + 1);
  }
  /// The hardware's own time (guest compute, TLB, walks, exit/entry): never jittered.
  void advance(Cycles c) { t_ += c; }
  void sync() override;
  /// An observer's sync (`vmxsim run --dump-at`): the kernel reaches this
  /// thread's instant, as with sync(), but the next yield and the interrupt
  /// windows stay as they were planned, so the run is exactly the one
  /// without the observer (docs/inspect.md).
  void observe_sync();
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
  void plan_next_yield();
  /// Waits in the kernel until it reaches this thread's instant, unless no
  /// other process can act before it (lazy sync). Returns whether it waited.
  bool reach_instant();
  Cycles t_ = 0;
  unsigned id_;
  Cycles quantum_;
  Cycles next_yield_;
  Cycles window_ = 0;
  Cycles next_window_ = ~Cycles{0};
  bool window_due_ = false;
  Cycles jitter_max_ = 0;
  std::uint64_t jitter_state_ = 0;
  sc_core::sc_event wake_event_;
};

}  // namespace vmxsim::sim
