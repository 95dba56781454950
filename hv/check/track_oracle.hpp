// hv::TrackOracle — the write-track checker (`check.page_track`): a range is
// *enforced* from the instant its add returned (its TLB flush done) until its
// removal starts. A guest write that completes on an enforced page without a
// VM exit is a bypass (stat check.track_bypassed).
#pragma once
#include <cstdint>
#include <vector>

#include "hv/page_track.hpp"
#include "sim/types.hpp"

namespace vmxsim {
class Stats;
}

namespace vmxsim::hv {

class TrackOracle {
 public:
  explicit TrackOracle(const PageTrackParams& p) : p_(p), enforced_(p.ranges.size(), false) {}
  bool on() const { return p_.oracle && !p_.ranges.empty(); }
  /// Some configured range contains `gpa` (a cheap filter, no shared state).
  bool configured(Addr gpa) const {
    for (const PageTrackSpec& r : p_.ranges)
      if (PageTrack::in(r, gpa)) return true;
    return false;
  }
  void enforce(std::size_t range, bool on) { enforced_[range] = on; }
  /// A guest write to `gpa` completed at `t` without a VM exit. True if it
  /// was a bypass.
  bool write(unsigned vcpu, Addr gpa, Cycles t) {
    for (std::size_t i = 0; i < enforced_.size(); ++i)
      if (enforced_[i] && PageTrack::in(p_.ranges[i], gpa)) {
        ++bypassed;
        if (first_.size() < kKeptBypasses) first_.push_back({vcpu, gpa, t});
        return true;
      }
    return false;
  }
  struct Bypass {
    unsigned vcpu;
    Addr gpa;
    Cycles t;
  };
  /// The first bypasses (at most kKeptBypasses), in the order they happened.
  const std::vector<Bypass>& bypasses() const { return first_; }
  void register_stats(Stats& s) const;
  std::uint64_t bypassed = 0;

 private:
  static constexpr std::size_t kKeptBypasses = 64;  // enough to report; the counter has them all
  PageTrackParams p_;
  std::vector<bool> enforced_;
  std::vector<Bypass> first_;
};

}  // namespace vmxsim::hv
