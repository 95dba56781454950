// SharedLine — one cache line that several threads update with atomic
// read-modify-writes (a lock word, a shared counter such as kvm->stat.pages).
// A locked RMW needs the line exclusive, so RMWs from different cores
// serialise on it: each starts when the previous one ended and costs
// `local` if this thread made the last one, else `transfer` (the line moving
// from the other core). At many vCPUs this, not the lock's critical
// section, is what bounds a reader-writer lock's read side.
#pragma once
#include <algorithm>
#include <limits>

#include "sim/exec_context.hpp"
#include "sim/types.hpp"

namespace vmxsim {

class SharedLine {
 public:
  /// One RMW by `ctx` at its current time; the caller has synchronised
  /// (ExecContext::sync), so RMWs replay in true time order. Charges the
  /// wait for the line and the RMW itself.
  void rmw(ExecContext& ctx, Cycles local, Cycles transfer) {
    const Cycles start = std::max(ctx.now(), free_at_);
    free_at_ = start + (owner_ == ctx.thread_id() ? local : transfer);
    owner_ = ctx.thread_id();
    ctx.charge(free_at_ - ctx.now());
  }
  /// The line went to thread `tid`, arriving at `at` (a lock handed to a waiter).
  void hand_to(unsigned tid, Cycles at) {
    owner_ = tid;
    free_at_ = std::max(free_at_, at);
  }

 private:
  Cycles free_at_ = 0;
  unsigned owner_ = std::numeric_limits<unsigned>::max();
};

}  // namespace vmxsim
