// ExecContext — how hypervisor code runs inside a simulated thread (a
// vCPU's thread after a VM exit, or a VMM thread). The hypervisor model is
// plain C++: it never sees SystemC, only this interface.
#pragma once
#include "sim/types.hpp"

namespace vmxsim {

class ExecContext {
 public:
  virtual ~ExecContext() = default;
  /// This thread's current time.
  virtual Cycles now() const = 0;
  /// Spend `c` cycles of this thread's time.
  virtual void charge(Cycles c) = 0;
  /// Shared-state rule (docs/architecture.md, "Time"): call before reading or writing anything
  /// another thread can observe, so the access happens at this thread's exact
  /// global time and all such accesses replay in true time order.
  virtual void sync() = 0;
  /// Stable small id; breaks ties between threads at the same cycle.
  virtual unsigned thread_id() const = 0;
  /// Suspend until some other thread calls wake() on this context.
  virtual void block() = 0;
  /// From another (synchronised) thread: resume this blocked context at cycle
  /// `t`, which must be later than the waker's current cycle.
  virtual void wake(Cycles t) = 0;
};

}  // namespace vmxsim
