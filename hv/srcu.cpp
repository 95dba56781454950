#include "hv/srcu.hpp"

#include <algorithm>

#include "sim/error.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

void Srcu::read_lock(ExecContext& ctx) {
  const unsigned t = ctx.thread_id();
  if (inside_.size() <= t) {
    inside_.resize(t + 1, false);
    left_.resize(t + 1, 0);
  }
  ctx.sync();  // grace periods read this flag
  inside_[t] = true;
  ++read_sections;
}

void Srcu::read_unlock(ExecContext& ctx) {
  const unsigned t = ctx.thread_id();
  ctx.sync();
  inside_[t] = false;
  ++left_[t];
  // Wake each waiter whose last reader this was, one cycle later (a waker
  // may only schedule the future).
  for (std::size_t i = 0; i < waiters_.size();) {
    if (done(waiters_[i])) {
      waiters_[i].ctx->wake(ctx.now() + 1);
      waiters_.erase(waiters_.begin() + std::ptrdiff_t(i));
    } else {
      ++i;
    }
  }
}

bool Srcu::done(const Waiter& w) const {
  for (const auto& [t, at_call] : w.readers)
    if (left_[t] == at_call) return false;
  return true;
}

void Srcu::synchronize(ExecContext& ctx) {
  ctx.sync();
  ++syncs;
  const unsigned self = ctx.thread_id();
  if (self < inside_.size() && inside_[self])
    throw Error("synchronize_srcu called inside an SRCU read-side section (thread " + std::to_string(self) + ")");
  Waiter w{&ctx, {}};
  for (unsigned t = 0; t < inside_.size(); ++t)
    if (inside_[t]) w.readers.emplace_back(t, left_[t]);
  if (!w.readers.empty()) {
    ++waited;
    const Cycles t0 = ctx.now();
    waiters_.push_back(std::move(w));
    ctx.block();  // until the last reader's unlock
    wait_cycles += ctx.now() - t0;
  }
  ctx.charge(sync_cycles_);
}

void Srcu::register_stats(Stats& s, const std::string& prefix) const {
  s.counter(prefix + ".syncs", &syncs, "grace periods", "synchronize_srcu calls (one per memslot swap)");
  s.counter(prefix + ".syncs_waited", &waited, "grace periods",
            "grace periods that had to wait for a vCPU inside an exit handler");
  s.counter(prefix + ".wait_cycles", &wait_cycles, "cycles",
            "cycles memslot updates waited for readers, summed (excludes hv.costs.srcu_sync)");
  s.counter(prefix + ".read_sections", &read_sections, "sections",
            "SRCU read-side sections entered (one per VM exit of every vCPU)");
}

}  // namespace vmxsim::hv
