// pml::IntelEngine ("intel") — Page-Modification Logging as Intel SDM Vol. 3C
// §28.3.6 specifies it, with the hypervisor side as KVM drives it.
//
// State (the VMCS's PML fields): the PML address, one 4 KiB page of 512
// 8-byte entries (here a frame of models::PhysMem, so it holds the GPAs bit
// for bit), and the 16-bit GUEST_PML_INDEX, which software starts at 511
// (KVM: PML_HEAD_INDEX).
//
// The SDM's rules, which the walker applies through this interface:
//  - Before an access that must set an EPT accessed or dirty flag, the CPU
//    checks the index. Outside 0–511: a PML-full VM exit (reason 62); the flag
//    is not set and the access does not happen (it re-executes after entry).
//    -> may_set_flags() returns false.
//  - Otherwise the flag is set, and only if it was a leaf's D flag going 0→1,
//    the CPU writes the 4 KiB-aligned GPA at PML address + 8 × index and
//    decrements the index (0 wraps to 0xFFFF). Setting only A logs nothing.
//    -> log(gpa).
// So 512 logged pages leave the index at 0xFFFF with no exit yet; the exit
// comes on the next access that must set an A or D flag.
//
// drain() is KVM's vmx_flush_pml_buffer: index 511 means empty; index >= 512
// means the page is full (tail 0), else the tail is index + 1; the entries are
// read from 511 down to the tail, then the index is reset to 511.
#include <string>
#include <vector>

#include "models/phys_mem.hpp"
#include "pml/engine.hpp"
#include "sim/error.hpp"
#include "sim/stats.hpp"

namespace vmxsim::pml {

namespace {

constexpr std::uint16_t kLogEntries = 512;   // KVM: PML_LOG_NR_ENTRIES
constexpr std::uint16_t kHeadIndex = 511;    // KVM: PML_HEAD_INDEX
constexpr Addr kEntryBytes = 8;
constexpr Addr kGpaMask = ~(kPageSize4K - 1);

class IntelEngine final : public Engine {
 public:
  IntelEngine(const PmlParams&, models::PhysMem& mem)
      : mem_(mem), log_hpa_(mem.alloc_table()) {}

  void enable(bool on) override {
    if (on && !enabled_) index_ = kHeadIndex;
    enabled_ = on;
  }
  bool enabled() const override { return enabled_; }

  bool may_set_flags() override {
    if (enabled_ && index_ > kHeadIndex) {  // outside 0–511: PML-full exit
      ++full_;
      return false;
    }
    return true;
  }

  void log(Addr gpa) override {
    if (!enabled_) return;
    if (index_ > kHeadIndex)
      throw Error("pml: log() with the PML index at " + std::to_string(index_) +
                  " (full); may_set_flags() should have refused the access");
    mem_.write(log_hpa_ + kEntryBytes * index_, gpa & kGpaMask);
    index_ = std::uint16_t(index_ - 1);  // 0 wraps to 0xFFFF
    ++logged_;
  }

  std::size_t drain(std::vector<Addr>& out) override {
    if (index_ == kHeadIndex) return 0;  // empty
    const std::uint16_t tail = index_ >= kLogEntries ? 0 : std::uint16_t(index_ + 1);
    std::size_t n = 0;
    for (int i = kHeadIndex; i >= int(tail); --i, ++n)
      out.push_back(mem_.read(log_hpa_ + kEntryBytes * Addr(i)));
    index_ = kHeadIndex;
    drained_ += n;
    return n;
  }

  std::size_t pending() const override {
    return index_ >= kLogEntries ? kLogEntries : std::size_t(kHeadIndex - index_);
  }

  std::uint16_t index() const override { return index_; }

  void register_stats(Stats& s, const std::string& prefix) const override {
    s.counter(prefix + ".logged", &logged_);
    s.counter(prefix + ".full", &full_);
    s.counter(prefix + ".drained", &drained_);
  }

 private:
  models::PhysMem& mem_;
  const Addr log_hpa_;                // the PML address: never freed, as EPT frames
  std::uint16_t index_ = kHeadIndex;  // KVM writes the head at VMCS setup
  bool enabled_ = false;
  std::uint64_t logged_ = 0, full_ = 0, drained_ = 0;
};

}  // namespace

VMXSIM_REGISTER(EngineRegistry, "intel", [](const PmlParams& p, models::PhysMem& mem) {
  return std::unique_ptr<Engine>(new IntelEngine(p, mem));
});

}  // namespace vmxsim::pml
