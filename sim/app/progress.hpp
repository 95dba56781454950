// sim::Progress — the progress bar of `vmxsim run` on a terminal: accesses
// done of the total, accesses per second and ETA, redrawn in place on one
// line. vCPUs report whole batches (advance), never single accesses, and the
// clock is read only every kPollAccesses, so the hot path pays one add and one
// compare per batch. SystemC threads run one at a time, so no atomics.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "sim/progress_sink.hpp"

namespace vmxsim::sim {

class Progress final : public ProgressSink {
 public:
  using Clock = std::function<double()>;  // seconds, monotonic
  /// Accesses between two looks at the clock (about 1-10 ms of simulation).
  static constexpr std::uint64_t kPollAccesses = 1 << 16;
  /// The line is redrawn at most this often, and first drawn after it.
  static constexpr double kRedrawSeconds = 0.25;

  /// Draws on `out` (stderr in vmxsim); `clock` is the host's steady clock
  /// unless a test gives another.
  explicit Progress(std::ostream& out, Clock clock = steady_seconds);
  ~Progress();  // clears the line if it is still drawn

  /// The run starts now and will retire `total` accesses.
  void start(std::uint64_t total);
  /// `n` more accesses were taken by a vCPU.
  void advance(std::uint64_t n) override {
    done_ += n;
    if (done_ >= next_poll_) poll();
  }
  /// The run ended: clears the line.
  void finish();

  /// The line drawn for `done` of `total` after `seconds` (no control characters).
  static std::string line(std::uint64_t done, std::uint64_t total, double seconds);

 private:
  static double steady_seconds();
  void poll();

  std::ostream& out_;
  Clock clock_;
  std::uint64_t total_ = 0, done_ = 0, next_poll_ = kPollAccesses;
  double start_ = 0, last_draw_ = 0;
  bool drawn_ = false;
};

}  // namespace vmxsim::sim
