#include "hv/lock.hpp"

#include <algorithm>

#include "hv/exec_context.hpp"
#include "hv/trace.hpp"
#include "sim/config.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

LockCosts LockCosts::from(const Cfg& costs) {
  LockCosts c;
  c.acquire = costs.u64("lock_acquire", c.acquire);
  c.release = costs.u64("lock_release", c.release);
  c.handoff = costs.u64("lock_handoff", c.handoff);
  if (c.handoff == 0) costs.fail("lock_handoff", "expected at least 1 cycle (the waiter runs after the releaser)");
  return c;
}

void Lock::acquire(ExecContext& ctx) {
  ctx.sync();  // the lock word is shared
  const Cycles asked = ctx.now();
  ctx.charge(costs_.acquire);
  ++acquisitions;
  if (!owner_) {
    owner_ = &ctx;
    held_since_ = ctx.now();
    return;
  }
  ++contended;
  waiters_.push_back({&ctx, asked});
  ctx.block();  // woken by release() as the new owner, at the handoff time
  wait_cycles += ctx.now() - asked;
  held_since_ = ctx.now();
  if (tl_) tl_->span(ctx.thread_id(), wait_span_.c_str(), asked, ctx.now());
}

void Lock::release(ExecContext& ctx) {
  ctx.charge(costs_.release);
  ctx.sync();
  hold_cycles += ctx.now() - held_since_;
  if (tl_) tl_->span(ctx.thread_id(), hold_span_.c_str(), held_since_, ctx.now());
  if (waiters_.empty()) {
    owner_ = nullptr;
    return;
  }
  Waiter next = waiters_.front();
  waiters_.pop_front();
  owner_ = next.ctx;
  next.ctx->wake(ctx.now() + costs_.handoff);
}

void Lock::register_stats(Stats& s, const std::string& prefix) const {
  s.counter(prefix + ".acquisitions", &acquisitions);
  s.counter(prefix + ".contended", &contended);
  s.counter(prefix + ".wait_cycles", &wait_cycles);
  s.counter(prefix + ".hold_cycles", &hold_cycles);
}

}  // namespace vmxsim::hv
