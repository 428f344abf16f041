// The scheduler with health: breakers opened by reported results, active-check verdicts, and a pick that
// never returns an unusable backend while a usable one exists. Time is a fake: no test sleeps.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "pd_proxy/core/backends/registry.hpp"
#include "pd_proxy/core/scheduling/scheduler.hpp"

namespace pd_proxy {
namespace {

using namespace std::chrono_literals;
using clock = scheduler::clock;

clock::time_point fake_now{};
clock::time_point read_fake_now() {
  return fake_now;
}

struct health_cluster {
  backend_registry registry;
  scheduler sched;
  std::vector<std::shared_ptr<backend>> decoders;

  explicit health_cluster(std::size_t d, bool checked = false, health_settings settings = {})
      : sched(make_policy("least-loaded"), make_policy("least-loaded"), settings, checked, &read_fake_now) {
    fake_now = clock::time_point{} + 1h;
    for (std::size_t i = 0; i < d; ++i) {
      auto b = registry.add(backend_role::decode, {"10.0.0.1", static_cast<std::uint16_t>(9000 + i)});
      sched.add(b);
      decoders.push_back(std::move(b));
    }
  }
  // Sends one request that fails on whatever the scheduler picks; returns the backend it picked.
  backend_id fail_one() {
    auto r = sched.reserve_decode(1);
    EXPECT_TRUE(r.has_value());
    if (!r) return 0;
    r->report(leg_result::failed);
    return r->target().id();
  }
};

TEST(scheduler_health, a_backend_whose_requests_fail_is_ejected_and_the_rest_take_the_traffic) {
  health_cluster c(3);
  const backend& bad = *c.decoders[0];
  int sent_to_bad = 0;
  for (int i = 0; i < 100; ++i) {
    auto r = c.sched.reserve_decode(1);
    ASSERT_TRUE(r.has_value());
    const bool is_bad = &r->target() == &bad;
    sent_to_bad += is_bad ? 1 : 0;
    r->report(is_bad ? leg_result::failed : leg_result::succeeded);
  }
  EXPECT_EQ(sent_to_bad, 3);  // the failure threshold, then the breaker is open for the rest
  EXPECT_EQ(c.sched.status(bad).breaker, breaker_state::open);
  EXPECT_FALSE(c.sched.status(bad).usable);
  EXPECT_EQ(c.sched.usable(backend_role::decode), 2u);
  EXPECT_EQ(bad.health.load(), backend_health::unhealthy);
}

TEST(scheduler_health, with_every_backend_open_there_is_no_backend_and_after_the_recovery_one_trial_goes) {
  health_cluster c(2);
  for (int i = 0; i < 6; ++i) c.fail_one();
  EXPECT_EQ(c.sched.usable(backend_role::decode), 0u);
  EXPECT_FALSE(c.sched.reserve_decode(1).has_value());  // fails fast, picks nothing

  fake_now += 10s;  // both half-open
  EXPECT_EQ(c.sched.usable(backend_role::decode), 2u);
  auto trial_1 = c.sched.reserve_decode(1);
  auto trial_2 = c.sched.reserve_decode(1);
  ASSERT_TRUE(trial_1 && trial_2);
  EXPECT_NE(trial_1->target().id(), trial_2->target().id());
  EXPECT_FALSE(c.sched.reserve_decode(1).has_value());  // one trial each, both in flight
  trial_1->report(leg_result::succeeded);               // closes it
  trial_2->report(leg_result::failed);                  // re-opens it, for 20 s
  for (int i = 0; i < 5; ++i) {
    auto r = c.sched.reserve_decode(1);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->target().id(), trial_1->target().id());
  }
  fake_now += 19s;
  EXPECT_EQ(c.sched.usable(backend_role::decode), 1u);
  fake_now += 1s;
  EXPECT_EQ(c.sched.usable(backend_role::decode), 2u);
}

TEST(scheduler_health, an_abandoned_trial_lets_the_next_request_be_the_trial) {
  health_cluster c(1);
  for (int i = 0; i < 3; ++i) c.fail_one();
  fake_now += 10s;
  {
    auto trial = c.sched.reserve_decode(1);
    ASSERT_TRUE(trial.has_value());
    EXPECT_FALSE(c.sched.reserve_decode(1).has_value());
  }  // destroyed unreported: abandoned
  auto next = c.sched.reserve_decode(1);
  ASSERT_TRUE(next.has_value());
  next->report(leg_result::succeeded);
  EXPECT_EQ(c.sched.status(*c.decoders[0]).breaker, breaker_state::closed);
}

TEST(scheduler_health, a_client_abort_or_a_4xx_never_counts_against_the_backend) {
  health_cluster c(1);
  for (int i = 0; i < 10; ++i) {
    auto r = c.sched.reserve_decode(1);
    ASSERT_TRUE(r.has_value());
    if (i % 2 == 0) r->report(leg_result::succeeded);  // a 4xx is a success for health
  }                                                    // odd ones: abandoned
  EXPECT_EQ(c.sched.status(*c.decoders[0]).breaker, breaker_state::closed);
}

TEST(scheduler_health, only_the_first_report_counts) {
  health_cluster c(1);
  for (int i = 0; i < 3; ++i) {
    auto r = c.sched.reserve_decode(1);
    ASSERT_TRUE(r.has_value());
    r->report(leg_result::failed);
    r->report(leg_result::succeeded);  // ignored
  }
  EXPECT_EQ(c.sched.status(*c.decoders[0]).breaker, breaker_state::open);
}

TEST(scheduler_health, with_checks_a_backend_is_unhealthy_until_its_first_check_passes) {
  health_cluster c(2, /*checked=*/true);
  EXPECT_EQ(c.sched.usable(backend_role::decode), 0u);
  EXPECT_FALSE(c.sched.reserve_decode(1).has_value());
  c.sched.check_result(*c.decoders[1], true);
  for (int i = 0; i < 4; ++i) {
    auto r = c.sched.reserve_decode(1);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(&r->target(), c.decoders[1].get());
  }
  // Two failed checks in a row (the default unhealthy threshold) take it out again.
  c.sched.check_result(*c.decoders[1], false);
  EXPECT_EQ(c.sched.usable(backend_role::decode), 1u);
  c.sched.check_result(*c.decoders[1], false);
  EXPECT_EQ(c.sched.usable(backend_role::decode), 0u);
  EXPECT_FALSE(c.sched.status(*c.decoders[1]).healthy);
}

TEST(scheduler_health, a_passing_check_does_not_close_a_breaker_that_requests_opened) {
  health_cluster c(1, /*checked=*/true);
  c.sched.check_result(*c.decoders[0], true);
  for (int i = 0; i < 3; ++i) c.fail_one();
  for (int i = 0; i < 5; ++i) c.sched.check_result(*c.decoders[0], true);
  EXPECT_FALSE(c.sched.reserve_decode(1).has_value());
  EXPECT_EQ(c.sched.status(*c.decoders[0]).breaker, breaker_state::open);
}

TEST(scheduler_health, a_failure_threshold_of_zero_never_opens) {
  health_settings settings;
  settings.failure_threshold = 0;
  health_cluster c(1, false, settings);
  for (int i = 0; i < 20; ++i) c.fail_one();
  EXPECT_TRUE(c.sched.reserve_decode(1).has_value());
}

TEST(scheduler_health, load_on_an_ejected_backend_is_still_released_against_it) {
  health_cluster c(2);
  auto held = c.sched.reserve_decode(5);
  ASSERT_TRUE(held.has_value());
  const backend& b = held->target();
  for (int i = 0; i < 3; ++i) {
    auto r = c.sched.reserve_decode(0);
    ASSERT_TRUE(r.has_value());
    if (&r->target() == &b) r->report(leg_result::failed);
  }
  held->report(leg_result::failed);
  held.reset();
  EXPECT_EQ(c.sched.load(b).inflight, 0u);
  EXPECT_EQ(c.sched.load(b).active_tokens, 0.0);
}

}  // namespace
}  // namespace pd_proxy
