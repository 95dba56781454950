// hv::PtFreePolicy — how the MMU frees the page-table pages it unlinked
// while lockless walkers may still hold pointers into them (FACTS H1–H4): a
// variant chosen by `hv.pt_free.policy` from PtFreeRegistry, one file each
// in hv/pt_free/, its own keys beside the choice under `hv.pt_free`
// (docs/pt-freeing.md). Every lockless walker brackets its walk with
// reader_begin/reader_end (rcu_read_lock, or the legacy MMU's
// walk_shadow_page_lockless_begin/end: interrupts off and
// READING_SHADOW_PAGE_TABLES); every zap ends in commit(): the remote TLB
// flush, then the policy's free.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "hv/rcu.hpp"
#include "hv/requests.hpp"
#include "sim/exec_context.hpp"
#include "sim/registry.hpp"
#include "sim/stats.hpp"
#include "sim/trace.hpp"
#include "sim/types.hpp"

namespace vmxsim::hv {

/// What a policy may use: the RCU (readers, grace periods, frees), the
/// remote flush, and hv.costs.ipi_send for IPIs it sends itself.
struct PtFreeEnv {
  Rcu& rcu;
  Requests& requests;
  Cycles ipi_send = 0;
};

class PtFreePolicy {
 public:
  explicit PtFreePolicy(PtFreeEnv& env) : env_(env) {}
  virtual ~PtFreePolicy() = default;
  void set_trace(Trace* t) { tl_ = t; }
  /// The policy's name (hv.pt_free.policy), for the timeline.
  virtual const char* name() const = 0;

  /// Enter / leave a lockless walk on thread `ctx`.
  void reader_begin(ExecContext& ctx) { env_.rcu.read_lock(ctx); }
  void reader_end(ExecContext& ctx) { env_.rcu.read_unlock(ctx); }

  /// The end of a zap (kvm_mmu_commit_zap_page; the TDP MMU's flush and
  /// handle_removed_pt): flush remote TLBs if `flush`, then free `pages`
  /// (unlinked, their entries frozen) as the policy does. Returns when the
  /// freer may go on. `what` names the zap for the timeline.
  void commit(ExecContext& ctx, std::vector<Addr> pages, bool flush, const char* what);

  /// hv.pt_free.*: the common stats, then the variant's own.
  void register_stats(Stats& s) const;

 protected:
  /// The flush (through flush()) and the free. Returns the cycles the freer
  /// waited for readers or a grace period.
  virtual Cycles free(ExecContext& ctx, std::vector<Addr>& pages, bool flush) = 0;
  /// The remote TLB flush; counts the vCPUs it forced out of guest mode.
  void flush_tlbs(ExecContext& ctx) { forced_exits_ += env_.requests.flush_remote_tlbs(ctx, -1); }
  virtual void register_own_stats(Stats&) const {}

  PtFreeEnv& env_;
  Trace* tl_ = nullptr;

 private:
  std::uint64_t commits_ = 0, pages_ = 0, stall_cycles_ = 0, forced_exits_ = 0, commit_cycles_ = 0;
  Histogram stall_hist_{Histogram::Scale::kLog2, 40};
};

/// A lockless walk for a scope.
class PtReaderGuard {
 public:
  PtReaderGuard(PtFreePolicy& p, ExecContext& ctx) : p_(p), ctx_(ctx) { p_.reader_begin(ctx_); }
  ~PtReaderGuard() { p_.reader_end(ctx_); }
  PtReaderGuard(const PtReaderGuard&) = delete;
  PtReaderGuard& operator=(const PtReaderGuard&) = delete;

 private:
  PtFreePolicy& p_;
  ExecContext& ctx_;
};

/// Variants read their keys from the `hv.pt_free` section and are built with
/// the environment they may use.
using PtFreeRegistry = Registry<PtFreePolicy, PtFreeEnv&>;

/// A variant without keys of its own.
template <class P>
PtFreeRegistry::Maker pt_free_maker() {
  return [](PtFreeEnv& env) { return std::make_unique<P>(env); };
}

}  // namespace vmxsim::hv
