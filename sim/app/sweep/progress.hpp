// The sweep's progress line: points done / total, running, failed, ETA,
// redrawn in place on stderr when it is a terminal; silent otherwise (logs
// and batch jobs get only the final summary).
#pragma once
#include <chrono>
#include <cstddef>
#include <ostream>
#include <string>

namespace vmxsim::sweep {

class Progress {
 public:
  /// `total`: the points this run will execute. `enabled`: draw at all.
  Progress(std::ostream& out, std::string name, std::size_t total, bool enabled);
  /// Redraws if the counts changed or the line is older than the redraw interval.
  void update(std::size_t done, std::size_t running, std::size_t failed);
  /// Erases the line (before printing a message, and at the end).
  void clear();

  /// "1h02m", "3m05s", "12s": the ETA's format. Public for tests.
  static std::string duration(double seconds);

 private:
  using Clock = std::chrono::steady_clock;
  std::ostream& out_;
  std::string name_;
  std::size_t total_;
  bool enabled_, drawn_ = false;
  Clock::time_point start_ = Clock::now(), last_draw_{};
  std::string last_counts_;
};

/// Whether stderr is a terminal.
bool stderr_is_tty();

}  // namespace vmxsim::sweep
