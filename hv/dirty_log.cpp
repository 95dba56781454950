#include "hv/dirty_log.hpp"

#include <algorithm>

#include "sim/config.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

DirtyLogParams DirtyLogParams::from(const Cfg& dl, const Cfg& costs) {
  DirtyLogParams p;
  p.mode = dl.choice("mode", p.mode, {"wp", "pml"});
  p.clear_flush = dl.boolean("clear_flush", p.clear_flush);
  p.protect_page = costs.u64("dirty_log_protect_page", p.protect_page);
  p.get_base = costs.u64("dirty_log_get", p.get_base);
  p.get_word = costs.u64("dirty_log_get_word", p.get_word);
  p.mark_page = costs.u64("dirty_log_mark", p.mark_page);
  p.pml_drain_base = costs.u64("pml_drain", p.pml_drain_base);
  p.pml_drain_entry = costs.u64("pml_drain_entry", p.pml_drain_entry);
  return p;
}

void DirtyLog::attach(const Memslots& slots) {
  slots_.clear();
  for (const Memslot& s : slots.all())
    slots_.push_back({&s, std::vector<std::uint64_t>((s.size / kPageSize4K + 63) / 64, 0)});
}

void DirtyLog::enable(Addr begin, Addr end) {
  enabled_ = true;
  begin_ = begin;
  end_ = end;
}

void DirtyLog::disable() {
  enabled_ = false;
  for (SlotBits& b : slots_) std::fill(b.bits.begin(), b.bits.end(), 0);
}

DirtyLog::SlotBits* DirtyLog::bits_for(Addr gpa) {
  for (SlotBits& b : slots_)
    if (b.slot->contains(gpa)) return &b;
  return nullptr;
}

bool DirtyLog::mark(Addr gpa) {
  ++marks;
  SlotBits* b = logged(gpa) ? bits_for(gpa) : nullptr;
  if (!b) return false;
  const std::uint64_t page = (gpa - b->slot->gpa) >> kPageShift4K;
  const std::uint64_t bit = std::uint64_t(1) << (page % 64);
  if (b->bits[page / 64] & bit) return false;
  b->bits[page / 64] |= bit;
  ++bits_set;
  return true;
}

std::vector<Addr> DirtyLog::dirty_pages(std::uint64_t& words) const {
  std::vector<Addr> out;
  words = 0;
  for (const SlotBits& b : slots_) {
    // Only the words overlapping the logged range are copied.
    const Addr lo = std::max(b.slot->gpa, begin_), hi = std::min(b.slot->end(), end_);
    if (!enabled_ || lo >= hi) continue;
    const std::uint64_t w0 = ((lo - b.slot->gpa) >> kPageShift4K) / 64;
    const std::uint64_t w1 = (((hi - b.slot->gpa) >> kPageShift4K) + 63) / 64;
    for (std::uint64_t w = w0; w < w1; ++w) {
      ++words;
      for (std::uint64_t bits = b.bits[w]; bits; bits &= bits - 1)
        out.push_back(b.slot->gpa + ((w * 64 + unsigned(__builtin_ctzll(bits))) << kPageShift4K));
    }
  }
  return out;
}

void DirtyLog::clear(Addr gpa) {
  SlotBits* b = bits_for(gpa);
  if (!b) return;
  const std::uint64_t page = (gpa - b->slot->gpa) >> kPageShift4K;
  const std::uint64_t bit = std::uint64_t(1) << (page % 64);
  if (b->bits[page / 64] & bit) ++bits_cleared;
  b->bits[page / 64] &= ~bit;
}

void DirtyLog::register_stats(Stats& s, const std::string& prefix) const {
  s.counter(prefix + ".marks", &marks);
  s.counter(prefix + ".bitmap_set", &bits_set);
  s.counter(prefix + ".bitmap_cleared", &bits_cleared);
}

void DirtyOracle::start(Addr begin, Addr end, Cycles t) {
  started_ = true;
  begin_ = begin;
  end_ = end;
  start_ = t;
}

void DirtyOracle::copy(Addr gpa, Cycles t) {
  if (!on_) return;
  Page& p = pages_[gpa >> kPageShift4K];
  p.last_copy = t;
  p.copied = true;
}

std::vector<DirtyOracle::Loss> DirtyOracle::losses() const {
  std::vector<Loss> out;
  for (const auto& [page, p] : pages_)
    if (p.written && (!p.copied || p.last_write > p.last_copy))
      out.push_back({p.vcpu, Addr(page) << kPageShift4K, p.last_write, p.copied ? p.last_copy : ~Cycles{0}});
  std::sort(out.begin(), out.end(), [](const Loss& a, const Loss& b) { return a.gpa < b.gpa; });
  return out;
}

}  // namespace vmxsim::hv
