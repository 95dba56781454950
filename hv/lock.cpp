#include "hv/lock.hpp"

#include <algorithm>

#include "sim/config.hpp"
#include "sim/error.hpp"
#include "sim/exec_context.hpp"
#include "sim/stats.hpp"
#include "sim/trace.hpp"

namespace vmxsim::hv {

LockCosts LockCosts::from(const Cfg& costs) {
  LockCosts c;
  c.acquire = costs.u64("lock_acquire", c.acquire);
  c.release = costs.u64("lock_release", c.release);
  c.handoff = costs.u64("lock_handoff", c.handoff);
  if (c.handoff == 0) costs.fail("lock_handoff", "expected at least 1 cycle (the waiter runs after the releaser)");
  return c;
}

bool Lock::held_by(const ExecContext& ctx) const {
  for (const Holder& h : holders_)
    if (h.ctx == &ctx) return true;
  return false;
}

void Lock::grant(ExecContext* ctx, LockMode m, Cycles at) {
  holders_.push_back({ctx, at, m});
  writer_ = m == LockMode::kWrite;
}

void Lock::acquire(ExecContext& ctx, LockMode mode) {
  if (kind_ == LockKind::kSpin) mode = LockMode::kWrite;
  ctx.sync();  // the lock word is shared
  const Cycles asked = ctx.now();
  line_.rmw(ctx, costs_.acquire, costs_.handoff);  // the lock word's cmpxchg / atomic add
  ++acquisitions;
  read_acquisitions += mode == LockMode::kRead;
  if (waiters_.empty() && can_grant(mode)) {
    grant(&ctx, mode, ctx.now());
    return;
  }
  ++contended;
  waiters_.push_back({&ctx, asked, mode});
  ctx.block();  // woken by release() as a holder, at the handoff time
  wait_cycles += ctx.now() - asked;
  if (tl_) tl_->span(ctx.thread_id(), wait_span_.c_str(), asked, ctx.now());
}

void Lock::release(ExecContext& ctx) {
  ctx.sync();
  // A writer's release is a plain store; a reader's an atomic decrement.
  line_.rmw(ctx, costs_.release, costs_.handoff);
  auto it = holders_.begin();
  while (it != holders_.end() && it->ctx != &ctx) ++it;
  if (it == holders_.end()) throw Error("internal error: " + name_ + " released by a thread that does not hold it");
  hold_cycles += ctx.now() - it->since;
  if (tl_) tl_->span(ctx.thread_id(), hold_span_.c_str(), it->since, ctx.now());
  if (it->mode == LockMode::kWrite) writer_ = false;
  holders_.erase(it);
  // Hand over to the head of the queue: a writer once the lock is free, or
  // every reader up to the next writer.
  const Cycles at = ctx.now() + costs_.handoff;
  while (!waiters_.empty() && can_grant(waiters_.front().mode)) {
    const Waiter w = waiters_.front();
    waiters_.pop_front();
    grant(w.ctx, w.mode, at);
    line_.hand_to(w.ctx->thread_id(), at);
    w.ctx->wake(at);
    if (w.mode == LockMode::kWrite) break;
  }
}

void Lock::register_stats(Stats& s, const std::string& prefix) const {
  s.counter(prefix + ".acquisitions", &acquisitions, "acquisitions", "times the lock was taken, in either mode");
  s.counter(prefix + ".read_acquisitions", &read_acquisitions, "acquisitions", "times the lock was taken for read");
  s.counter(prefix + ".contended", &contended, "acquisitions", "acquisitions that had to wait for another holder");
  s.counter(prefix + ".wait_cycles", &wait_cycles, "cycles", "cycles threads spent waiting for the lock (all threads)");
  s.counter(prefix + ".hold_cycles", &hold_cycles, "cycles", "cycles the lock was held (summed over holders)");
}

}  // namespace vmxsim::hv
