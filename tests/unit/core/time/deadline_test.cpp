#include "pd_proxy/core/time/deadline.hpp"

#include <gtest/gtest.h>

#include <limits>

#include "pd_proxy/core/time/manual_clock.hpp"

namespace pd_proxy {
namespace {

using namespace std::chrono_literals;

TEST(deadline, zero_negative_and_nan_mean_no_deadline) {
  manual_clock::reset();
  const auto now = manual_clock::now();
  EXPECT_EQ(deadline_after<manual_clock>(seconds_d{0}, now), manual_clock::time_point::max());
  EXPECT_EQ(deadline_after<manual_clock>(seconds_d{-1}, now), manual_clock::time_point::max());
  EXPECT_EQ(deadline_after<manual_clock>(seconds_d{std::numeric_limits<double>::quiet_NaN()}, now),
            manual_clock::time_point::max());
  EXPECT_EQ(time_left<manual_clock>(manual_clock::time_point::max(), now), seconds_d{0});
}

TEST(deadline, time_left_follows_the_clock_and_never_disables_an_expired_limit) {
  manual_clock::reset();
  const auto deadline = deadline_after<manual_clock>(seconds_d{2}, manual_clock::now());
  EXPECT_DOUBLE_EQ(time_left<manual_clock>(deadline, manual_clock::now()).count(), 2.0);
  manual_clock::advance(1500ms);
  EXPECT_DOUBLE_EQ(time_left<manual_clock>(deadline, manual_clock::now()).count(), 0.5);
  manual_clock::advance(10s);
  EXPECT_DOUBLE_EQ(time_left<manual_clock>(deadline, manual_clock::now()).count(), 1e-6);
}

TEST(deadline, huge_limits_saturate_without_overflow) {
  manual_clock::reset();
  const auto now = manual_clock::now();
  const auto deadline = deadline_after<manual_clock>(seconds_d{1e300}, now);
  EXPECT_GT(deadline, now);
  EXPECT_NEAR(time_left<manual_clock>(deadline, now).count(), max_deadline_limit.count(), 1.0);
}

}  // namespace
}  // namespace pd_proxy
