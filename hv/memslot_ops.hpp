// hv::MemslotOps — KVM_SET_USER_MEMORY_REGION while the guest runs
// (kvm_set_memslot, virt/kvm/kvm_main.c) and the host MMU notifier's
// unmaps (kvm_mmu_notifier_invalidate_range_start/end), as a VMM thread
// issues them. Every edit goes to the memslot implementation (which reports
// its own steps' cost), and every swap of the active set bumps the memslots
// generation and waits for an SRCU grace period (kvm_swap_active_memslots):
//   CREATE, FLAGS_ONLY   edit, swap
//   DELETE, MOVE         mark the slot invalid, swap, zap its EPT mappings
//                        under mmu_lock with a remote TLB flush
//                        (kvm_arch_flush_shadow_memslot), edit, swap
// While a slot is invalid a fault on it retries (kvm_faultin_pfn returns
// RET_PF_RETRY, `hv.memslot_retries`); once it has moved or gone, its old
// GPAs have no slot and a guest access there exits as MMIO
// (`hv.mmio.vacated_faults`), as memslot_perf_test's move-active case allows.
#pragma once
#include <cstdint>
#include <string>

#include "hv/dirty_log.hpp"
#include "hv/lock.hpp"
#include "hv/memslots.hpp"
#include "hv/mmio.hpp"
#include "hv/mmu.hpp"
#include "hv/pt_free.hpp"
#include "hv/requests.hpp"
#include "hv/srcu.hpp"
#include "sim/exec_context.hpp"
#include "sim/trace.hpp"

namespace vmxsim {
class Stats;
namespace models {
class PhysMem;
}
}  // namespace vmxsim

namespace vmxsim::hv {

struct MemslotOpCosts {
  // Defaults derived from the seed's memslot_perf_test table (docs/config.md
  // gives each derivation), at cpu.freq_ghz 2.5.
  Cycles ioctl = 12500;     // hv.costs.memslot_ioctl: the ioctl's fixed work (copy-in, checks, slots_lock, commit)
  Cycles slot_zap = 37500;  // hv.costs.memslot_zap: kvm_arch_flush_shadow_memslot's fixed work (delete, move)
  Cycles zap_leaf = 25;     // hv.costs.zap_leaf: clearing one EPT leaf when a slot or an HVA range is zapped
  Cycles notifier = 1650;   // hv.costs.mmu_notifier: one invalidate_range_start/end pair's fixed work
  static MemslotOpCosts from(const Cfg& costs);
};

class MemslotOps {
 public:
  struct Parts {
    Memslots& slots;
    Mmu& mmu;
    Lock& mmu_lock;
    Requests& requests;
    Srcu& srcu;
    DirtyLog& dirty;
    Mmio& mmio;
    models::PhysMem& mem;
    PtFreePolicy& pt_free;  // commits each zap: the flush, then the unlinked tables' free
  };
  MemslotOps(const MemslotOpCosts& c, const Parts& p) : c_(c), x_(p) {}
  const MemslotOpCosts& costs() const { return c_; }
  void set_trace(Trace* t) { tl_ = t; }

  /// KVM_MR_CREATE. Host memory is allocated for it. Returns its id.
  std::uint32_t create(ExecContext& ctx, const MemslotSpec& spec);
  /// KVM_MR_DELETE of slot `id`.
  void remove(ExecContext& ctx, std::uint32_t id);
  /// KVM_MR_MOVE of slot `id` to `new_gpa`.
  void move(ExecContext& ctx, std::uint32_t id, Addr new_gpa);
  /// KVM_MR_FLAGS_ONLY: slot `id`'s KVM_MEM_LOG_DIRTY_PAGES flag (KVM refuses
  /// a change of KVM_MEM_READONLY). The flag is recorded and costs the
  /// update; the dirty-log scenario (vmm.dirty_log) does the write
  /// protection by range.
  void set_flags(ExecContext& ctx, std::uint32_t id, bool dirty_log);
  /// madvise(MADV_DONTNEED) of [hva, hva + size): the MMU notifier finds the
  /// slots by HVA, zaps the GPA ranges' EPT leaves, and flushes if any was
  /// present; invalidate_range_end finds them again.
  void unmap_hva(ExecContext& ctx, Addr hva, std::uint64_t size);

  void register_stats(Stats& s) const;
  std::uint64_t creates = 0, deletes = 0, moves = 0, flag_changes = 0, unmaps = 0, zapped_leaves = 0;
  std::uint64_t swaps = 0, op_cycles = 0, unmap_cycles = 0;

 private:
  void swap(ExecContext& ctx);
  // Under mmu_lock (write): the range's leaves, and with hv.mmu.zap_tables its
  // whole tables into `unlinked`; returns the entries cleared.
  std::uint64_t zap(ExecContext& ctx, Addr begin, Addr end, std::vector<Addr>& unlinked);
  void invalidate_and_flush(ExecContext& ctx, const Memslot& old);  // DELETE/MOVE phase 1
  const Memslot& slot(std::uint32_t id, const char* op) const;
  std::uint32_t next_id_ = 0;  // ids are never reused (0: not yet known)
  Addr next_hva_ = 0;          // where a created slot's host mapping goes when its spec gives none
  MemslotOpCosts c_;
  Parts x_;
  Trace* tl_ = nullptr;
};

}  // namespace vmxsim::hv
