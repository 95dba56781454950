// hv::DirtyLog — KVM-style dirty logging state: the mode (write-protection or
// PML), the GPA range being logged, and one dirty bitmap per memslot
// (KVM: memslot->dirty_bitmap, one bit per 4 KiB page). The EPT changes that
// enabling, faults and CLEAR make are done by hv::Hypervisor with hv::Mmu;
// this class only keeps the bits and the rules.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "hv/memslots.hpp"

namespace vmxsim {
class Cfg;
class Stats;
}

namespace vmxsim::hv {

struct DirtyLogParams {
  std::string mode = "wp";     // hv.dirty_log.mode: wp | pml
  bool clear_flush = true;     // hv.dirty_log.clear_flush: false is fault injection
                               // (CLEAR skips its TLB flush) to show the oracle catches losses
  // Costs (hv.costs.*), all estimates.
  Cycles protect_page = 20;    // dirty_log_protect_page: change one leaf (W or D) when enabling or clearing
  Cycles get_base = 2000;      // dirty_log_get: the GET ioctl's fixed part
  Cycles get_word = 4;         // dirty_log_get_word: per 64-page bitmap word copied
  Cycles mark_page = 15;       // dirty_log_mark: mark_page_dirty_in_slot
  Cycles pml_drain_base = 80;  // pml_drain: vmx_flush_pml_buffer's fixed part
  Cycles pml_drain_entry = 20; // pml_drain_entry: per logged GPA drained into the bitmap
  static DirtyLogParams from(const Cfg& dirty_log, const Cfg& costs);
};

class DirtyLog {
 public:
  explicit DirtyLog(const DirtyLogParams& p) : p_(p) {}
  /// One bitmap per slot; call once the memslots are final.
  void attach(const Memslots& slots);

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

  void register_stats(Stats& s, const std::string& prefix) const;
  std::uint64_t marks = 0, bits_set = 0, bits_cleared = 0;

 private:
  struct SlotBits {
    const Memslot* slot;
    std::vector<std::uint64_t> bits;
  };
  SlotBits* bits_for(Addr gpa);
  DirtyLogParams p_;
  std::vector<SlotBits> slots_;
  bool enabled_ = false;
  Addr begin_ = 0, end_ = 0;
};

/// The dirty-log oracle, defined by what live migration relies on: a
/// collection is GET then CLEAR of the reported pages; each reported page is
/// copied when its CLEAR (with its TLB flush) completes; at the end the vCPUs
/// stop and one final collection runs. A page whose last guest write (while
/// logging was on) is later than its last copy is lost.
class DirtyOracle {
 public:
  explicit DirtyOracle(bool on) : on_(on) {}
  bool on() const { return on_; }
  /// Logging became effective at `t` for [begin, end): later writes count.
  void start(Addr begin, Addr end, Cycles t);
  /// A guest write to `gpa` retired at `t` on `vcpu`.
  void write(unsigned vcpu, Addr gpa, Cycles t) {
    if (!on_ || !started_ || gpa < begin_ || gpa >= end_ || t < start_) return;
    Page& p = pages_[gpa >> kPageShift4K];
    // vCPUs report unsynchronised writes, so one may arrive after a later one
    // by another vCPU: keep the latest.
    if (!p.written || t >= p.last_write) {
      p.last_write = t;
      p.vcpu = vcpu;
    }
    p.written = true;
  }
  /// `gpa` was copied (its CLEAR completed) at `t`.
  void copy(Addr gpa, Cycles t);
  struct Loss {
    unsigned vcpu;
    Addr gpa;
    Cycles write, copy;  // copy = ~0 if never copied
  };
  /// After the final collection: every lost page, in GPA order.
  std::vector<Loss> losses() const;

 private:
  struct Page {
    Cycles last_write = 0, last_copy = 0;
    unsigned vcpu = 0;
    bool written = false, copied = false;
  };
  bool on_;
  bool started_ = false;
  Addr begin_ = 0, end_ = 0;
  Cycles start_ = 0;
  std::unordered_map<std::uint64_t, Page> pages_;
};

}  // namespace vmxsim::hv
