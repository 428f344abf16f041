#include "pd_proxy/core/scheduling/round_robin_policy.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "policy_test_pool.hpp"

namespace pd_proxy {
namespace {

TEST(round_robin_policy, visits_candidates_in_pool_order_whatever_their_load) {
  round_robin_policy p;
  EXPECT_EQ(p.pick({}), nullptr);
  auto b = policy_test_pool(3);
  p.add(*b[0], tokens_load(100));
  p.add(*b[1], {});
  p.add(*b[2], tokens_load(5));
  for (int lap = 0; lap < 3; ++lap)
    for (int i = 0; i < 3; ++i) EXPECT_EQ(p.pick({}), b[i].get());
}

TEST(round_robin_policy, skips_tried_backends_until_all_were_tried) {
  round_robin_policy p;
  auto b = policy_test_pool(3);
  for (auto& x : b) p.add(*x, {});
  const std::vector<backend_id> tried{1, 2};
  EXPECT_EQ(p.pick({.tried = tried}), b[2].get());
  const std::vector<backend_id> all{1, 2, 3};
  EXPECT_NE(p.pick({.tried = all}), nullptr);  // every one was tried: any may come again
}

TEST(round_robin_policy, a_removed_candidate_is_never_picked_and_the_turns_go_on) {
  round_robin_policy p;
  auto b = policy_test_pool(4);
  for (auto& x : b) p.add(*x, {});
  EXPECT_EQ(p.pick({}), b[0].get());
  p.remove(*b[1]);
  std::vector<backend*> seen;
  for (int i = 0; i < 6; ++i) seen.push_back(p.pick({}));
  for (backend* x : seen) EXPECT_NE(x, b[1].get());
  EXPECT_EQ(seen[0], b[2].get());
  EXPECT_EQ(seen[1], b[3].get());
  EXPECT_EQ(seen[2], b[0].get());
}

}  // namespace
}  // namespace pd_proxy
