// hv::ZapStorm — a VMM loop that zaps a range of guest memory and lets the
// vCPUs refault it, again and again (`vmm.zap_storm`): the stress case for
// page-table freeing (FACTS H4). Each zap takes mmu_lock for write, clears
// the chunk's leaves and unlinks every table wholly inside it
// (Mmu::zap_range), then commits through hv.pt_free.policy; the next zap
// starts `period_cycles` after the commit returned, so a policy that stalls
// the freer lowers the zap rate (its throughput) instead of holding memory.
// Plain C++: it runs in its own simulated thread.
#pragma once
#include <cstdint>
#include <functional>

#include "sim/exec_context.hpp"
#include "sim/trace.hpp"
#include "sim/types.hpp"

namespace vmxsim {
class Cfg;
class Stats;
}  // namespace vmxsim

namespace vmxsim::hv {

class Hypervisor;

struct ZapStormParams {
  bool enabled = false;            // vmm.zap_storm.enabled
  Cycles start_cycles = 0;         // vmm.zap_storm.start_cycles: the first zap
  Cycles period_cycles = 250000;   // vmm.zap_storm.period_cycles: from one commit's return to the next zap (100 µs)
  std::uint64_t bytes = 2u << 20;  // vmm.zap_storm.bytes: one zap's chunk (one 4 KiB table per 2 MiB)
  Addr gpa = 0;                    // vmm.zap_storm.gpa / .size: the range the chunks walk round-robin
  std::uint64_t size = 0;          //   (size 0: up to the end of the memslot holding gpa)
  std::uint64_t count = 0;         // vmm.zap_storm.count: zaps to run (0: until the workload ends)
  static ZapStormParams from(const Cfg& zap_storm);
};

class ZapStorm {
 public:
  ZapStorm(const ZapStormParams& p, Hypervisor& hv) : p_(p), hv_(hv) {}
  bool active() const { return p_.enabled; }
  void set_trace(Trace* t) { tl_ = t; }
  void run(ExecContext& ctx, const std::function<bool()>& workload_done);
  void register_stats(Stats& s) const;

 private:
  ZapStormParams p_;
  Hypervisor& hv_;
  Trace* tl_ = nullptr;
  std::uint64_t zaps_ = 0, tables_ = 0, entries_ = 0, busy_ = 0;
  Cycles first_ = 0, last_ = 0;
};

}  // namespace vmxsim::hv
