// hv::Lock — a simulated lock taken at global time, for mmu_lock. Two kinds:
//  - spin: exclusive, first come first served like Linux's queued spinlock;
//  - rw: a reader-writer lock like Linux's qrwlock (KVM_HAVE_MMU_RWLOCK: the
//    TDP MMU takes mmu_lock for read on faults, for write to write-protect).
//    Readers share it; a writer excludes everyone; a newcomer queues behind
//    any waiter (so a waiting writer is not starved), and a release grants
//    the queue's head: a writer, or every reader up to the next writer.
// A waiter spins (its time passes) until a release hands the lock over.
// Every acquire and release is an atomic on the lock word's cache line
// (SharedLine): `acquire`/`release` when this thread used it last, else
// `handoff`, and one at a time, so many readers serialise on the line.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <vector>
#include "sim/exec_context.hpp"
#include "sim/shared_line.hpp"
#include "sim/trace.hpp"

#include "sim/types.hpp"

namespace vmxsim {
class Cfg;
class Stats;
}  // namespace vmxsim

namespace vmxsim::hv {

enum class LockMode : std::uint8_t { kRead, kWrite };
enum class LockKind : std::uint8_t { kSpin, kRw };

struct LockCosts {
  Cycles acquire = 20;  // uncontended atomic acquire, the line already here
  Cycles release = 10;  // release store or atomic decrement, the line already here
  // handoff: the lock's cache line moving from another core (>= 1). Intel's
  // Memory Latency Checker measures a modified line's L2-to-L2 intervention
  // within a socket at 40.3-42.3 ns on Broadwell-EP (John McCalpin, Intel
  // developer forum, "Core-to-Core Communication Latency in Skylake/Kaby
  // Lake"): ≈ 100 cycles at 2.5 GHz.
  Cycles handoff = 100;
  static LockCosts from(const Cfg& costs);  // reads lock_acquire, lock_release, lock_handoff
};

class Lock {
 public:
  Lock(std::string name, const LockCosts& c, LockKind kind = LockKind::kSpin)
      : name_(std::move(name)), costs_(c), kind_(kind), wait_span_(name_ + " wait"), hold_span_(name_ + " hold") {}

  /// Take the lock; with a spin lock every mode is exclusive.
  void acquire(ExecContext& ctx, LockMode mode = LockMode::kWrite);
  void release(ExecContext& ctx);
  bool held_by(const ExecContext& ctx) const;
  LockKind kind() const { return kind_; }

  /// Registers `<prefix>.acquisitions`, `.read_acquisitions`, `.contended`,
  /// `.wait_cycles`, `.hold_cycles` (summed over holders).
  void register_stats(Stats& s, const std::string& prefix) const;
  const std::string& name() const { return name_; }
  /// Record "<name> wait" and "<name> hold" spans on the waiting/holding
  /// thread (null: off).
  void set_trace(Trace* t) { tl_ = t; }

  std::uint64_t acquisitions = 0, read_acquisitions = 0, contended = 0, wait_cycles = 0, hold_cycles = 0;

 private:
  struct Waiter {
    ExecContext* ctx;
    Cycles since;
    LockMode mode;
  };
  struct Holder {
    ExecContext* ctx;
    Cycles since;
    LockMode mode;
  };
  bool can_grant(LockMode m) const { return m == LockMode::kWrite ? holders_.empty() : !writer_; }
  void grant(ExecContext* ctx, LockMode m, Cycles at);
  std::string name_;
  LockCosts costs_;
  LockKind kind_;
  std::vector<Holder> holders_;  // a writer alone, or any number of readers
  bool writer_ = false;
  std::deque<Waiter> waiters_;
  SharedLine line_;  // the lock word
  std::string wait_span_, hold_span_;
  Trace* tl_ = nullptr;
};

}  // namespace vmxsim::hv
