// The health-check schedule with made-up time: due at once, then every jittered interval (sooner while a
// backend has never been healthy), bounded.
#include "pd_proxy/core/health/check_schedule.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "pd_proxy/core/time/manual_clock.hpp"

namespace pd_proxy {
namespace {

using namespace std::chrono_literals;
using clock = check_schedule::clock;

const clock::time_point t0 = clock::time_point{} + 1h;

TEST(check_schedule, new_backends_are_due_at_once_within_the_concurrency_bound) {
  check_schedule s(5s, 2);
  const std::vector<backend_id> ids{1, 2, 3};
  s.sync(ids, t0);
  EXPECT_TRUE(s.take_due(t0).has_value());
  EXPECT_TRUE(s.take_due(t0).has_value());
  EXPECT_FALSE(s.take_due(t0).has_value());  // two in flight
  EXPECT_EQ(s.in_flight(), 2u);
  EXPECT_EQ(s.next_due(), t0);  // the third waits for a free slot
}

TEST(check_schedule, a_finished_check_is_due_again_one_jittered_interval_later) {
  check_schedule s(10s, 4, 42);
  const std::vector<backend_id> ids{7};
  s.sync(ids, t0);
  for (int round = 0; round < 50; ++round) {
    const auto now = s.next_due();
    const auto check = s.take_due(now);
    ASSERT_TRUE(check.has_value());
    EXPECT_EQ(check->id, 7u);
    EXPECT_FALSE(s.take_due(now).has_value());
    s.finished(*check, now, true);
    const auto gap = s.next_due() - now;
    EXPECT_GE(gap, 9s);
    EXPECT_LE(gap, 11s);
  }
}

TEST(check_schedule, jitter_spreads_checks_that_started_together) {
  check_schedule s(10s, 100, 7);
  std::vector<backend_id> ids;
  for (backend_id id = 1; id <= 50; ++id) ids.push_back(id);
  s.sync(ids, t0);
  while (auto check = s.take_due(t0)) s.finished(*check, t0, true);
  std::vector<clock::time_point> dues;
  while (s.next_due() != clock::time_point::max()) {
    const auto due = s.next_due();
    dues.push_back(due);
    ASSERT_TRUE(s.take_due(due).has_value());
  }
  ASSERT_EQ(dues.size(), 50u);
  EXPECT_GT(dues.back() - dues.front(), 1s);  // not in lock-step
}

TEST(check_schedule, removed_backends_are_dropped_and_added_ones_are_due_at_once) {
  check_schedule s(5s, 1);
  std::vector<backend_id> ids{1, 2};
  s.sync(ids, t0);
  const auto first = s.take_due(t0);
  ASSERT_TRUE(first.has_value());
  ids = {3};
  s.sync(ids, t0 + 1s);  // both old ones dropped; the in-flight check still holds the one slot
  EXPECT_FALSE(s.take_due(t0 + 1s).has_value());
  s.finished(*first, t0 + 2s, true);
  const auto next = s.take_due(t0 + 2s);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->id, 3u);
  EXPECT_EQ(s.size(), 1u);
}

TEST(check_schedule, churn_never_checks_a_backend_twice_at_once_nor_one_that_left) {
  check_schedule s(1s, 8, 7);
  std::mt19937 random(3);
  std::set<backend_id> present;
  std::map<backend_id, check_schedule::due_check> in_flight;
  std::size_t most_present = 0;
  backend_id next_id = 1;
  clock::time_point now = t0;
  for (int step = 0; step < 20000; ++step) {
    now += 1ms;
    switch (random() % 4) {
      case 0: {  // a backend comes or goes (ids are never reused, as the registry's)
        if (random() % 2 == 0 || present.empty()) {
          present.insert(next_id++);
        } else {
          present.erase(std::next(present.begin(), static_cast<long>(random() % present.size())));
        }
        const std::vector<backend_id> ids(present.begin(), present.end());
        s.sync(ids, now);
        break;
      }
      case 1:
      case 2:
        while (auto check = s.take_due(now)) {
          EXPECT_TRUE(present.contains(check->id)) << check->id;
          EXPECT_TRUE(in_flight.emplace(check->id, *check).second) << "checked twice at once: " << check->id;
          EXPECT_EQ(s.slot_of(check->id), check->slot);
        }
        break;
      default:
        if (!in_flight.empty()) {
          const auto it = std::next(in_flight.begin(), static_cast<long>(random() % in_flight.size()));
          s.finished(it->second, now, true);
          in_flight.erase(it);
        }
    }
    ASSERT_LE(s.in_flight(), 8u);
    most_present = std::max(most_present, present.size());
    ASSERT_LE(s.slot_count(), most_present + 8);  // slots are reused, not grown per backend ever seen
  }
  // Every backend still present gets its check within an interval and a bit, once the checks in flight end.
  for (const auto& [id, check] : in_flight) s.finished(check, now, true);
  in_flight.clear();
  std::set<backend_id> seen;
  for (int ms = 0; ms < 1200; ++ms) {
    now += 1ms;
    while (auto check = s.take_due(now)) {
      seen.insert(check->id);
      s.finished(*check, now, true);
    }
  }
  for (const backend_id id : present) EXPECT_TRUE(seen.contains(id)) << id;
  for (const backend_id id : seen) EXPECT_TRUE(present.contains(id)) << id;
}

TEST(check_schedule, a_slot_is_its_backends_until_dropped_then_another_backends) {
  check_schedule s(5s, 4);
  std::vector<backend_id> ids{1, 2};
  s.sync(ids, t0);
  const auto slot_of_2 = s.slot_of(2);
  ASSERT_TRUE(slot_of_2.has_value());
  EXPECT_LT(*slot_of_2, s.slot_count());
  const auto check = s.take_due(t0);
  ASSERT_TRUE(check.has_value());
  ids = {2, 3};  // 1 leaves (with its check in flight, if it was taken first) and 3 comes
  s.sync(ids, t0 + 1s);
  EXPECT_EQ(s.slot_of(2), slot_of_2);
  EXPECT_FALSE(s.slot_of(1).has_value());
  EXPECT_NE(s.slot_of(3), slot_of_2);
  s.finished(*check, t0 + 1s, true);
  s.finished(*check, t0 + 1s, true);  // a second report of one check changes nothing
  EXPECT_EQ(s.in_flight(), 0u);
  ids = {2, 3, 4};  // 4 may take 1's slot now that its check ended
  s.sync(ids, t0 + 2s);
  EXPECT_LE(s.slot_count(), 3u);
  std::set<std::uint32_t> slots;
  for (const backend_id id : ids) slots.insert(*s.slot_of(id));
  EXPECT_EQ(slots.size(), 3u);
}

TEST(check_schedule, a_late_second_report_of_a_check_does_not_end_the_next_one) {
  check_schedule s(1s, 4);
  const std::vector<backend_id> ids{1};
  s.sync(ids, t0);
  const auto first = s.take_due(t0);
  ASSERT_TRUE(first.has_value());
  s.finished(*first, t0, true);
  const auto due = s.next_due();
  const auto second = s.take_due(due);
  ASSERT_TRUE(second.has_value());
  s.finished(*first, due, true);  // the first check reported again while the second runs
  EXPECT_EQ(s.in_flight(), 1u);
  EXPECT_EQ(s.next_due(), clock::time_point::max());  // not queued again: its check still runs
  s.finished(*second, due, true);
  EXPECT_EQ(s.in_flight(), 0u);
}

TEST(check_schedule, recheck_delay_grows_from_a_quarter_second_until_healthy_then_is_the_interval) {
  EXPECT_EQ(recheck_delay(false, 1, 5s), 250ms);
  EXPECT_EQ(recheck_delay(false, 2, 5s), 375ms);
  EXPECT_EQ(recheck_delay(false, 3, 5s), 562500us);
  EXPECT_EQ(recheck_delay(false, 8, 5s), 4271484375ns);  // 250 ms × 1.5^7
  EXPECT_EQ(recheck_delay(false, 9, 5s), 5s);            // capped
  EXPECT_EQ(recheck_delay(false, std::numeric_limits<std::uint32_t>::max(), 5s), 5s);
  EXPECT_EQ(recheck_delay(false, 0, 5s), 250ms);
  EXPECT_EQ(recheck_delay(true, 1, 5s), 5s);         // once healthy: the interval, whatever came before
  EXPECT_EQ(recheck_delay(false, 1, 100ms), 100ms);  // an interval shorter than the back-off wins
}

// An engine that comes up `up_after` its first check, checked on recheck_delay's schedule (time is the
// manual clock's): its first passing check comes by 1.5 × up_after + 250 ms, not an interval later.
TEST(check_schedule, an_engine_that_comes_up_late_is_found_soon_after) {
  for (const auto up_after : {100ms, 500ms, 900ms, 2000ms, 4500ms}) {
    manual_clock::reset();
    const auto engine_up = manual_clock::now() + up_after;
    std::uint32_t checks = 0;
    int bound = 100;
    while (manual_clock::now() < engine_up && --bound > 0) {  // each check fails
      manual_clock::advance(recheck_delay(false, ++checks, 5s));
    }
    ASSERT_GT(bound, 0);
    const auto found = manual_clock::now() - (engine_up - up_after);
    EXPECT_LE(found, up_after * 3 / 2 + first_recheck_delay) << up_after.count();
  }
}

TEST(check_schedule, a_backend_never_healthy_is_rechecked_with_back_off_then_every_interval) {
  check_schedule s(5s, 4, 3);
  const std::vector<backend_id> ids{1};
  s.sync(ids, t0);
  auto now = t0;
  // Three failed checks: due again after about 250 ms, 375 ms, 562.5 ms (±10 %).
  for (const clock::duration expected :
       {clock::duration(250ms), clock::duration(375ms), clock::duration(562500us)}) {
    const auto check = s.take_due(now);
    ASSERT_TRUE(check.has_value());
    s.finished(*check, now, false);
    const auto gap = s.next_due() - now;
    EXPECT_GE(gap, expected * 9 / 10);
    EXPECT_LE(gap, expected * 11 / 10);
    now = s.next_due();
  }
  // It passes: every interval from now on, even when it fails again.
  for (const bool healthy : {true, false, false}) {
    const auto check = s.take_due(now);
    ASSERT_TRUE(check.has_value());
    s.finished(*check, now, healthy);
    const auto gap = s.next_due() - now;
    EXPECT_GE(gap, 4500ms);
    EXPECT_LE(gap, 5500ms);
    now = s.next_due();
  }
}

TEST(check_schedule, a_slot_given_to_a_new_backend_starts_its_back_off_afresh) {
  check_schedule s(5s, 4, 3);
  std::vector<backend_id> ids{1};
  s.sync(ids, t0);
  const auto check = s.take_due(t0);
  ASSERT_TRUE(check.has_value());
  s.finished(*check, t0, true);  // 1 was healthy
  ids = {2};
  s.sync(ids, t0 + 1s);  // 2 takes 1's slot
  EXPECT_EQ(s.slot_of(2), check->slot);
  const auto next = s.take_due(t0 + 1s);
  ASSERT_TRUE(next.has_value());
  s.finished(*next, t0 + 1s, false);
  EXPECT_LE(s.next_due() - (t0 + 1s), 275ms);
}

}  // namespace
}  // namespace pd_proxy
