#include "sim/app/sweep/progress.hpp"

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <sstream>

namespace vmxsim::sweep {

namespace {
// Often enough that the ETA and elapsed time look alive, rarely enough to
// cost nothing.
constexpr auto kRedrawInterval = std::chrono::milliseconds(500);
constexpr const char* kEraseLine = "\r\033[K";  // carriage return, erase to end of line
constexpr int kSecondsPerMinute = 60, kSecondsPerHour = 3600;
}  // namespace

bool stderr_is_tty() { return isatty(STDERR_FILENO) == 1; }

Progress::Progress(std::ostream& out, std::string name, std::size_t total, bool enabled)
    : out_(out), name_(std::move(name)), total_(total), enabled_(enabled) {}

std::string Progress::duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  std::ostringstream o;
  if (s >= kSecondsPerHour)
    o << s / kSecondsPerHour << "h" << (s % kSecondsPerHour) / kSecondsPerMinute / 10
      << (s % kSecondsPerHour) / kSecondsPerMinute % 10 << "m";
  else if (s >= kSecondsPerMinute)
    o << s / kSecondsPerMinute << "m" << (s % kSecondsPerMinute) / 10 << (s % kSecondsPerMinute) % 10 << "s";
  else o << s << "s";
  return o.str();
}

void Progress::update(std::size_t done, std::size_t running, std::size_t failed) {
  if (!enabled_) return;
  const auto now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  std::ostringstream counts;
  counts << "sweep " << name_ << ": " << done << "/" << total_ << " done, " << running << " running";
  if (failed) counts << ", " << failed << " failed";
  if (drawn_ && counts.str() == last_counts_ && now - last_draw_ < kRedrawInterval) return;
  std::ostringstream line;
  line << counts.str() << ", " << duration(elapsed) << " elapsed, ETA ";
  // Points finish at the rate seen so far (parallelism included).
  if (done == 0) line << "?";
  else line << duration(elapsed / double(done) * double(total_ - done));
  const std::string text = line.str();
  out_ << kEraseLine << text << std::flush;
  drawn_ = true;
  last_draw_ = now;
  last_counts_ = counts.str();
}

void Progress::clear() {
  if (!enabled_ || !drawn_) return;
  out_ << kEraseLine << std::flush;
  drawn_ = false;
}

}  // namespace vmxsim::sweep
