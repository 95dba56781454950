// vmxsim::ProgressSink — where simulated threads report retired work (the
// progress bar of `vmxsim run`, sim::Progress in sim/app/). Threads report
// whole batches, never single accesses, so one virtual call per batch is all
// the hot path pays.
#pragma once
#include <cstdint>

namespace vmxsim {

class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  /// `n` more accesses were retired by some vCPU.
  virtual void advance(std::uint64_t n) = 0;
};

}  // namespace vmxsim
