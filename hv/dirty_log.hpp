// hv::DirtyLog — KVM-style dirty logging state: the mode (write-protection or
// PML), the GPA range being logged, and one dirty bitmap per memslot
// (KVM: memslot->dirty_bitmap, one bit per 4 KiB page). The EPT changes that
// enabling, faults and CLEAR make are done by hv::DirtyLogOps and the fault
// paths with hv::Mmu; this class only keeps the bits and the rules.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "hv/memslots.hpp"

namespace vmxsim {
class Cfg;
class Stats;
}  // namespace vmxsim

namespace vmxsim::hv {

struct DirtyLogParams {
  std::string mode = "wp";  // hv.dirty_log.mode: wp | pml
  bool clear_flush = true;  // hv.dirty_log.clear_flush: false is fault injection
                            // (CLEAR skips its TLB flush) to show the oracle catches losses
  // hv.dirty_log.manual_protect (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2): GET only
  // copies the bitmap and CLEAR re-protects; off, GET clears and re-protects.
  bool manual_protect = true;
  // hv.dirty_log.initially_set (KVM_DIRTY_LOG_INITIALLY_SET, needs
  // manual_protect): enabling sets every bit and protects nothing; each
  // CLEAR protects (and eagerly splits) only what it clears.
  bool initially_set = false;
  // hv.dirty_log.lockless_protect: GET/CLEAR re-protect without mmu_lock,
  // inside a lockless walker's reader section per 64-page word (the purpose
  // of Xiao's 2013 series, FACTS H1); the tables it walks are kept alive by
  // hv.pt_free.policy. A reader may be descheduled once per section while it
  // holds its table pointer: hv.dirty_log.lockless_preempt_cycles, with
  // probability lockless_preempt_probability (coins from lockless_preempt_seed).
  bool lockless_protect = false;
  Cycles lockless_preempt_cycles = 0;
  double lockless_preempt_probability = 0;
  std::uint64_t lockless_preempt_seed = 1;
  // Costs (hv.costs.*), all estimates.
  // dirty_log_protect_page: re-protect one 4 KiB leaf (W or D) in CLEAR, or
  // in GET without manual protect: the shadow MMU's 64-vCPU CLEAR of
  // 16.8 M pages took 0.696 s (Matlack, v2 cover of "Extend Eager Page
  // Splitting to the shadow MMU", 2022), 41.5 ns a page ≈ 100 cycles.
  Cycles protect_page = 100;
  Cycles enable_leaf = 20;    // dirty_log_enable_leaf: protect one leaf in enabling's pass over the slot (estimate)
  Cycles bitmap_page = 1500;  // dirty_log_bitmap_page: allocate and zero (or set) 4 KiB of the dirty bitmaps (estimate)
  Cycles get_base = 2000;     // dirty_log_get: the GET ioctl's fixed part
  Cycles get_word = 4;        // dirty_log_get_word: per 64-page bitmap word copied
  Cycles clear_word = 20;     // dirty_log_clear_word: CLEAR's atomic fetch-and-clear of one bitmap word (estimate)
  Cycles mark_page = 15;      // dirty_log_mark: mark_page_dirty_in_slot
  Cycles pml_drain_base = 80;   // pml_drain: vmx_flush_pml_buffer's fixed part
  Cycles pml_drain_entry = 20;  // pml_drain_entry: per logged GPA drained into the bitmap
  static DirtyLogParams from(const Cfg& dirty_log, const Cfg& costs);
};

class DirtyLog {
 public:
  explicit DirtyLog(const DirtyLogParams& p) : p_(p) {}
  /// One bitmap per slot of `slots`, which must outlive this; call once the
  /// memslots are final. Bitmaps are kept by slot id.
  void attach(const Memslots& slots);
  /// A slot created (a zeroed bitmap) or deleted (its bitmap freed) at run time.
  void slot_added(const Memslot& s);
  void slot_removed(std::uint32_t id) { bits_.erase(id); }

  const DirtyLogParams& params() const { return p_; }
  bool pml() const { return p_.mode == "pml"; }
  bool enabled() const { return enabled_; }
  Addr begin() const { return begin_; }
  Addr end() const { return end_; }

  /// Start logging [begin, end) (KVM_MEM_LOG_DIRTY_PAGES on the slots, or a
  /// VRAM-style range). The EPT protection is the caller's job. `all_set`:
  /// every page of the range starts dirty (KVM_DIRTY_LOG_INITIALLY_SET).
  void enable(Addr begin, Addr end, bool all_set = false);
  /// Stop logging (the bitmap is dropped, as KVM frees it).
  void disable();
  /// Is `gpa` in a logged range (and in a memslot)?
  bool logged(Addr gpa) const { return enabled_ && gpa >= begin_ && gpa < end_; }

  /// Set the page's bit (KVM: mark_page_dirty_in_slot). True if newly set.
  bool mark(Addr gpa);
  /// Every page whose bit is set, in GPA order; `words` receives how many
  /// 64-bit bitmap words the copy covered (for its cost).
  std::vector<Addr> dirty_pages(std::uint64_t& words) const;
  /// Bytes of the dirty bitmaps KVM allocates when logging starts on the
  /// slots overlapping [begin, end): two per slot (kvm_alloc_dirty_bitmap:
  /// the bitmap and GET's buffer), one bit per page, in whole longs.
  std::uint64_t bitmap_bytes(Addr begin, Addr end) const;
  /// Clear one page's bit (KVM_CLEAR_DIRTY_LOG).
  void clear(Addr gpa);

  /// Read-only visitor (inspection, `vmxsim run --dump`): f(slot, words) for
  /// every memslot's bitmap in GPA order; page i of the slot is bit i % 64
  /// of words[i / 64].
  void for_each_bitmap(const std::function<void(const Memslot&, const std::vector<std::uint64_t>&)>& f) const;

  void register_stats(Stats& s, const std::string& prefix) const;
  std::uint64_t marks = 0, bits_set = 0, bits_cleared = 0;

 private:
  /// The slot holding `gpa` and its bitmap, or {nullptr, nullptr}.
  std::pair<const Memslot*, std::vector<std::uint64_t>*> bits_for(Addr gpa);
  DirtyLogParams p_;
  const Memslots* slots_ = nullptr;
  std::map<std::uint32_t, std::vector<std::uint64_t>> bits_;  // by slot id
  bool enabled_ = false;
  Addr begin_ = 0, end_ = 0;
};

}  // namespace vmxsim::hv
