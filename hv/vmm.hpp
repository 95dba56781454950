// hv::Vmm — the userspace VMM's dirty-logging loop, as live migration or VRAM
// tracking drive it (KVM_MEM_LOG_DIRTY_PAGES, then KVM_GET_DIRTY_LOG +
// KVM_CLEAR_DIRTY_LOG every period). Plain C++: it runs in its own simulated
// thread (sim::VmmThread) through ExecContext.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "hv/memslots.hpp"
#include "sim/exec_context.hpp"

#include "sim/types.hpp"

namespace vmxsim {
class Cfg;
class Stats;
}  // namespace vmxsim

namespace vmxsim::hv {

class Hypervisor;

/// One memslot operation of the VMM's schedule (vmm.memslot_ops).
struct MemslotOp {
  enum Kind : std::uint8_t { kCreate, kDelete, kMove, kFlags, kUnmap };
  Cycles at_cycles = 0;
  Kind kind = kCreate;
  MemslotSpec slot;        // create
  std::uint32_t id = 0;    // delete, move, flags
  Addr to_gpa = 0;         // move
  bool dirty_log = false;  // flags: KVM_MEM_LOG_DIRTY_PAGES
  Addr hva = 0;            // unmap
  std::uint64_t size = 0;  // unmap
};

struct VmmParams {
  bool dirty_log = false;   // vmm.dirty_log.enabled
  Cycles start_cycles = 0;  // vmm.dirty_log.start_cycles: when logging is enabled
  Addr gpa = 0;             // vmm.dirty_log.gpa / .size: the range; size 0 = all guest memory
  std::uint64_t size = 0;
  Cycles period_cycles = 2'500'000;    // vmm.dirty_log.period_cycles: 1 ms at 2.5 GHz
  std::uint64_t rounds = 0;            // vmm.dirty_log.rounds: 0 = until the workload ends
  bool disable = false;                // vmm.dirty_log.disable: after `rounds` collections, turn logging off
  std::uint64_t clear_chunk = 0;       // vmm.dirty_log.clear_chunk_bytes: one CLEAR per this much of a slot (0: one)
  std::vector<MemslotOp> memslot_ops;  // vmm.memslot_ops, in time order
  /// `static_slots`: how many slots hv.memslots creates (ids 0 .. n-1), to
  /// check the ids the memslot operations name.
  static VmmParams from(const Cfg& vmm, std::size_t static_slots = 0);
};

class Vmm {
 public:
  Vmm(const VmmParams& p, Hypervisor& hv) : p_(p), hv_(hv) {}
  bool active() const { return p_.dirty_log; }

  /// The scenario. `workload_done()` tells when every vCPU has finished; then
  /// one final collection runs (the oracle's definition) and run() returns.
  void run(ExecContext& ctx, const std::function<bool()>& workload_done);
  /// The write-tracking schedule (hv.page_track): add and remove each range
  /// at its times, in time order (ties: add before remove, then range order),
  /// until the workload ends.
  void run_page_track(ExecContext& ctx, const std::function<bool()>& workload_done);

  /// The memslot schedule (vmm.memslot_ops): each operation at its time, in
  /// time order (ties: list order), until the workload ends.
  void run_memslot_ops(ExecContext& ctx, const std::function<bool()>& workload_done);
  bool has_memslot_ops() const { return !p_.memslot_ops.empty(); }

  void register_stats(Stats& s) const;
  std::uint64_t rounds = 0, pages_reported = 0, cycles_collecting = 0;
  std::vector<std::uint64_t> round_pages, round_cycles;  // per round, final collection last

 private:
  void collect(ExecContext& ctx);
  VmmParams p_;
  Hypervisor& hv_;
};

}  // namespace vmxsim::hv
