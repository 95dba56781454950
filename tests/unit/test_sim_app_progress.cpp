// Tests of the progress bar (sim::Progress) with a fake clock.
#include <gtest/gtest.h>

#include <sstream>

#include "sim/app/progress.hpp"

namespace vmxsim::sim {
namespace {

TEST(Progress, LineShowsDoneTotalRateAndEta) {
  EXPECT_EQ(Progress::line(5000000, 20000000, 0.5),
            "[#####...............]  25.0%  5.0M / 20.0M accesses  10.00 M/s  ETA 0:02");
  EXPECT_EQ(Progress::line(0, 20000000, 0.0), "[....................]   0.0%  0.0M / 20.0M accesses  0.00 M/s  ETA ?");
  const std::string slow = Progress::line(1000000, 8201000000, 1.0);
  EXPECT_EQ(slow.substr(slow.find("ETA")), "ETA 2:16:40");
}

TEST(Progress, RedrawsAtMostEveryQuarterSecondAndClearsAtTheEnd) {
  std::ostringstream out;
  double now = 100.0;
  {
    Progress p(out, [&now] { return now; });
    p.start(10 * Progress::kPollAccesses);
    p.advance(Progress::kPollAccesses);  // polls, but too early to draw
    EXPECT_EQ(out.str(), "");
    now += 0.3;
    p.advance(100);  // not yet at the next poll: the clock is not even read
    EXPECT_EQ(out.str(), "");
    p.advance(Progress::kPollAccesses);
    EXPECT_EQ(out.str(),
              "\r" + Progress::line(2 * Progress::kPollAccesses + 100, 10 * Progress::kPollAccesses, 0.3) + "\033[K");
    const std::size_t drawn = out.str().size();
    now += 0.1;
    p.advance(Progress::kPollAccesses);  // within 0.25 s of the last draw
    EXPECT_EQ(out.str().size(), drawn);
    p.finish();
    EXPECT_EQ(out.str().substr(drawn), "\r\033[K");
    p.finish();  // once only
    EXPECT_EQ(out.str().size(), drawn + 4);
  }
  // A run that ends before the first draw leaves nothing behind.
  std::ostringstream quiet;
  Progress q(quiet, [] { return 1.0; });
  q.start(100);
  q.advance(100);
  q.finish();
  EXPECT_EQ(quiet.str(), "");
}

}  // namespace
}  // namespace vmxsim::sim
