#include "hv/rcu.hpp"

#include <algorithm>

#include "models/phys_mem.hpp"
#include "sim/exec_context.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

void Rcu::read_lock(ExecContext& ctx) {
  const unsigned t = ctx.thread_id();
  if (inside_.size() <= t) {
    inside_.resize(t + 1, false);
    exits_.resize(t + 1, 0);
  }
  ctx.sync();  // other threads' grace periods read this flag
  inside_[t] = true;
  ++read_sections;
}

void Rcu::read_unlock(ExecContext& ctx) {
  const unsigned t = ctx.thread_id();
  ctx.sync();
  inside_[t] = false;
  ++exits_[t];  // a quiescent point
  free_ready(ctx.now());
}

void Rcu::call(ExecContext& ctx, std::vector<Addr> pages) {
  if (pages.empty()) return;
  ctx.sync();
  ++callbacks;
  Batch b{ctx.now(), std::move(pages), {}};
  for (unsigned t = 0; t < inside_.size(); ++t)
    if (inside_[t]) b.readers.emplace_back(t, exits_[t]);
  pending_ += b.pages.size();
  max_pending = std::max(max_pending, pending_);
  if (!b.readers.empty()) ++waited;
  batches_.push_back(std::move(b));
  free_ready(ctx.now());
}

bool Rcu::ready(const Batch& b) const {
  for (const auto& [t, at_call] : b.readers)
    if (exits_[t] == at_call) return false;
  return true;
}

void Rcu::free_ready(Cycles now) {
  // Callbacks run in the order they were queued, as RCU's do.
  std::size_t done = 0;
  while (done < batches_.size() && ready(batches_[done])) {
    Batch& b = batches_[done];
    for (Addr p : b.pages) mem_.free_table(p);
    freed += b.pages.size();
    pending_ -= b.pages.size();
    wait_cycles += now - b.since;
    ++done;
  }
  batches_.erase(batches_.begin(), batches_.begin() + std::ptrdiff_t(done));
}

void Rcu::register_stats(Stats& s, const std::string& prefix) const {
  s.counter(prefix + ".callbacks", &callbacks, "callbacks",
            "call_rcu() batches of page-table pages queued for freeing");
  s.counter(prefix + ".callbacks_waited", &waited, "callbacks",
            "batches whose grace period had to wait for a reader inside a read-side section");
  s.counter(prefix + ".freed_pages", &freed, "pages", "page-table pages freed after their grace period");
  s.counter(prefix + ".pending_pages", &pending_, "pages",
            "page-table pages still waiting for a grace period at the end");
  s.counter(prefix + ".max_pending_pages", &max_pending, "pages", "the most page-table pages pending at once");
  s.counter(prefix + ".wait_cycles", &wait_cycles, "cycles",
            "cycles from call_rcu() to the free (the grace period), summed over batches");
  s.counter(prefix + ".read_sections", &read_sections, "sections", "RCU read-side sections entered (lockless walks)");
}

}  // namespace vmxsim::hv
