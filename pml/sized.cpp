// pml::SizedEngine ("sized") — the rules of the `intel` engine (pml/intel.cpp,
// SDM Vol. 3C §28.3.6) with a log of `pml.log_entries` entries instead of
// 512: a study variant for the question "how does the log size change the
// number of PML-full exits and the cost of each flush?". Real hardware has
// only the 512-entry page; with `log_entries: 512` this engine behaves exactly
// as `intel`.
//
// Layout: ceil(log_entries / 512) 4 KiB frames of models::PhysMem (each from
// alloc_table); entry i lives in frame i / 512 at offset 8 × (i % 512), so
// every entry is a bit-exact 8-byte GPA, as in the one-page log.
//
// The index keeps the hardware's 16-bit scheme: it starts at the head
// (log_entries − 1), a logged GPA goes at the index, which then decrements
// (0 wraps to 0xFFFF); the log is full when index > head. That is why
// log_entries is at most 65535 (pml/params.cpp). drain() is KVM's flush with
// the head and size substituted: tail 0 when index > head, else index + 1;
// entries from the head down to the tail; the index is reset to the head.
#include <string>
#include <vector>

#include "models/phys_mem.hpp"
#include "pml/engine.hpp"
#include "sim/error.hpp"
#include "sim/stats.hpp"

namespace vmxsim::pml {

namespace {

constexpr std::uint32_t kEntriesPerPage = 512;
constexpr Addr kEntryBytes = 8;
constexpr Addr kGpaMask = ~(kPageSize4K - 1);

class SizedEngine final : public Engine {
 public:
  SizedEngine(const PmlParams& p, models::PhysMem& mem) : mem_(mem) {
    if (p.log_entries < 1 || p.log_entries > 0xFFFF)
      throw Error("pml.log_entries: must be 1..65535, got " + std::to_string(p.log_entries));
    head_ = std::uint16_t(p.log_entries - 1);
    index_ = head_;
    const std::uint32_t pages = (p.log_entries + kEntriesPerPage - 1) / kEntriesPerPage;
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

  std::size_t pending() const override {
    return index_ > head_ ? std::size_t(head_) + 1 : std::size_t(head_ - index_);
  }

  std::uint16_t index() const override { return index_; }

  void register_stats(Stats& s, const std::string& prefix) const override {
    s.counter(prefix + ".logged", &logged_);
    s.counter(prefix + ".full", &full_);
    s.counter(prefix + ".drained", &drained_);
  }

 private:
  Addr entry_hpa(std::uint32_t i) const {
    return pages_[i / kEntriesPerPage] + kEntryBytes * (i % kEntriesPerPage);
  }

  models::PhysMem& mem_;
  std::vector<Addr> pages_;  // the log's frames, entry 0 first: never freed, as EPT frames
  std::uint16_t head_ = 0;
  std::uint16_t index_ = 0;
  bool enabled_ = false;
  std::uint64_t logged_ = 0, full_ = 0, drained_ = 0;
};

}  // namespace

VMXSIM_REGISTER(EngineRegistry, "sized", [](const PmlParams& p, models::PhysMem& mem) {
  return std::unique_ptr<Engine>(new SizedEngine(p, mem));
});

}  // namespace vmxsim::pml
