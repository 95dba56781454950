// hv::DirtyLogOps — the dirty-logging operations a VMM thread runs (KVM's
// ioctls): enabling logging on a range (kvm_mmu_slot_apply_flags), GET
// (kvm_vm_ioctl_get_dirty_log, after every vCPU's PML buffer reached the
// bitmap), CLEAR (kvm_arch_mmu_enable_log_dirty_pt_masked) and disabling it
// with huge-page recovery (kvm_mmu_recover_huge_pages). Also the PML drain
// that every VM exit runs (vmx_flush_pml_buffer). The oracle is told when
// logging started and when each page was copied.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "hv/check/dirty_oracle.hpp"
#include "hv/check/pt_free_oracle.hpp"
#include "hv/dirty_log.hpp"
#include "hv/eager_split.hpp"
#include "hv/lock.hpp"
#include "hv/memslots.hpp"
#include "hv/mmu.hpp"
#include "hv/page_track.hpp"
#include "hv/pt_free.hpp"
#include "hv/requests.hpp"
#include "sim/exec_context.hpp"
#include "sim/trace.hpp"

namespace vmxsim {
class Cfg;
class Stats;
namespace pml {
class Engine;
}
}  // namespace vmxsim

namespace vmxsim::hv {

/// A shadow MMU's part in dirty logging (hv::NestedMmu for EPT02): its
/// leaves map guest memory too, found through rmaps. Called with mmu_lock
/// held for write; the returns count leaves write-protected (flush if > 0).
class ShadowDirtyHook {
 public:
  virtual ~ShadowDirtyHook() = default;
  /// Eager splitting of the shadow MMU's huge leaves over [begin, end).
  virtual void split(ExecContext& ctx, Addr begin, Addr end) = 0;
  /// Write-protect every shadow leaf mapping [begin, end).
  virtual std::uint64_t protect_range(ExecContext& ctx, Addr begin, Addr end) = 0;
  /// Write-protect the shadow leaves mapping one 4 KiB page (and with
  /// `huge`, the huge ones covering it).
  virtual std::uint64_t protect_page(ExecContext& ctx, Addr page, bool huge) = 0;
};

class DirtyLogOps {
 public:
  struct Parts {
    Mmu& mmu;
    Lock& mmu_lock;
    DirtyLog& dirty;
    Requests& requests;
    const Memslots& slots;
    const PageTrack& track;
    PtFreePolicy& pt_free;  // hv.pt_free.policy: commits recovery's zap; the lockless protect's reader side
    PtFreeOracle& pt_oracle;
    DirtyOracle& oracle;
    EagerSplitter& splitter;  // hv.eager_split
    Cycles zap_leaf = 0;      // hv.costs.zap_leaf: freezing one entry of a table huge-page recovery removes
  };
  explicit DirtyLogOps(const Parts& p) : x_(p) {}
  void set_trace(Trace* t) { tl_ = t; }
  /// The nested MMU (guest.nested), whose EPT02 leaves are logged too.
  void set_shadow(ShadowDirtyHook* h) { shadow_ = h; }

  /// KVM_MEM_LOG_DIRTY_PAGES on [begin, end) (kvm_mmu_slot_apply_flags):
  /// with initially_set, only mark every page dirty and enable PML. Else
  /// eagerly split the range (hv.eager_split), then wp: clear W on every
  /// leaf; pml: clear D on 4 KiB leaves and W on huge ones; enable PML on
  /// every vCPU; flush TLBs. Returns when it took effect.
  void enable(ExecContext& ctx, Addr begin, Addr end);
  /// KVM_GET_DIRTY_LOG: kick every vCPU so their PML buffers are drained,
  /// then copy the bitmap. Without manual_protect it also clears and
  /// re-protects what it reports (kvm_get_dirty_log_protect), and those
  /// pages count as copied. Returns the dirty pages.
  std::vector<Addr> get(ExecContext& ctx);
  /// KVM_CLEAR_DIRTY_LOG for `pages` (manual_protect): clear their bits and
  /// re-protect them, one 64-page bitmap word at a time
  /// (kvm_arch_mmu_enable_log_dirty_pt_masked: with initially_set, first
  /// split the word's range and write-protect the 2 MiB pages at its ends;
  /// then wp: W, pml: D on its 4 KiB leaves), then flush TLBs. When it
  /// returns, the pages count as copied for the oracle.
  void clear(ExecContext& ctx, const std::vector<Addr>& pages);
  /// `pages` cleared by one KVM_CLEAR_DIRTY_LOG per `chunk` bytes of each
  /// slot (as QEMU's migration clears 1 GiB at a time), each with its own
  /// lock hold and flush; 0: one CLEAR.
  void clear_chunked(ExecContext& ctx, const std::vector<Addr>& pages, std::uint64_t chunk);
  /// A VMM's `clear_chunk_bytes` key (vmm.dirty_log, vmm.dlpt): 0 or a
  /// multiple of one bitmap word's 256 KiB.
  static std::uint64_t clear_chunk_from(const Cfg& vmm_section);
  /// KVM_MEM_LOG_DIRTY_PAGES cleared: stop logging (PML off on every vCPU),
  /// then kvm_mmu_recover_huge_pages under mmu_lock for write — zap the
  /// tables that stand where a huge page may be again — flush remote TLBs,
  /// and hand the unlinked tables to RCU. Later faults map huge pages.
  void disable(ExecContext& ctx);
  /// vmx_flush_pml_buffer: drain one vCPU's PML log into the bitmap.
  void drain_pml(ExecContext& ctx, pml::Engine& e);

  /// hv.dirty_log.*, hv.pml.*, hv.eager_split.*.
  std::uint64_t eager_split_cycles = 0;  // time enable() and CLEAR spent splitting
  std::uint64_t clear_words = 0;         // bitmap words CLEAR re-protected
  void register_stats(Stats& s) const;
  /// Guest progress while logging was on (the PML-vs-WP study's metric):
  /// sim.accesses_while_logging and its rate per simulated second, computed
  /// when read from the vCPUs' retired accesses since logging took effect,
  /// up to `run_end()` at `freq_ghz`.
  void register_progress_stats(Stats& s, std::function<Cycles()> run_end, double freq_ghz) const;

 private:
  /// Leaves of [begin, end) protected for logging (wp: W; pml: D on 4 KiB leaves).
  void protect(const Leaf& l, bool pml);
  /// Clear and re-protect `pages` (in GPA order) word by word; the caller
  /// holds mmu_lock for write, unless lockless_protect (then only the
  /// INITIALLY_SET split takes it).
  void protect_masked(ExecContext& ctx, const std::vector<Addr>& pages);
  /// lockless_protect: re-protect the 4 KiB leaves of pages[i, j) (one
  /// word) inside one reader section, through a held pointer to their table.
  void protect_word_lockless(ExecContext& ctx, const std::vector<Addr>& pages, std::size_t i, std::size_t j);
  /// mmu_lock for write around a GET/CLEAR protect pass, unless lockless.
  void lock_for_protect(ExecContext& ctx);
  void unlock_for_protect(ExecContext& ctx);
  /// The pages count as copied for the oracle (their CLEAR completed).
  void copied(ExecContext& ctx, const std::vector<Addr>& pages);
  std::uint64_t accesses_since_logging() const;

  Parts x_;
  Trace* tl_ = nullptr;
  ShadowDirtyHook* shadow_ = nullptr;
  std::uint64_t drains_ = 0, drained_ = 0;
  std::uint64_t lockless_sections_ = 0, lockless_preempted_ = 0, lockless_aborted_ = 0, lockless_restarts_ = 0;
  std::uint64_t since_ = 0;                         // when dirty logging took effect
  std::vector<std::uint64_t> accesses_at_logging_;  // each vCPU's retired accesses then
};

}  // namespace vmxsim::hv
