#include "pd_proxy/core/scheduling/queue_aware_policy.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "policy_test_pool.hpp"

namespace pd_proxy {
namespace {

using clock_type = policy_settings::clock;
clock_type::time_point fake_now{};
clock_type::time_point read_fake_now() {
  return fake_now;
}

policy_settings fake_clock_settings(std::chrono::seconds ttl) {
  fake_now = clock_type::time_point{} + std::chrono::hours(1);
  return {.report_ttl = ttl, .now = &read_fake_now};
}

TEST(queue_aware_policy, picks_the_least_reported_queue_plus_what_was_sent_since) {
  auto b = policy_test_pool(3, backend_role::decode);
  queue_aware_policy p(fake_clock_settings(std::chrono::seconds(3)));
  EXPECT_EQ(p.pick({}), nullptr);
  for (auto& x : b) p.add(*x, {});
  p.load_reported(*b[0], {.running = 10, .waiting = 5});
  p.load_reported(*b[1], {.running = 2, .waiting = 0});
  p.load_reported(*b[2], {.running = 4, .waiting = 0});
  EXPECT_EQ(p.pick({}), b[1].get());
  // Three sends to b[1] since its report: 2 + 3 = 5 > 4.
  p.load_changed(*b[1], tokens_load(1, 1));
  p.load_changed(*b[1], tokens_load(2, 2));
  p.load_changed(*b[1], tokens_load(3, 3));
  EXPECT_DOUBLE_EQ(p.queue(*b[1]), 5.0);
  EXPECT_EQ(p.pick({}), b[2].get());
  // A release is no send; a new report restarts the count.
  p.load_changed(*b[1], tokens_load(2, 2));
  EXPECT_DOUBLE_EQ(p.queue(*b[1]), 5.0);
  p.load_reported(*b[1], {.running = 1});
  EXPECT_DOUBLE_EQ(p.queue(*b[1]), 1.0);
  EXPECT_EQ(p.pick({}), b[1].get());
}

TEST(queue_aware_policy, replicas_see_each_others_traffic_through_the_engine) {
  // This proxy sent nothing to b[0], but its engine reports a long queue (another replica's requests).
  auto b = policy_test_pool(2, backend_role::decode);
  queue_aware_policy p(fake_clock_settings(std::chrono::seconds(3)));
  for (auto& x : b) p.add(*x, {});
  p.load_reported(*b[0], {.running = 30, .waiting = 4});
  p.load_reported(*b[1], {.running = 3});
  p.load_changed(*b[1], tokens_load(1, 1));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(p.pick({}), b[1].get());
}

TEST(queue_aware_policy, failed_or_stale_reports_fall_back_to_this_proxys_requests) {
  auto b = policy_test_pool(2, backend_role::decode);
  queue_aware_policy p(fake_clock_settings(std::chrono::seconds(3)));
  for (auto& x : b) p.add(*x, {});
  p.load_reported(*b[0], {.running = 50});
  p.load_changed(*b[1], tokens_load(2, 2));  // no report for b[1]: its 2 requests in flight count
  EXPECT_EQ(p.pick({}), b[1].get());
  p.load_reported(*b[0], {.known = false});  // the scrape failed: b[0] counts its 0 requests of ours
  EXPECT_DOUBLE_EQ(p.queue(*b[0]), 0.0);
  EXPECT_EQ(p.pick({}), b[0].get());
  p.load_reported(*b[0], {.running = 50});
  EXPECT_EQ(p.pick({}), b[1].get());
  // b[1]'s report ages past the ttl while b[0] looks idle by its report: at the next pick it counts as
  // stale and is weighed by this proxy's requests (2 in flight).
  p.load_reported(*b[1], {.running = 0});
  fake_now += std::chrono::seconds(2);
  p.load_reported(*b[0], {.running = 1});
  EXPECT_EQ(p.pick({}), b[1].get());    // 0 < 1, still fresh
  fake_now += std::chrono::seconds(2);  // b[1]'s report is 4 s old
  EXPECT_EQ(p.pick({}), b[0].get());    // b[1] now counts 2 (in flight) > 1
  EXPECT_DOUBLE_EQ(p.queue(*b[1]), 2.0);
}

TEST(queue_aware_policy, ties_rotate_and_tried_backends_are_avoided) {
  auto b = policy_test_pool(3, backend_role::decode);
  queue_aware_policy p({});
  for (auto& x : b) p.add(*x, {});
  EXPECT_EQ(p.pick({}), b[0].get());
  EXPECT_EQ(p.pick({}), b[1].get());
  EXPECT_EQ(p.pick({}), b[2].get());
  const std::vector<backend_id> tried{1};
  p.load_reported(*b[1], {.running = 3});
  p.load_reported(*b[2], {.running = 3});
  EXPECT_NE(p.pick({.tried = tried}), b[0].get());
  p.remove(*b[0]);
  EXPECT_NE(p.pick({}), nullptr);
}

}  // namespace
}  // namespace pd_proxy
