#include "hv/rcu.hpp"

#include <algorithm>

#include "models/phys_mem.hpp"
#include "sim/config.hpp"
#include "sim/error.hpp"
#include "sim/exec_context.hpp"

namespace vmxsim::hv {

RcuParams RcuParams::from(const Cfg& c) {
  RcuParams p;
  p.gp_cycles = c.u64("gp_cycles", p.gp_cycles);
  p.header_bytes = c.u64("page_header_bytes", p.header_bytes);
  return p;
}

void Rcu::grow(unsigned t) {
  if (inside_.size() <= t) {
    inside_.resize(t + 1, false);
    exits_.resize(t + 1, 0);
    entered_.resize(t + 1, 0);
  }
}

unsigned Rcu::readers() const { return unsigned(std::count(inside_.begin(), inside_.end(), true)); }

Rcu::Snapshot Rcu::snapshot() const {
  Snapshot s;
  for (unsigned t = 0; t < inside_.size(); ++t)
    if (inside_[t]) s.readers.emplace_back(t, exits_[t]);
  return s;
}

bool Rcu::done(const Snapshot& s) const {
  for (const auto& [t, at_start] : s.readers)
    if (exits_[t] == at_start) return false;
  return true;
}

void Rcu::read_lock(ExecContext& ctx) {
  const unsigned t = ctx.thread_id();
  grow(t);
  ctx.sync();  // other threads' grace periods read this flag
  run_callbacks(ctx.now());
  inside_[t] = true;
  entered_[t] = ctx.now();
  ++read_sections;
}

void Rcu::read_unlock(ExecContext& ctx) {
  const unsigned t = ctx.thread_id();
  ctx.sync();
  const Cycles now = ctx.now(), len = now - entered_[t];
  inside_[t] = false;
  ++exits_[t];  // a quiescent point
  section_hist.add(len);
  // The section that just ended counts for every wait whose snapshot holds it.
  const auto ended_here = [&](const Snapshot& s) {
    for (const auto& [th, at_start] : s.readers)
      if (th == t && exits_[t] == at_start + 1) return true;
    return false;
  };
  for (Batch& b : batches_) {
    if (b.known) continue;
    if (ended_here(b.snap)) b.longest = std::max(b.longest, len);
    if (done(b.snap)) {
      b.known = true;
      b.ready_at = std::max(now, b.since + p_.gp_cycles);
    }
  }
  // Wake each synchronous waiter whose last reader this was, one cycle later
  // (a waker may only schedule the future).
  for (std::size_t i = 0; i < waiters_.size();) {
    if (ended_here(waiters_[i].snap)) longest_waited = std::max(longest_waited, len);
    if (done(waiters_[i].snap)) {
      waiters_[i].ctx->wake(now + 1);
      waiters_.erase(waiters_.begin() + std::ptrdiff_t(i));
    } else {
      ++i;
    }
  }
  run_callbacks(now);
}

void Rcu::set_pending(std::uint64_t pages, Cycles at) {
  // Changes come in time order: each RCU event first runs the callbacks
  // whose grace period ended before it.
  if (at > last_change_) pending_integral += pending_ * (at - last_change_);
  last_change_ = std::max(last_change_, at);
  pending_ = pages;
  if (tl_)
    tl_->counter("pt pages pending free", at,
                 TraceArgs().num("pages", pending_).num("bytes", pending_ * (kPageSize4K + p_.header_bytes)).str());
}

void Rcu::release(Addr page, Cycles t) {
  mem_.free_table(page);
  ++freed;
  if (on_free_) on_free_(page, t);
}

void Rcu::call(ExecContext& ctx, std::vector<Addr> pages) {
  if (pages.empty()) return;
  ctx.sync();
  const Cycles now = ctx.now();
  run_callbacks(now);
  ++callbacks;
  Batch b{now, std::move(pages), snapshot()};
  if (b.snap.readers.empty()) {
    b.known = true;
    b.ready_at = now + p_.gp_cycles;
  } else {
    ++waited;
  }
  set_pending(pending_ + b.pages.size(), now);
  max_pending = std::max(max_pending, pending_);
  batches_.push_back(std::move(b));
  run_callbacks(now);
}

void Rcu::run_callbacks(Cycles now) {
  // Callbacks run in the order they were queued, as RCU's do.
  std::size_t done = 0;
  while (done < batches_.size() && batches_[done].known && batches_[done].ready_at <= now) {
    Batch& b = batches_[done];
    for (Addr p : b.pages) release(p, now);
    set_pending(pending_ - b.pages.size(), b.ready_at);
    const Cycles gp = b.ready_at - b.since;
    wait_cycles += gp;
    gp_hist.add(gp);
    longest_waited = std::max(longest_waited, b.longest);
    if (b.ready_at != last_gp_end_) ++grace_periods;  // batches ending together shared one grace period
    last_gp_end_ = b.ready_at;
    ++done;
  }
  batches_.erase(batches_.begin(), batches_.begin() + std::ptrdiff_t(done));
}

Cycles Rcu::synchronize(ExecContext& ctx) {
  ctx.sync();
  const unsigned self = ctx.thread_id();
  if (inside(self))
    throw Error("synchronize_rcu called inside an RCU read-side section (thread " + std::to_string(self) + ")");
  const Cycles t0 = ctx.now();
  run_callbacks(t0);
  ++syncs;
  Snapshot s = snapshot();
  if (!s.readers.empty()) {
    ++waited;
    waiters_.push_back({&ctx, std::move(s)});
    ctx.block();  // until the last reader's unlock
  }
  if (ctx.now() - t0 < p_.gp_cycles) ctx.charge(p_.gp_cycles - (ctx.now() - t0));
  ctx.sync();
  const Cycles took = ctx.now() - t0;
  ++grace_periods;
  gp_hist.add(took);
  run_callbacks(ctx.now());
  return took;
}

Cycles Rcu::wait(ExecContext& ctx, Snapshot s) {
  ctx.sync();
  const Cycles t0 = ctx.now();
  if (!done(s)) {
    waiters_.push_back({&ctx, std::move(s)});
    ctx.block();
  }
  run_callbacks(ctx.now());
  return ctx.now() - t0;
}

void Rcu::free_now(ExecContext& ctx, const std::vector<Addr>& pages) {
  for (Addr p : pages) release(p, ctx.now());
}

void Rcu::register_stats(Stats& s, const std::string& prefix) const {
  s.counter(prefix + ".callbacks", &callbacks, "callbacks",
            "call_rcu() batches of page-table pages queued for freeing");
  s.counter(prefix + ".callbacks_waited", &waited, "callbacks",
            "batches (and synchronize_rcu calls) whose grace period had to wait for a reader inside a read-side "
            "section");
  s.counter(prefix + ".freed_pages", &freed, "pages",
            "page-table pages returned to the allocator (after a grace period, or at once by the policy)");
  s.counter(prefix + ".pending_pages", &pending_, "pages",
            "page-table pages still waiting for a grace period at the end");
  s.counter(prefix + ".pending_page_cycles", &pending_integral, "page-cycles",
            "pages pending free integrated over time, up to the last change (÷ sim.cycles: the mean held)");
  s.counter(prefix + ".max_pending_pages", &max_pending, "pages", "the most page-table pages pending at once");
  s.value_u64(
      prefix + ".max_pending_bytes", [this] { return max_pending * (kPageSize4K + p_.header_bytes); }, "bytes",
      "the most memory pending at once: 4 KiB per table plus its header (hv.rcu.page_header_bytes)");
  s.counter(prefix + ".wait_cycles", &wait_cycles, "cycles",
            "cycles from call_rcu() to the end of its grace period, summed over batches");
  s.counter(prefix + ".read_sections", &read_sections, "sections",
            "read-side sections entered by lockless walkers (vCPU fast faults, the VMM's lockless write-protect)");
  s.counter(prefix + ".grace_periods", &grace_periods, "grace periods",
            "grace periods completed: distinct ends of queued batches, plus synchronize_rcu calls");
  s.counter(prefix + ".syncs", &syncs, "calls", "synchronize_rcu calls");
  s.value(
      prefix + ".callbacks_per_grace_period",
      [this] {
        const std::uint64_t gps = grace_periods >= syncs ? grace_periods - syncs : 0;
        return gps ? double(callbacks - pending_batches()) / double(gps) : 0.0;
      },
      "callbacks", "call_rcu batches freed per grace period that ended queued batches");
  s.counter(prefix + ".longest_reader_waited_cycles", &longest_waited, "cycles",
            "the longest read-side section a grace period waited for");
  s.histogram(prefix + ".grace_period_cycles", &gp_hist, "cycles",
              "grace-period lengths: call_rcu to the end of its grace period, and synchronize_rcu calls");
  s.histogram(prefix + ".read_section_cycles", &section_hist, "cycles", "read-side section lengths");
}

}  // namespace vmxsim::hv
