// hv::PageTrack — KVM's write tracking (arch/x86/kvm/mmu/page_track.c): GPA
// ranges whose every guest write must trap, as a shadowed guest page table's
// must. The VMM thread adds and removes the configured ranges
// (`hv.page_track`) at their times through hv::PageTrackOps, which runs the
// write-protect path of the chosen fault path; this class keeps the flags.
// The write-track oracle is hv::TrackOracle (hv/check/).
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/types.hpp"

namespace vmxsim {
class Cfg;
class Stats;
}  // namespace vmxsim

namespace vmxsim::hv {

struct PageTrackSpec {
  Addr gpa = 0;
  std::uint64_t size = 0;
  Cycles add_cycles = 0;     // when the VMM adds it
  Cycles remove_cycles = 0;  // when the VMM removes it; 0 = never
};

struct PageTrackParams {
  std::vector<PageTrackSpec> ranges;  // hv.page_track
  bool oracle = true;                 // check.page_track
  static PageTrackParams from(const Cfg& hv, const Cfg& check);
};

class PageTrack {
 public:
  explicit PageTrack(const PageTrackParams& p);
  const std::vector<PageTrackSpec>& ranges() const { return p_.ranges; }
  bool any() const { return !p_.ranges.empty(); }

  /// The per-page write-protect flag (KVM: the gfn's write-track count is
  /// non-zero; the 2012 fast-path proposal's per-page flag).
  bool tracked(Addr gpa) const;
  /// Some tracked page lies in [begin, end) (KVM disallows huge pages there).
  bool tracked_in(Addr begin, Addr end) const;
  /// The largest leaf level up to `cap` whose page around `gpa` holds no
  /// tracked page (KVM: kvm_mmu_gfn_disallow_lpage).
  unsigned max_level(Addr gpa, unsigned cap) const;
  void set(std::size_t range, bool on) { active_[range] = on; }
  /// Track one 4 KiB page outside the configured ranges (KVM:
  /// __kvm_write_track_add_gfn, as account_shadowed does for a guest page
  /// table the nested MMU shadows); counted, so adds and removes nest.
  void add_gfn(Addr gpa);
  void remove_gfn(Addr gpa);
  std::size_t gfns() const { return gfns_.size(); }
  /// Whether range `r` contains `gpa`.
  static bool in(const PageTrackSpec& r, Addr gpa) { return gpa >= r.gpa && gpa - r.gpa < r.size; }

  void register_stats(Stats& s, const std::string& prefix) const;
  std::uint64_t adds = 0, removes = 0, emulated = 0;

 private:
  PageTrackParams p_;
  std::vector<bool> active_;
  std::unordered_map<Addr, unsigned> gfns_;  // page GPA -> add count
};

}  // namespace vmxsim::hv
