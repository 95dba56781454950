// hv::Rcu — a simulated RCU for the page-table pages the MMU unlinks
// (FACTS H1–H4). Lockless walkers — fast_page_fault, the VMM's lockless
// write-protect (hv.dirty_log.lockless_protect) — hold a read-side section
// while they may dereference a table pointer they read. A grace period
// started at time T ends when every thread that was inside a section at T
// has left it, and not before T + hv.rcu.gp_cycles (RCU's own detection
// latency: each CPU reports its quiescent state from a later tick). Three
// ways to wait, one per freeing discipline (hv::PtFreePolicy):
//   call()          call_rcu: queue the pages; they are freed when their
//                   grace period has ended (callbacks run in queue order);
//   synchronize()   synchronize_rcu: block the caller for a grace period;
//   wait()          block until every thread inside a section at a snapshot
//                   has left it, with no RCU latency (the legacy MMU's IPI wait on
//                   walkers running with interrupts off).
// A queued batch's grace period ends at an exact time (its last reader's
// unlock, or T + gp_cycles); the pages return to models::PhysMem at the
// first RCU event at or after it, as callbacks run from softirq after the
// grace period. Plain C++ on ExecContext, like the rest of hv/.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sim/exec_context.hpp"
#include "sim/stats.hpp"
#include "sim/trace.hpp"
#include "sim/types.hpp"

namespace vmxsim {
class Cfg;
namespace models {
class PhysMem;
}
}  // namespace vmxsim

namespace vmxsim::hv {

struct RcuParams {
  Cycles gp_cycles = 0;  // hv.rcu.gp_cycles: the shortest grace period, readers aside
  // hv.rcu.page_header_bytes: what a pending page holds besides its 4 KiB
  // (struct kvm_mmu_page from mmu_page_header_cache; our estimate).
  std::uint64_t header_bytes = 192;
  static RcuParams from(const Cfg& rcu);
};

class Rcu {
 public:
  /// Called for every page returned to the allocator, at that instant (the
  /// use-after-free oracle's feed).
  using OnFree = std::function<void(Addr page, Cycles t)>;
  explicit Rcu(models::PhysMem& mem, const RcuParams& p = {}) : mem_(mem), p_(p) {}
  void set_trace(Trace* t) { tl_ = t; }
  void on_free(OnFree f) { on_free_ = std::move(f); }

  /// rcu_read_lock() / rcu_read_unlock() on thread `ctx` (not nested).
  void read_lock(ExecContext& ctx);
  void read_unlock(ExecContext& ctx);
  bool inside(unsigned thread) const { return thread < inside_.size() && inside_[thread]; }
  /// Threads inside a section now.
  unsigned readers() const;

  /// call_rcu(): free `pages` (already unlinked and flushed from every TLB)
  /// after a grace period.
  void call(ExecContext& ctx, std::vector<Addr> pages);
  /// synchronize_rcu(): returns after a grace period started now. Returns the
  /// cycles it blocked.
  Cycles synchronize(ExecContext& ctx);
  /// Who is inside a read-side section now, to wait for later.
  struct Snapshot {
    std::vector<std::pair<unsigned, std::uint64_t>> readers;  // (thread, its sections left at the start)
  };
  Snapshot snapshot() const;
  /// Returns once every reader of `s` has left that section (no RCU
  /// latency). Returns the cycles it blocked.
  Cycles wait(ExecContext& ctx, Snapshot s);
  /// Free `pages` at once (after a synchronous wait, or unsafely).
  void free_now(ExecContext& ctx, const std::vector<Addr>& pages);

  std::uint64_t pending_pages() const { return pending_; }
  std::uint64_t pending_batches() const { return batches_.size(); }
  void register_stats(Stats& s, const std::string& prefix) const;
  std::uint64_t callbacks = 0, waited = 0, freed = 0, max_pending = 0, wait_cycles = 0, read_sections = 0;
  std::uint64_t grace_periods = 0;                      // distinct grace-period ends of queued batches
  std::uint64_t syncs = 0;                              // synchronize() calls
  std::uint64_t longest_waited = 0;                     // the longest reader section a grace period waited for
  std::uint64_t pending_integral = 0;                   // pages pending x cycles, up to the last change
  Histogram gp_hist{Histogram::Scale::kLog2, 40};       // grace-period lengths (queued and synchronous)
  Histogram section_hist{Histogram::Scale::kLog2, 40};  // read-side section lengths

 private:
  struct Batch {
    Cycles since;
    std::vector<Addr> pages;
    Snapshot snap;
    Cycles ready_at = 0;  // known once every reader left (0: not yet)
    bool known = false;
    Cycles longest = 0;  // the longest section among its readers
  };
  struct Waiter {
    ExecContext* ctx;
    Snapshot snap;
  };
  bool done(const Snapshot& s) const;
  void grow(unsigned t);
  /// Free the batches whose grace period ended by `now`, in queue order.
  void run_callbacks(Cycles now);
  void set_pending(std::uint64_t pages, Cycles at);
  void release(Addr page, Cycles t);

  models::PhysMem& mem_;
  RcuParams p_;
  Trace* tl_ = nullptr;
  OnFree on_free_;
  std::vector<bool> inside_;          // per thread id
  std::vector<std::uint64_t> exits_;  // read-side sections left, per thread id
  std::vector<Cycles> entered_;       // when the current section began, per thread id
  std::vector<Batch> batches_;
  std::vector<Waiter> waiters_;
  std::uint64_t pending_ = 0;
  Cycles last_change_ = 0;  // when pending_ last changed
  Cycles last_gp_end_ = ~Cycles{0};
};

}  // namespace vmxsim::hv
