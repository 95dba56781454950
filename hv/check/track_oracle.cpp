#include "hv/check/track_oracle.hpp"

#include "sim/stats.hpp"

namespace vmxsim::hv {

void TrackOracle::register_stats(Stats& s) const {
  s.counter("check.track_bypassed", &bypassed, "writes",
            "guest writes that completed without a VM exit on an enforced write-track range (must be 0)");
}

}  // namespace vmxsim::hv
