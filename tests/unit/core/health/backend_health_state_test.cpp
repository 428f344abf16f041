// The health state machine, driven with made-up time points: no test sleeps.
#include "pd_proxy/core/health/backend_health_state.hpp"

#include <gtest/gtest.h>

namespace pd_proxy {
namespace {

using namespace std::chrono_literals;
using clock = backend_health_state::clock;

const clock::time_point t0{};

TEST(backend_health_state, three_failures_in_a_row_open_the_breaker_for_the_recovery_timeout) {
  backend_health_state h({}, /*checked=*/false);
  EXPECT_TRUE(h.admit(t0));
  h.request_failed(t0);
  h.request_failed(t0);
  h.request_succeeded();  // a success in between starts the count again
  h.request_failed(t0);
  h.request_failed(t0);
  EXPECT_EQ(h.breaker(t0), breaker_state::closed);
  h.request_failed(t0);
  EXPECT_EQ(h.breaker(t0), breaker_state::open);
  EXPECT_FALSE(h.admit(t0 + 9999ms));
  EXPECT_FALSE(h.usable(t0 + 9999ms));
  EXPECT_EQ(h.breaker(t0 + 10s), breaker_state::half_open);
}

TEST(backend_health_state, half_open_admits_one_trial_that_closes_it) {
  backend_health_state h({}, false);
  for (int i = 0; i < 3; ++i) h.request_failed(t0);
  const auto later = t0 + 10s;
  EXPECT_TRUE(h.usable(later));
  EXPECT_TRUE(h.admit(later));   // the trial
  EXPECT_FALSE(h.admit(later));  // only one
  EXPECT_FALSE(h.usable(later));
  h.request_succeeded();
  EXPECT_EQ(h.breaker(later), breaker_state::closed);
  EXPECT_TRUE(h.admit(later));
  EXPECT_TRUE(h.admit(later));
}

TEST(backend_health_state, a_failed_trial_reopens_for_twice_as_long_up_to_the_maximum) {
  health_settings s;
  s.recovery_timeout = 10s;
  s.max_recovery_timeout = 35s;
  backend_health_state h(s, false);
  auto now = t0;
  for (int i = 0; i < 3; ++i) h.request_failed(now);
  EXPECT_EQ(h.open_period(), 10s);
  for (const auto expected : {20s, 35s, 35s}) {
    now += h.open_period();
    ASSERT_TRUE(h.admit(now));
    h.request_failed(now);
    EXPECT_EQ(h.open_period(), expected);
    EXPECT_FALSE(h.admit(now + expected - 1ms));
  }
  // Closing resets the doubling.
  now += h.open_period();
  ASSERT_TRUE(h.admit(now));
  h.request_succeeded();
  for (int i = 0; i < 3; ++i) h.request_failed(now);
  EXPECT_EQ(h.open_period(), 10s);
}

TEST(backend_health_state, an_abandoned_trial_lets_the_next_request_try) {
  backend_health_state h({}, false);
  for (int i = 0; i < 3; ++i) h.request_failed(t0);
  ASSERT_TRUE(h.admit(t0 + 10s));
  h.request_abandoned();  // the client went away: no verdict
  EXPECT_TRUE(h.admit(t0 + 10s));
}

TEST(backend_health_state, late_outcomes_of_requests_admitted_before_the_opening_change_nothing) {
  backend_health_state h({}, false);
  for (int i = 0; i < 3; ++i) h.request_failed(t0);
  h.request_failed(t0 + 5s);
  h.request_succeeded();  // nor does a late success: only the trial closes it
  EXPECT_EQ(h.breaker(t0 + 5s), breaker_state::open);
  EXPECT_EQ(h.breaker(t0 + 10s), breaker_state::half_open);
}

TEST(backend_health_state, checked_backends_start_unhealthy_until_a_check_passes) {
  backend_health_state h({}, /*checked=*/true);
  EXPECT_FALSE(h.healthy());
  EXPECT_FALSE(h.admit(t0));
  h.check_passed();  // healthy_threshold 1
  EXPECT_TRUE(h.healthy());
  EXPECT_TRUE(h.admit(t0));
  h.check_failed();
  EXPECT_TRUE(h.healthy());  // unhealthy_threshold 2
  h.check_passed();
  h.check_failed();
  EXPECT_TRUE(h.healthy());  // not in a row
  h.check_failed();
  EXPECT_FALSE(h.healthy());
  EXPECT_FALSE(h.usable(t0));
}

TEST(backend_health_state, a_passing_check_does_not_close_a_breaker_that_requests_opened) {
  backend_health_state h({}, false);
  for (int i = 0; i < 3; ++i) h.request_failed(t0);
  h.check_passed();
  h.check_passed();
  EXPECT_EQ(h.breaker(t0 + 1s), breaker_state::open);
  EXPECT_FALSE(h.admit(t0 + 1s));
}

TEST(backend_health_state, names) {
  EXPECT_EQ(to_string(breaker_state::closed), "closed");
  EXPECT_EQ(to_string(breaker_state::open), "open");
  EXPECT_EQ(to_string(breaker_state::half_open), "half_open");
}

}  // namespace
}  // namespace pd_proxy
