// hv::Lock — a simulated exclusive lock taken at global time, first come first
// served like Linux's queued spinlock: a waiter spins (its time passes) until
// the holder's release hands the lock over. Used for mmu_lock.
#pragma once
#include <cstdint>
#include <deque>
#include <string>

#include "sim/types.hpp"

namespace vmxsim {
class Cfg;
class Stats;
}

namespace vmxsim::hv {

class ExecContext;
class Trace;

struct LockCosts {
  Cycles acquire = 20;   // uncontended atomic acquire
  Cycles release = 10;   // release store
  Cycles handoff = 60;   // lock cache line moving to the next waiter (>= 1)
  static LockCosts from(const Cfg& costs);  // reads lock_acquire, lock_release, lock_handoff
};

class Lock {
 public:
  Lock(std::string name, const LockCosts& c)
      : name_(std::move(name)), costs_(c), wait_span_(name_ + " wait"), hold_span_(name_ + " hold") {}

  void acquire(ExecContext& ctx);
  void release(ExecContext& ctx);
  bool held_by(const ExecContext& ctx) const { return owner_ == &ctx; }

  /// Registers `<prefix>.acquisitions`, `.contended`, `.wait_cycles`, `.hold_cycles`.
  void register_stats(Stats& s, const std::string& prefix) const;
  const std::string& name() const { return name_; }
  /// Record "<name> wait" and "<name> hold" spans on the waiting/holding
  /// thread (null: off).
  void set_trace(Trace* t) { tl_ = t; }

  std::uint64_t acquisitions = 0, contended = 0, wait_cycles = 0, hold_cycles = 0;

 private:
  struct Waiter {
    ExecContext* ctx;
    Cycles since;
  };
  std::string name_;
  LockCosts costs_;
  ExecContext* owner_ = nullptr;
  Cycles held_since_ = 0;
  std::deque<Waiter> waiters_;
  std::string wait_span_, hold_span_;
  Trace* tl_ = nullptr;
};

}  // namespace vmxsim::hv
