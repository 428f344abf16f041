#include "pd_proxy/core/admission/body_budget.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace pd_proxy {
namespace {

TEST(body_budget, reserves_up_to_the_limit_and_releases_exactly_once) {
  body_budget budget(100);
  auto a = budget.try_reserve(60);
  ASSERT_TRUE(a);
  EXPECT_FALSE(budget.try_reserve(41));
  auto b = budget.try_reserve(40);
  ASSERT_TRUE(b);
  EXPECT_EQ(budget.used(), 100u);
  a->release();
  a->release();
  EXPECT_EQ(budget.used(), 40u);
  {
    body_budget::reservation moved = std::move(*b);
    EXPECT_EQ(moved.bytes(), 40u);
    EXPECT_EQ(b->bytes(), 0u);
  }
  EXPECT_EQ(budget.used(), 0u);
}

TEST(body_budget, a_reservation_grows_while_the_budget_allows) {
  body_budget budget(100);
  auto a = budget.try_reserve(0);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->try_grow_to(30));
  EXPECT_TRUE(a->try_grow_to(20));  // never shrinks
  EXPECT_EQ(a->bytes(), 30u);
  auto b = budget.try_reserve(60);
  EXPECT_FALSE(a->try_grow_to(41));
  EXPECT_EQ(a->bytes(), 30u);
  EXPECT_TRUE(a->try_grow_to(40));
  EXPECT_EQ(budget.used(), 100u);
  a->release();
  EXPECT_FALSE(a->try_grow_to(10));
  EXPECT_EQ(budget.used(), 60u);
}

TEST(body_budget, a_body_larger_than_the_limit_is_refused_even_when_idle) {
  body_budget budget(100);
  EXPECT_FALSE(budget.try_reserve(101));
  EXPECT_FALSE(budget.try_reserve(SIZE_MAX));
  EXPECT_TRUE(budget.try_reserve(0));
  EXPECT_EQ(budget.used(), 0u);
}

TEST(body_budget, concurrent_reservations_never_exceed_the_limit) {
  body_budget budget(1000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        auto r = budget.try_reserve(300);
        if (r) {
          EXPECT_LE(budget.used(), 1000u);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(budget.used(), 0u);
}

}  // namespace
}  // namespace pd_proxy
