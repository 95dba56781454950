#include "sim/app/progress.hpp"

#include <algorithm>
#include <cstdio>
#include <string>

namespace vmxsim::sim {

namespace {
constexpr char kClearLine[] = "\r\033[K";  // carriage return, erase to the end of the line
constexpr int kBarWidth = 20;
constexpr double kMega = 1e6;
constexpr std::uint64_t kSecondsPerMinute = 60, kSecondsPerHour = 3600;

std::string duration(double seconds) {
  const auto s = static_cast<std::uint64_t>(seconds + 0.5);
  char buf[32];
  if (s >= kSecondsPerHour)
    std::snprintf(buf, sizeof buf, "%llu:%02llu:%02llu", (unsigned long long)(s / kSecondsPerHour),
                  (unsigned long long)(s % kSecondsPerHour / kSecondsPerMinute),
                  (unsigned long long)(s % kSecondsPerMinute));
  else
    std::snprintf(buf, sizeof buf, "%llu:%02llu", (unsigned long long)(s / kSecondsPerMinute),
                  (unsigned long long)(s % kSecondsPerMinute));
  return buf;
}
}  // namespace

Progress::Progress(std::ostream& out, Clock clock) : out_(out), clock_(std::move(clock)) {}

Progress::~Progress() { finish(); }

double Progress::steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void Progress::start(std::uint64_t total) {
  total_ = total;
  done_ = 0;
  next_poll_ = kPollAccesses;
  start_ = last_draw_ = clock_();
}

void Progress::poll() {
  next_poll_ = done_ + kPollAccesses;
  const double now = clock_();
  if (now - last_draw_ < kRedrawSeconds) return;
  last_draw_ = now;
  out_ << '\r' << line(std::min(done_, total_), total_, now - start_) << "\033[K" << std::flush;
  drawn_ = true;
}

void Progress::finish() {
  if (!drawn_) return;
  out_ << kClearLine << std::flush;
  drawn_ = false;
}

std::string Progress::line(std::uint64_t done, std::uint64_t total, double seconds) {
  const double share = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  const int filled = static_cast<int>(share * kBarWidth);
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(kBarWidth, '.');
  char buf[160];
  std::snprintf(buf, sizeof buf, "[%s] %5.1f%%  %.1fM / %.1fM accesses  %.2f M/s  ETA %s", bar.c_str(), 100.0 * share,
                static_cast<double>(done) / kMega, static_cast<double>(total) / kMega, rate / kMega,
                rate > 0 ? duration(static_cast<double>(total - done) / rate).c_str() : "?");
  return buf;
}

}  // namespace vmxsim::sim
