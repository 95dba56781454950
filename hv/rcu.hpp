// hv::Rcu — a simulated RCU for page-table pages the TDP MMU frees
// (tdp_mmu.c: a zapped table goes through call_rcu, and lockless walkers such
// as fast_page_fault hold rcu_read_lock, FACTS C3). A grace period that
// starts at call() ends when every thread that was inside a read-side
// critical section then has left it (its quiescent point); the pages are
// freed to models::PhysMem at that instant, and may then be reused by the
// next table allocation. Plain C++ on ExecContext, like the rest of hv/.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "sim/exec_context.hpp"

#include "sim/types.hpp"

namespace vmxsim {
class Stats;
namespace models {
class PhysMem;
}
}  // namespace vmxsim

namespace vmxsim::hv {

class Rcu {
 public:
  explicit Rcu(models::PhysMem& mem) : mem_(mem) {}

  /// rcu_read_lock() / rcu_read_unlock() on thread `ctx` (not nested).
  void read_lock(ExecContext& ctx);
  void read_unlock(ExecContext& ctx);
  /// call_rcu(): free `pages` (page-table frames already unlinked from the
  /// EPT and flushed from every TLB) after a grace period.
  void call(ExecContext& ctx, std::vector<Addr> pages);
  std::uint64_t pending_pages() const { return pending_; }

  void register_stats(Stats& s, const std::string& prefix) const;
  std::uint64_t callbacks = 0, waited = 0, freed = 0, max_pending = 0, wait_cycles = 0, read_sections = 0;

 private:
  struct Batch {
    Cycles since;
    std::vector<Addr> pages;
    std::vector<std::pair<unsigned, std::uint64_t>> readers;  // (thread, its exits count at call)
  };
  bool ready(const Batch& b) const;
  void free_ready(Cycles now);
  models::PhysMem& mem_;
  std::vector<bool> inside_;          // per thread id
  std::vector<std::uint64_t> exits_;  // read-side sections left, per thread id
  std::vector<Batch> batches_;
  std::uint64_t pending_ = 0;
};

/// A read-side critical section for a scope (walk_shadow_page_lockless_begin/end).
class RcuReadGuard {
 public:
  RcuReadGuard(Rcu& r, ExecContext& ctx) : r_(r), ctx_(ctx) { r_.read_lock(ctx_); }
  ~RcuReadGuard() { r_.read_unlock(ctx_); }
  RcuReadGuard(const RcuReadGuard&) = delete;
  RcuReadGuard& operator=(const RcuReadGuard&) = delete;

 private:
  Rcu& r_;
  ExecContext& ctx_;
};

}  // namespace vmxsim::hv
