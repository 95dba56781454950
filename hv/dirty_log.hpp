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
  // Costs (hv.costs.*), all estimates.
  Cycles protect_page = 20;     // dirty_log_protect_page: change one leaf (W or D) when enabling or clearing
  Cycles get_base = 2000;       // dirty_log_get: the GET ioctl's fixed part
  Cycles get_word = 4;          // dirty_log_get_word: per 64-page bitmap word copied
  Cycles mark_page = 15;        // dirty_log_mark: mark_page_dirty_in_slot
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
  /// VRAM-style range). The EPT protection is the caller's job.
  void enable(Addr begin, Addr end);
  /// Stop logging (the bitmap is dropped, as KVM frees it).
  void disable();
  /// Is `gpa` in a logged range (and in a memslot)?
  bool logged(Addr gpa) const { return enabled_ && gpa >= begin_ && gpa < end_; }

  /// Set the page's bit (KVM: mark_page_dirty_in_slot). True if newly set.
  bool mark(Addr gpa);
  /// Every page whose bit is set, in GPA order; `words` receives how many
  /// 64-bit bitmap words the copy covered (for its cost).
  std::vector<Addr> dirty_pages(std::uint64_t& words) const;
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
