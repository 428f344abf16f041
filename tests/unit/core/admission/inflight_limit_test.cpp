// --max-inflight's slots and FIFO queue, without threads or timers.
#include "pd_proxy/core/admission/inflight_limit.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace pd_proxy {
namespace {

struct recording_waiter : admission_waiter {
  int grants = 0;
  void granted() override { ++grants; }
};

std::shared_ptr<recording_waiter> waiter() {
  return std::make_shared<recording_waiter>();
}

TEST(inflight_limit, no_limit_admits_everything_and_counts_nothing) {
  inflight_limit limit(0, 0);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(limit.enter(waiter()), inflight_limit::verdict::admitted);
  EXPECT_EQ(limit.inflight(), 0u);
}

TEST(inflight_limit, the_excess_queues_up_to_the_bound_then_is_rejected) {
  inflight_limit limit(2, 1);
  EXPECT_EQ(limit.enter(waiter()), inflight_limit::verdict::admitted);
  EXPECT_EQ(limit.enter(waiter()), inflight_limit::verdict::admitted);
  const auto queued = waiter();
  EXPECT_EQ(limit.enter(queued), inflight_limit::verdict::queued);
  EXPECT_EQ(limit.enter(waiter()), inflight_limit::verdict::rejected);
  EXPECT_EQ(limit.inflight(), 2u);
  EXPECT_EQ(limit.queued(), 1u);
}

TEST(inflight_limit, a_slot_given_up_goes_to_the_first_waiter_in_order) {
  inflight_limit limit(1, 10);
  ASSERT_EQ(limit.enter(waiter()), inflight_limit::verdict::admitted);
  std::vector<std::shared_ptr<recording_waiter>> queue;
  for (int i = 0; i < 3; ++i) {
    queue.push_back(waiter());
    ASSERT_EQ(limit.enter(queue.back()), inflight_limit::verdict::queued);
  }
  limit.leave();
  EXPECT_EQ(queue[0]->grants, 1);
  EXPECT_EQ(queue[1]->grants, 0);
  EXPECT_FALSE(limit.withdraw(*queue[0]));  // it holds the slot now
  // The slot passed straight on, so a newcomer queues behind the others.
  EXPECT_EQ(limit.enter(waiter()), inflight_limit::verdict::queued);
  EXPECT_EQ(limit.inflight(), 1u);
  limit.leave();
  EXPECT_EQ(queue[1]->grants, 1);
}

TEST(inflight_limit, a_waiter_that_withdraws_leaves_the_queue_and_holds_nothing) {
  inflight_limit limit(1, 2);
  ASSERT_EQ(limit.enter(waiter()), inflight_limit::verdict::admitted);
  const auto leaving = waiter();
  const auto staying = waiter();
  ASSERT_EQ(limit.enter(leaving), inflight_limit::verdict::queued);
  ASSERT_EQ(limit.enter(staying), inflight_limit::verdict::queued);
  EXPECT_TRUE(limit.withdraw(*leaving));
  EXPECT_EQ(limit.queued(), 1u);
  limit.leave();
  EXPECT_EQ(leaving->grants, 0);
  EXPECT_EQ(staying->grants, 1);
  limit.leave();  // the granted one finishes
  EXPECT_EQ(limit.inflight(), 0u);
  EXPECT_EQ(limit.enter(waiter()), inflight_limit::verdict::admitted);
}

TEST(inflight_limit, a_slot_leaves_on_destruction) {
  inflight_limit limit(1, 0);
  {
    ASSERT_EQ(limit.enter(waiter()), inflight_limit::verdict::admitted);
    inflight_slot slot(limit);
    EXPECT_EQ(limit.enter(waiter()), inflight_limit::verdict::rejected);  // no queue at all
  }
  EXPECT_EQ(limit.inflight(), 0u);
}

TEST(inflight_limit, closing_wakes_every_waiter_holding_nothing_and_no_queued_request_is_admitted) {
  inflight_limit limit(2, 10);
  ASSERT_EQ(limit.enter(waiter()), inflight_limit::verdict::admitted);
  ASSERT_EQ(limit.enter(waiter()), inflight_limit::verdict::admitted);
  std::vector<std::shared_ptr<recording_waiter>> queue;
  for (int i = 0; i < 4; ++i) {
    queue.push_back(waiter());
    ASSERT_EQ(limit.enter(queue.back()), inflight_limit::verdict::queued);
  }
  limit.close();
  EXPECT_TRUE(limit.closed());
  EXPECT_EQ(limit.queued(), 0u);
  for (const auto& w : queue) {
    EXPECT_EQ(w->grants, 1);          // woken once
    EXPECT_TRUE(limit.withdraw(*w));  // holding nothing
  }
  EXPECT_EQ(limit.inflight(), 2u);  // the running requests keep their slots
  EXPECT_EQ(limit.enter(waiter()), inflight_limit::verdict::closed);
  limit.leave();  // a running request ends: its slot goes back, to nobody in particular
  for (const auto& w : queue) EXPECT_EQ(w->grants, 1);
  EXPECT_EQ(limit.inflight(), 1u);
  // A request that raced past the drain check still runs when a slot is free (the drain waits for it).
  EXPECT_EQ(limit.enter(waiter()), inflight_limit::verdict::admitted);
}

}  // namespace
}  // namespace pd_proxy
