#include "hv/dirty_log.hpp"

#include <algorithm>

#include "sim/config.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

DirtyLogParams DirtyLogParams::from(const Cfg& dl, const Cfg& costs) {
  DirtyLogParams p;
  p.mode = dl.choice("mode", p.mode, {"wp", "pml"});
  p.clear_flush = dl.boolean("clear_flush", p.clear_flush);
  p.manual_protect = dl.boolean("manual_protect", p.manual_protect);
  p.initially_set = dl.boolean("initially_set", p.initially_set);
  if (p.initially_set && !p.manual_protect)
    dl.fail("initially_set",
            "true needs manual_protect: true (KVM accepts KVM_DIRTY_LOG_INITIALLY_SET only with "
            "KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)");
  p.lockless_protect = dl.boolean("lockless_protect", p.lockless_protect);
  p.lockless_preempt_cycles = dl.u64("lockless_preempt_cycles", p.lockless_preempt_cycles);
  p.lockless_preempt_probability = dl.f64("lockless_preempt_probability", p.lockless_preempt_probability);
  if (!(p.lockless_preempt_probability >= 0 && p.lockless_preempt_probability <= 1))
    dl.fail("lockless_preempt_probability", "expected 0 to 1, got " + std::to_string(p.lockless_preempt_probability));
  p.lockless_preempt_seed = dl.u64("lockless_preempt_seed", p.lockless_preempt_seed);
  p.protect_page = costs.u64("dirty_log_protect_page", p.protect_page);
  p.enable_leaf = costs.u64("dirty_log_enable_leaf", p.enable_leaf);
  p.bitmap_page = costs.u64("dirty_log_bitmap_page", p.bitmap_page);
  p.get_base = costs.u64("dirty_log_get", p.get_base);
  p.get_word = costs.u64("dirty_log_get_word", p.get_word);
  p.clear_word = costs.u64("dirty_log_clear_word", p.clear_word);
  p.mark_page = costs.u64("dirty_log_mark", p.mark_page);
  p.pml_drain_base = costs.u64("pml_drain", p.pml_drain_base);
  p.pml_drain_entry = costs.u64("pml_drain_entry", p.pml_drain_entry);
  return p;
}

void DirtyLog::attach(const Memslots& slots) {
  slots_ = &slots;
  bits_.clear();
  slots.for_each([this](const Memslot& s) { bits_[s.id].assign((s.size / kPageSize4K + 63) / 64, 0); });
}

void DirtyLog::slot_added(const Memslot& s) { bits_[s.id].assign((s.size / kPageSize4K + 63) / 64, 0); }

void DirtyLog::enable(Addr begin, Addr end, bool all_set) {
  enabled_ = true;
  begin_ = begin;
  end_ = end;
  if (!all_set || !slots_) return;
  slots_->for_each([&](const Memslot& slot) {
    const Addr lo = std::max(slot.gpa, begin), hi = std::min(slot.end(), end);
    std::vector<std::uint64_t>& b = bits_.at(slot.id);
    for (Addr g = lo; g < hi; g += kPageSize4K) {
      const std::uint64_t page = (g - slot.gpa) >> kPageShift4K;
      b[page / 64] |= std::uint64_t(1) << (page % 64);
    }
  });
}

void DirtyLog::disable() {
  enabled_ = false;
  for (auto& [id, bits] : bits_) std::fill(bits.begin(), bits.end(), 0);
}

std::pair<const Memslot*, std::vector<std::uint64_t>*> DirtyLog::bits_for(Addr gpa) {
  const Memslot* s = slots_ ? slots_->find(gpa) : nullptr;
  if (!s) return {nullptr, nullptr};
  auto it = bits_.find(s->id);
  return {s, it == bits_.end() ? nullptr : &it->second};
}

bool DirtyLog::mark(Addr gpa) {
  ++marks;
  if (!logged(gpa)) return false;
  const auto [slot, bits] = bits_for(gpa);
  if (!bits) return false;
  const std::uint64_t page = (gpa - slot->gpa) >> kPageShift4K;
  const std::uint64_t bit = std::uint64_t(1) << (page % 64);
  if ((*bits)[page / 64] & bit) return false;
  (*bits)[page / 64] |= bit;
  ++bits_set;
  return true;
}

std::vector<Addr> DirtyLog::dirty_pages(std::uint64_t& words) const {
  std::vector<Addr> out;
  words = 0;
  if (!slots_) return out;
  slots_->for_each([&](const Memslot& slot) {
    // Only the words overlapping the logged range are copied.
    const Addr lo = std::max(slot.gpa, begin_), hi = std::min(slot.end(), end_);
    if (!enabled_ || lo >= hi) return;
    const std::vector<std::uint64_t>& b = bits_.at(slot.id);
    const std::uint64_t w0 = ((lo - slot.gpa) >> kPageShift4K) / 64;
    const std::uint64_t w1 = (((hi - slot.gpa) >> kPageShift4K) + 63) / 64;
    for (std::uint64_t w = w0; w < w1; ++w) {
      ++words;
      for (std::uint64_t bits = b[w]; bits; bits &= bits - 1)
        out.push_back(slot.gpa + ((w * 64 + unsigned(__builtin_ctzll(bits))) << kPageShift4K));
    }
  });
  return out;
}

std::uint64_t DirtyLog::bitmap_bytes(Addr begin, Addr end) const {
  std::uint64_t bytes = 0;
  if (slots_)
    slots_->for_each([&](const Memslot& s) {
      if (s.gpa < end && begin < s.end()) bytes += 2 * ((s.size / kPageSize4K + 63) / 64) * 8;
    });
  return bytes;
}

void DirtyLog::clear(Addr gpa) {
  const auto [slot, bits] = bits_for(gpa);
  if (!bits) return;
  const std::uint64_t page = (gpa - slot->gpa) >> kPageShift4K;
  const std::uint64_t bit = std::uint64_t(1) << (page % 64);
  if ((*bits)[page / 64] & bit) ++bits_cleared;
  (*bits)[page / 64] &= ~bit;
}

void DirtyLog::for_each_bitmap(const std::function<void(const Memslot&, const std::vector<std::uint64_t>&)>& f) const {
  if (!slots_) return;
  slots_->for_each([&](const Memslot& slot) {
    auto it = bits_.find(slot.id);
    if (it != bits_.end()) f(slot, it->second);
  });
}

void DirtyLog::register_stats(Stats& s, const std::string& prefix) const {
  s.counter(prefix + ".marks", &marks, "calls", "mark_page_dirty_in_slot() calls (set or already set)");
  s.counter(prefix + ".bitmap_set", &bits_set, "pages", "dirty-bitmap bits newly set");
  s.counter(prefix + ".bitmap_cleared", &bits_cleared, "pages", "dirty-bitmap bits cleared by CLEAR");
}

}  // namespace vmxsim::hv
