#include "pd_proxy/core/pools/pool_manager.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace pd_proxy {
namespace {

using clock = pool_manager::clock;
using std::chrono::seconds;

struct pools {
  backend_registry registry;
  scheduler sched;
  pool_manager manager;

  explicit pools(pool_settings settings = {}, bool checked = false)
      : sched(make_policy("least-loaded"), make_policy("least-loaded"), {}, checked),
        manager(registry, sched, settings) {}

  const instance_info* find(const std::vector<instance_info>& list, std::string_view address) {
    const auto it =
        std::find_if(list.begin(), list.end(), [&](const auto& i) { return i.address == address; });
    return it == list.end() ? nullptr : &*it;
  }
};

const backend_address d1{"10.0.0.1", 9000}, d2{"10.0.0.2", 9000};
const clock::time_point t0{};

TEST(pool_manager, add_waits_until_the_probe_passes) {
  pools p;
  const auto added = p.manager.add(backend_role::decode, {d1}, t0);
  ASSERT_EQ(added.waiting.size(), 1u);
  EXPECT_TRUE(added.present.empty());
  EXPECT_EQ(p.sched.size(backend_role::decode), 0u);
  auto list = p.manager.list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].state, instance_state::waiting);
  EXPECT_FALSE(p.sched.reserve_decode(1.0).has_value());

  EXPECT_EQ(p.manager.probe_finished(added.waiting[0].ticket, true, t0), probe_verdict::activated);
  EXPECT_EQ(p.sched.size(backend_role::decode), 1u);
  EXPECT_EQ(p.manager.current(backend_role::decode), (std::vector<std::string>{"10.0.0.1:9000"}));
  list = p.manager.list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].state, instance_state::active);
  EXPECT_NE(list[0].id, 0u);
  EXPECT_TRUE(p.sched.reserve_decode(1.0).has_value());
}

TEST(pool_manager, probed_backend_is_usable_at_once_even_with_active_checks) {
  pools p({}, /*checked=*/true);
  const auto added = p.manager.add(backend_role::prefill, {d1}, t0);
  p.manager.probe_finished(added.waiting[0].ticket, true, t0);
  EXPECT_EQ(p.sched.usable(backend_role::prefill), 1u);
}

TEST(pool_manager, add_is_idempotent) {
  pools p;
  const auto first = p.manager.add(backend_role::decode, {d1}, t0);
  const auto again = p.manager.add(backend_role::decode, {d1, d2}, t0);  // d1 is waiting
  EXPECT_EQ(again.present, (std::vector<std::string>{"10.0.0.1:9000"}));
  ASSERT_EQ(again.waiting.size(), 1u);
  p.manager.probe_finished(first.waiting[0].ticket, true, t0);
  const auto third = p.manager.add(backend_role::decode, {d1}, t0);  // d1 is active
  EXPECT_EQ(third.present.size(), 1u);
  EXPECT_TRUE(third.waiting.empty());
  // The same address in the other role is another instance.
  EXPECT_EQ(p.manager.add(backend_role::prefill, {d1}, t0).waiting.size(), 1u);
}

TEST(pool_manager, failed_probes_retry_then_drop) {
  pools p({.max_waiting_retries = 3, .retry_interval = seconds(10), .max_waiting = 10});
  const auto ticket = p.manager.add(backend_role::decode, {d1}, t0).waiting[0].ticket;
  EXPECT_TRUE(p.manager.take_due(t0, 10).empty());  // claimed by the adder
  EXPECT_EQ(p.manager.next_due(), clock::time_point::max());
  EXPECT_EQ(p.manager.probe_finished(ticket, false, t0), probe_verdict::retry);
  EXPECT_EQ(p.manager.next_due(), t0 + seconds(10));
  EXPECT_TRUE(p.manager.take_due(t0 + seconds(9), 10).empty());
  auto due = p.manager.take_due(t0 + seconds(10), 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_TRUE(p.manager.take_due(t0 + seconds(10), 10).empty());  // claimed
  EXPECT_EQ(p.manager.probe_finished(ticket, false, t0 + seconds(10)), probe_verdict::retry);
  due = p.manager.take_due(t0 + seconds(20), 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(p.manager.probe_finished(ticket, false, t0 + seconds(20)), probe_verdict::dropped);
  EXPECT_TRUE(p.manager.list().empty());
  EXPECT_EQ(p.manager.probe_finished(ticket, true, t0), probe_verdict::gone);
  EXPECT_EQ(p.sched.size(backend_role::decode), 0u);
}

// A DNS record stays a candidate (issue 20 item 14): never dropped, probed with a doubling, capped interval.
TEST(pool_manager, an_instance_waiting_until_removed_is_probed_on_with_back_off) {
  pools p({.max_waiting_retries = 2,
           .retry_interval = seconds(10),
           .max_waiting = 10,
           .max_retry_backoff = seconds(60)});
  const auto ticket =
      p.manager.add(backend_role::decode, {d1}, t0, waiting_policy::until_removed).waiting[0].ticket;
  clock::time_point now = t0;
  const auto fail_at_due = [&](probe_verdict expected, clock::duration wait) {
    EXPECT_EQ(p.manager.probe_finished(ticket, false, now), expected);
    EXPECT_EQ(p.manager.next_due(), now + wait);
    EXPECT_TRUE(p.manager.take_due(now + wait - seconds(1), 10).empty());
    now += wait;
    ASSERT_EQ(p.manager.take_due(now, 10).size(), 1u);
  };
  fail_at_due(probe_verdict::retry, seconds(10));
  fail_at_due(probe_verdict::kept, seconds(20));  // where a bounded instance is dropped
  fail_at_due(probe_verdict::backoff, seconds(40));
  fail_at_due(probe_verdict::backoff, seconds(60));  // capped
  for (int i = 0; i < 100; ++i) fail_at_due(probe_verdict::backoff, seconds(60));
  ASSERT_EQ(p.manager.list().size(), 1u);
  EXPECT_EQ(p.manager.list()[0].state, instance_state::waiting);
  EXPECT_EQ(p.manager.probe_finished(ticket, true, now), probe_verdict::activated);
  EXPECT_EQ(p.manager.current(backend_role::decode), (std::vector<std::string>{d1.authority()}));
}

TEST(pool_manager, an_instance_waiting_until_removed_ends_when_removed) {
  pools p({.max_waiting_retries = 1, .retry_interval = seconds(1), .max_waiting = 10});
  const auto ticket =
      p.manager.add(backend_role::decode, {d1}, t0, waiting_policy::until_removed).waiting[0].ticket;
  EXPECT_EQ(p.manager.probe_finished(ticket, false, t0), probe_verdict::kept);
  EXPECT_EQ(p.manager.remove(backend_role::decode, {d1}).removed.size(), 1u);
  EXPECT_TRUE(p.manager.list().empty());
  EXPECT_EQ(p.manager.probe_finished(ticket, false, t0), probe_verdict::gone);
}

TEST(pool_manager, a_bounded_waiting_instance_added_again_until_removed_is_kept) {
  pools p({.max_waiting_retries = 1, .retry_interval = seconds(1), .max_waiting = 10});
  const auto ticket = p.manager.add(backend_role::decode, {d1}, t0).waiting[0].ticket;
  const auto again = p.manager.add(backend_role::decode, {d1}, t0, waiting_policy::until_removed);
  EXPECT_EQ(again.present.size(), 1u);
  EXPECT_EQ(p.manager.probe_finished(ticket, false, t0), probe_verdict::kept);
  EXPECT_EQ(p.manager.list().size(), 1u);
}

TEST(pool_manager, zero_retries_still_probes_once) {
  pools p({.max_waiting_retries = 0, .retry_interval = seconds(1), .max_waiting = 10});
  const auto ticket = p.manager.add(backend_role::decode, {d1}, t0).waiting[0].ticket;
  EXPECT_EQ(p.manager.probe_finished(ticket, false, t0), probe_verdict::dropped);
}

TEST(pool_manager, waiting_table_is_bounded) {
  pools p({.max_waiting_retries = 3, .retry_interval = seconds(1), .max_waiting = 1});
  const auto added = p.manager.add(backend_role::decode, {d1, d2}, t0);
  EXPECT_EQ(added.waiting.size(), 1u);
  EXPECT_EQ(added.refused, (std::vector<std::string>{"10.0.0.2:9000"}));
}

TEST(pool_manager, remove_waiting_forgets_it) {
  pools p;
  const auto ticket = p.manager.add(backend_role::decode, {d1}, t0).waiting[0].ticket;
  const auto removed = p.manager.remove(backend_role::decode, {d1});
  EXPECT_EQ(removed.removed.size(), 1u);
  EXPECT_EQ(p.manager.probe_finished(ticket, true, t0), probe_verdict::gone);  // the probe ended late
  EXPECT_EQ(p.sched.size(backend_role::decode), 0u);
  EXPECT_TRUE(p.manager.list().empty());
}

TEST(pool_manager, remove_unknown) {
  pools p;
  const auto removed = p.manager.remove(backend_role::prefill, {d1});
  EXPECT_EQ(removed.unknown, (std::vector<std::string>{"10.0.0.1:9000"}));
}

TEST(pool_manager, remove_drains_until_the_last_reservation_ends) {
  pools p;
  p.manager.probe_finished(p.manager.add(backend_role::decode, {d1}, t0).waiting[0].ticket, true, t0);
  auto held = p.sched.reserve_decode(5.0);
  ASSERT_TRUE(held.has_value());
  const backend_id id = held->target().id();

  const auto removed = p.manager.remove(backend_role::decode, {d1});
  EXPECT_EQ(removed.draining, (std::vector<std::string>{"10.0.0.1:9000"}));
  EXPECT_FALSE(p.sched.reserve_decode(1.0).has_value());  // no new request at once
  EXPECT_TRUE(p.manager.current(backend_role::decode).empty());
  auto list = p.manager.list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].state, instance_state::draining);
  EXPECT_EQ(list[0].load.inflight, 1u);
  EXPECT_TRUE(p.manager.collect_gone().empty());

  // Re-adding the address while the old one drains makes a new backend.
  const auto again = p.manager.add(backend_role::decode, {d1}, t0);
  ASSERT_EQ(again.waiting.size(), 1u);
  p.manager.probe_finished(again.waiting[0].ticket, true, t0);

  held->release(leg_hold::all);  // the load ends on the removed backend, not on the new one
  EXPECT_EQ(p.manager.collect_gone(), (std::vector<backend_id>{id}));
  EXPECT_TRUE(p.manager.collect_gone().empty());
  list = p.manager.list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].state, instance_state::active);
  EXPECT_NE(list[0].id, id);
  EXPECT_EQ(list[0].load.inflight, 0u);
}

TEST(pool_manager, remove_idle_is_gone_at_once) {
  pools p;
  p.manager.probe_finished(p.manager.add(backend_role::prefill, {d1}, t0).waiting[0].ticket, true, t0);
  const auto removed = p.manager.remove(backend_role::prefill, {d1});
  EXPECT_EQ(removed.removed.size(), 1u);
  EXPECT_TRUE(p.manager.list().empty());
  EXPECT_EQ(p.manager.collect_gone().size(), 1u);
}

TEST(pool_manager, list_shows_unhealthy_and_open) {
  pools p({}, /*checked=*/true);
  auto b1 = p.registry.add(backend_role::decode, d1);
  p.sched.add(b1);  // checked, no check yet: unhealthy
  auto list = p.manager.list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].state, instance_state::unhealthy);
  EXPECT_EQ(to_string(instance_state::open), "open");
}

}  // namespace
}  // namespace pd_proxy
