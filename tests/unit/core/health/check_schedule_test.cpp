// The health-check schedule with made-up time: due at once, then every jittered interval, bounded.
#include "pd_proxy/core/health/check_schedule.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <vector>

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
    s.finished(*check, now);
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
  while (auto check = s.take_due(t0)) s.finished(*check, t0);
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
  s.finished(*first, t0 + 2s);
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
          s.finished(it->second, now);
          in_flight.erase(it);
        }
    }
    ASSERT_LE(s.in_flight(), 8u);
    most_present = std::max(most_present, present.size());
    ASSERT_LE(s.slot_count(), most_present + 8);  // slots are reused, not grown per backend ever seen
  }
  // Every backend still present gets its check within an interval and a bit, once the checks in flight end.
  for (const auto& [id, check] : in_flight) s.finished(check, now);
  in_flight.clear();
  std::set<backend_id> seen;
  for (int ms = 0; ms < 1200; ++ms) {
    now += 1ms;
    while (auto check = s.take_due(now)) {
      seen.insert(check->id);
      s.finished(*check, now);
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
  s.finished(*check, t0 + 1s);
  s.finished(*check, t0 + 1s);  // a second report of one check changes nothing
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
  s.finished(*first, t0);
  const auto due = s.next_due();
  const auto second = s.take_due(due);
  ASSERT_TRUE(second.has_value());
  s.finished(*first, due);  // the first check reported again while the second runs
  EXPECT_EQ(s.in_flight(), 1u);
  EXPECT_EQ(s.next_due(), clock::time_point::max());  // not queued again: its check still runs
  s.finished(*second, due);
  EXPECT_EQ(s.in_flight(), 0u);
}

}  // namespace
}  // namespace pd_proxy
