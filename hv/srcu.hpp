// hv::Srcu — the VM's SRCU (kvm->srcu) that protects the memslots: vCPUs
// hold its read side while outside guest mode (KVM: kvm_vcpu_srcu_read_lock
// in vcpu_run, dropped around guest entry and retaken after each exit), so
// an exit handler's memslot lookup never sees a freed set. A memslot swap
// waits for a grace period (synchronize_srcu_expedited in
// kvm_swap_active_memslots): until every reader inside a section when the
// wait began has left it. In simulated time the waiter blocks and the last
// such reader's unlock wakes it. Plain C++ on ExecContext, like the rest of hv/.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sim/exec_context.hpp"
#include "sim/types.hpp"

namespace vmxsim {
class Stats;
}

namespace vmxsim::hv {

class Srcu {
 public:
  /// `sync_cycles`: hv.costs.srcu_sync, a grace period's own cost with no
  /// reader to wait for.
  explicit Srcu(Cycles sync_cycles) : sync_cycles_(sync_cycles) {}

  /// srcu_read_lock / srcu_read_unlock on thread `ctx` (not nested).
  void read_lock(ExecContext& ctx);
  void read_unlock(ExecContext& ctx);
  /// synchronize_srcu: returns once every reader inside a section now has
  /// left it; charges sync_cycles on top. `ctx` must not be a reader.
  void synchronize(ExecContext& ctx);

  void register_stats(Stats& s, const std::string& prefix) const;
  std::uint64_t syncs = 0, waited = 0, wait_cycles = 0, read_sections = 0;

 private:
  struct Waiter {
    ExecContext* ctx;
    std::vector<std::pair<unsigned, std::uint64_t>> readers;  // (thread, its sections left at the call)
  };
  bool done(const Waiter& w) const;
  Cycles sync_cycles_;
  std::vector<bool> inside_;         // per thread id
  std::vector<std::uint64_t> left_;  // read-side sections left, per thread id
  std::vector<Waiter> waiters_;
};

}  // namespace vmxsim::hv
