// pml::LogEngine — Page-Modification Logging as Intel SDM Vol. 3C §28.3.6
// specifies it, for a log of N 8-byte entries (N = 512 on real hardware: the
// `intel` variant; any N for the `sized` study variant).
//
// State (the VMCS's PML fields): the log, here ceil(N / 512) frames of
// models::PhysMem so it holds the GPAs bit for bit (entry i in frame i / 512
// at offset 8 × (i % 512)), and the 16-bit GUEST_PML_INDEX, which software
// starts at the head, N − 1 (KVM: PML_HEAD_INDEX = 511).
//
// The SDM's rules, which the walker applies through pml::Engine:
//  - Before an access that must set an EPT accessed or dirty flag, the CPU
//    checks the index. Outside 0..head: a PML-full VM exit (reason 62); the
//    flag is not set and the access re-executes after entry.
//    -> may_set_flags() returns false.
//  - Otherwise the flag is set, and only if it was a leaf's D flag going 0→1,
//    the CPU writes the 4 KiB-aligned GPA at the index and decrements it
//    (0 wraps to 0xFFFF). Setting only A logs nothing. -> log(gpa).
// So N logged pages leave the index at 0xFFFF with no exit yet; the exit
// comes on the next access that must set an A or D flag. Hence N <= 65535.
//
// drain() is KVM's vmx_flush_pml_buffer: index == head means empty; an index
// above the head means full (tail 0), else the tail is index + 1; entries are
// read from the head down to the tail, then the index is reset to the head.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/phys_mem.hpp"
#include "pml/engine.hpp"
#include "sim/error.hpp"
#include "sim/stats.hpp"

namespace vmxsim::pml {

inline constexpr std::uint32_t kEntriesPerPage = 512;  // one 4 KiB page of 8-byte GPAs
inline constexpr Addr kEntryBytes = 8;
inline constexpr Addr kGpaMask = ~(kPageSize4K - 1);

class LogEngine final : public Engine {
 public:
  LogEngine(std::uint32_t entries, models::PhysMem& mem) : mem_(mem) {
    if (entries < 1 || entries > 0xFFFF)
      throw Error("pml.log_entries: must be 1..65535, got " + std::to_string(entries));
    head_ = std::uint16_t(entries - 1);
    index_ = head_;
    const std::uint32_t pages = (entries + kEntriesPerPage - 1) / kEntriesPerPage;
    for (std::uint32_t i = 0; i < pages; ++i) pages_.push_back(mem.alloc_table());
  }

  void enable(bool on) override {
    if (on && !enabled_) index_ = head_;
    enabled_ = on;
  }
  bool enabled() const override { return enabled_; }

  bool may_set_flags() override {
    if (enabled_ && index_ > head_) {  // log full: PML-full exit
      ++full_;
      return false;
    }
    return true;
  }

  void log(Addr gpa) override {
    if (!enabled_) return;
    if (index_ > head_)
      throw Error("pml: log() with the PML index at " + std::to_string(index_) +
                  " (full); may_set_flags() should have refused the access");
    mem_.write(entry_hpa(index_), gpa & kGpaMask);
    index_ = std::uint16_t(index_ - 1);  // 0 wraps to 0xFFFF
    ++logged_;
  }

  std::size_t drain(std::vector<Addr>& out) override {
    if (index_ == head_) return 0;  // empty
    const std::uint32_t tail = index_ > head_ ? 0 : std::uint32_t(index_) + 1;
    std::size_t n = 0;
    for (std::int64_t i = head_; i >= std::int64_t(tail); --i, ++n)
      out.push_back(mem_.read(entry_hpa(std::uint32_t(i))));
    index_ = head_;
    drained_ += n;
    return n;
  }

  std::size_t pending() const override { return index_ > head_ ? std::size_t(head_) + 1 : std::size_t(head_ - index_); }

  std::uint16_t index() const override { return index_; }
  std::uint32_t log_entries() const override { return std::uint32_t(head_) + 1; }

  void for_each_logged(const std::function<void(std::uint32_t slot, Addr gpa)>& f) const override {
    if (index_ == head_) return;  // empty (the same reading as drain())
    const std::uint32_t tail = index_ > head_ ? 0 : std::uint32_t(index_) + 1;
    for (std::int64_t i = head_; i >= std::int64_t(tail); --i)
      f(std::uint32_t(i), mem_.read(entry_hpa(std::uint32_t(i))));
  }

  void register_stats(Stats& s, const std::string& prefix) const override {
    s.counter(prefix + ".logged", &logged_, "entries",
              "GPAs written to the PML log (a leaf EPT dirty flag set 0 to 1)");
    s.counter(prefix + ".full", &full_, "accesses",
              "accesses refused because the PML log was full, each causing a PML-full VM exit");
    s.counter(prefix + ".drained", &drained_, "entries", "PML log entries read by drains (vmx_flush_pml_buffer)");
  }

 private:
  Addr entry_hpa(std::uint32_t i) const { return pages_[i / kEntriesPerPage] + kEntryBytes * (i % kEntriesPerPage); }

  models::PhysMem& mem_;
  std::vector<Addr> pages_;  // the log's frames, entry 0 first: never freed, as EPT frames
  std::uint16_t head_ = 0;
  std::uint16_t index_ = 0;
  bool enabled_ = false;
  std::uint64_t logged_ = 0, full_ = 0, drained_ = 0;
};

}  // namespace vmxsim::pml
