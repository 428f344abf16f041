#include "pd_proxy/core/scheduling/random_policy.hpp"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "policy_test_pool.hpp"

namespace pd_proxy {
namespace {

TEST(random_policy, a_fixed_seed_gives_the_same_sequence) {
  auto b = policy_test_pool(8);
  random_policy p1({.seed = 42});
  random_policy p2({.seed = 42});
  for (auto& x : b) p1.add(*x, {}), p2.add(*x, {});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(p1.pick({}), p2.pick({}));
}

TEST(random_policy, spreads_about_evenly) {
  auto b = policy_test_pool(4);
  random_policy p({.seed = 7});
  for (auto& x : b) p.add(*x, {});
  std::map<backend*, int> count;
  for (int i = 0; i < 40000; ++i) ++count[p.pick({})];
  ASSERT_EQ(count.size(), 4u);
  for (const auto& [target, n] : count) {
    EXPECT_GT(n, 9000);
    EXPECT_LT(n, 11000);
  }
}

TEST(random_policy, never_repeats_a_tried_backend_while_another_exists) {
  auto b = policy_test_pool(3);
  random_policy p({.seed = 3});
  EXPECT_EQ(p.pick({}), nullptr);
  for (auto& x : b) p.add(*x, {});
  const std::vector<backend_id> tried{1, 3};
  for (int i = 0; i < 50; ++i) EXPECT_EQ(p.pick({.tried = tried}), b[1].get());
  p.remove(*b[1]);
  for (int i = 0; i < 50; ++i) EXPECT_NE(p.pick({.tried = tried}), nullptr);  // all tried: any again
}

}  // namespace
}  // namespace pd_proxy
