#include "pd_proxy/core/scheduling/power_of_two_policy.hpp"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "policy_test_pool.hpp"

namespace pd_proxy {
namespace {

TEST(power_of_two_policy, never_picks_the_most_loaded_of_several) {
  auto b = policy_test_pool(4);
  power_of_two_policy p({.seed = 1});
  p.add(*b[0], tokens_load(10));
  p.add(*b[1], tokens_load(20));
  p.add(*b[2], tokens_load(30));
  p.add(*b[3], tokens_load(40));
  std::map<backend*, int> count;
  for (int i = 0; i < 6000; ++i) ++count[p.pick({})];
  EXPECT_EQ(count[b[3].get()], 0);  // it loses every pair it is drawn in
  // The least loaded wins every pair it is in: 3 of the 6 pairs (half the picks).
  EXPECT_NEAR(count[b[0].get()], 3000, 300);
  EXPECT_NEAR(count[b[1].get()], 2000, 300);
  EXPECT_NEAR(count[b[2].get()], 1000, 300);
}

TEST(power_of_two_policy, follows_load_changes) {
  auto b = policy_test_pool(2);
  power_of_two_policy p({.seed = 5});
  p.add(*b[0], {});
  p.add(*b[1], tokens_load(1));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(p.pick({}), b[0].get());
  p.load_changed(*b[0], tokens_load(2));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(p.pick({}), b[1].get());
}

TEST(power_of_two_policy, avoids_tried_backends_and_is_deterministic_with_a_seed) {
  auto b = policy_test_pool(5);
  power_of_two_policy p1({.seed = 9});
  power_of_two_policy p2({.seed = 9});
  EXPECT_EQ(p1.pick({}), nullptr);
  for (auto& x : b) p1.add(*x, {}), p2.add(*x, {});
  const std::vector<backend_id> tried{1, 2, 4, 5};
  for (int i = 0; i < 50; ++i) EXPECT_EQ(p1.pick({.tried = tried}), b[2].get());
  for (int i = 0; i < 50; ++i) p2.pick({.tried = tried});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(p1.pick({}), p2.pick({}));
}

}  // namespace
}  // namespace pd_proxy
