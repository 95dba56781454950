#include "hv/page_track.hpp"

#include "ept/entry.hpp"
#include "sim/config.hpp"
#include "sim/stats.hpp"

namespace vmxsim::hv {

PageTrackParams PageTrackParams::from(const Cfg& hv, const Cfg& check) {
  PageTrackParams p;
  for (const Cfg& r : hv.list("page_track", json::array())) {
    PageTrackSpec s;
    s.gpa = r.bytes("gpa", 0);
    s.size = r.bytes("size", kPageSize4K);
    s.add_cycles = r.u64("add_cycles", 0);
    s.remove_cycles = r.u64("remove_cycles", 0);
    if (s.gpa % kPageSize4K) r.fail("gpa", "expected a multiple of 4 KiB");
    if (s.size == 0 || s.size % kPageSize4K) r.fail("size", "expected a non-zero multiple of 4 KiB");
    if (s.remove_cycles && s.remove_cycles <= s.add_cycles)
      r.fail("remove_cycles", "expected 0 (never) or later than add_cycles");
    p.ranges.push_back(s);
  }
  p.oracle = check.boolean("page_track", p.oracle);
  return p;
}

PageTrack::PageTrack(const PageTrackParams& p) : p_(p), active_(p.ranges.size(), false) {}

void PageTrack::add_gfn(Addr gpa) { ++gfns_[gpa & ~Addr{kPageSize4K - 1}]; }

void PageTrack::remove_gfn(Addr gpa) {
  const auto it = gfns_.find(gpa & ~Addr{kPageSize4K - 1});
  if (it != gfns_.end() && --it->second == 0) gfns_.erase(it);
}

bool PageTrack::tracked(Addr gpa) const {
  if (!gfns_.empty() && gfns_.count(gpa & ~Addr{kPageSize4K - 1})) return true;
  for (std::size_t i = 0; i < active_.size(); ++i)
    if (active_[i] && in(p_.ranges[i], gpa)) return true;
  return false;
}

bool PageTrack::tracked_in(Addr begin, Addr end) const {
  if (!gfns_.empty()) {
    if (gfns_.size() < (end - begin) / kPageSize4K) {
      for (const auto& g : gfns_)
        if (g.first >= begin && g.first < end) return true;
    } else {
      for (Addr a = begin & ~Addr{kPageSize4K - 1}; a < end; a += kPageSize4K)
        if (gfns_.count(a)) return true;
    }
  }
  for (std::size_t i = 0; i < active_.size(); ++i) {
    const PageTrackSpec& r = p_.ranges[i];
    if (active_[i] && r.gpa < end && begin < r.gpa + r.size) return true;
  }
  return false;
}

unsigned PageTrack::max_level(Addr gpa, unsigned cap) const {
  for (; cap > 1 && (any() || !gfns_.empty()); --cap) {
    const Addr size = Addr{1} << ept::level_shift(cap);
    const Addr base = gpa & ~(size - 1);
    if (!tracked_in(base, base + size)) break;
  }
  return cap;
}

void PageTrack::register_stats(Stats& s, const std::string& prefix) const {
  s.counter(prefix + ".adds", &adds, "ranges", "write-track ranges added (kvm_write_track_add_gfn over the range)");
  s.counter(prefix + ".removes", &removes, "ranges", "write-track ranges removed");
  s.counter(prefix + ".emulated_writes", &emulated, "writes",
            "guest writes to write-tracked pages that the hypervisor emulated");
}

}  // namespace vmxsim::hv
