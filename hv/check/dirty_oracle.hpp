// hv::DirtyOracle — the dirty-log checker (`check.dirty_log`), an observer:
// the vCPUs report guest writes to it (through hv::Checkers), the dirty-log
// operations report when logging started and when each page was copied.
#pragma once
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "sim/types.hpp"

namespace vmxsim::hv {

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
  /// A guest write to `gpa`, backed by host page `hpa`, retired at `t` on
  /// `vcpu`. Pages are kept by their host page, so a slot that moves keeps
  /// its pages' history (a GET after a move reports the new GPAs).
  void write(unsigned vcpu, Addr gpa, Addr hpa, Cycles t) {
    if (!on_ || !started_ || gpa < begin_ || gpa >= end_ || t < start_) return;
    Page& p = pages_[hpa >> kPageShift4K];
    p.gpa = gpa & ~(kPageSize4K - 1);
    // vCPUs report unsynchronised writes, so one may arrive after a later one
    // by another vCPU: keep the latest.
    if (!p.written || t >= p.last_write) {
      p.last_write = t;
      p.vcpu = vcpu;
    }
    p.written = true;
  }
  /// The page at `gpa`, backed by `hpa`, was copied (its CLEAR completed) at `t`.
  void copy(Addr gpa, Addr hpa, Cycles t);

  /// Keep the list of pages each GET reported (`check.dirty_log_gets`).
  void record_gets(bool on) { record_gets_ = on; }
  /// One GET_DIRTY_LOG, as recorded.
  struct Get {
    Cycles start = 0, end = 0;  // the VMM thread's cycles when the GET began and returned
    std::vector<Addr> pages;    // the dirty pages it reported (4 KiB GPAs, in GPA order)
  };
  /// A GET that began at `start` reported `pages` at `end`.
  void reported(Cycles start, Cycles end, const std::vector<Addr>& pages) {
    if (on_ && record_gets_) gets_.push_back({start, end, pages});
  }
  /// Every GET recorded, in order.
  const std::vector<Get>& gets() const { return gets_; }
  struct Loss {
    unsigned vcpu;
    Addr gpa;
    Cycles write, copy;  // copy = ~0 if never copied
  };
  /// Pages written while logging was on (by the guest, its kernel or the walker).
  std::uint64_t pages_written() const;
  /// After the final collection: every lost page, in GPA order.
  std::vector<Loss> losses() const;

 private:
  struct Page {
    Cycles last_write = 0, last_copy = 0;
    Addr gpa = 0;  // where it was last written or copied
    unsigned vcpu = 0;
    bool written = false, copied = false;
  };
  bool on_;
  bool record_gets_ = false;
  std::vector<Get> gets_;
  bool started_ = false;
  Addr begin_ = 0, end_ = 0;
  Cycles start_ = 0;
  std::unordered_map<std::uint64_t, Page> pages_;
};

}  // namespace vmxsim::hv
