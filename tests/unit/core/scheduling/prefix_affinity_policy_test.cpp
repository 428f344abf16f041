#include "pd_proxy/core/scheduling/prefix_affinity_policy.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "pd_proxy/core/scheduling/affinity_hash.hpp"
#include "policy_test_pool.hpp"

namespace pd_proxy {
namespace {

request_context with_prefix(const std::string& text) {
  return {.prefix_key = affinity_hash(text)};
}

TEST(prefix_affinity_policy, the_same_prefix_goes_to_the_same_backend_while_loads_are_even) {
  auto b = policy_test_pool(8);
  prefix_affinity_policy p({});
  EXPECT_EQ(p.pick(with_prefix("x")), nullptr);
  for (auto& x : b) p.add(*x, {});
  std::set<backend*> owners;
  for (int k = 0; k < 64; ++k) {
    backend* first = p.pick(with_prefix("system prompt " + std::to_string(k)));
    for (int again = 0; again < 5; ++again)
      EXPECT_EQ(p.pick(with_prefix("system prompt " + std::to_string(k))), first);
    owners.insert(first);
  }
  EXPECT_GE(owners.size(), 6u);  // 64 prefixes spread over the pool
  EXPECT_EQ(p.passed_over(), 0u);
  EXPECT_EQ(p.keyed_picks(), 64u * 6);
}

TEST(prefix_affinity_policy, two_policies_with_the_same_backends_agree) {
  // Two proxy replicas, each its own policy, route a prefix to the same backend (addresses, not order).
  auto b = policy_test_pool(8);
  prefix_affinity_policy one({}), two({});
  for (auto& x : b) one.add(*x, {});
  for (auto it = b.rbegin(); it != b.rend(); ++it) two.add(**it, {});
  for (int k = 0; k < 100; ++k)
    EXPECT_EQ(one.pick(with_prefix(std::to_string(k))), two.pick(with_prefix(std::to_string(k))));
}

TEST(prefix_affinity_policy, an_owner_above_the_bound_spills_to_the_next_on_the_ring_and_comes_back) {
  auto b = policy_test_pool(4);
  prefix_affinity_policy p({.affinity_load_factor = 1.25});
  for (auto& x : b) p.add(*x, tokens_load(10, 1));
  const auto request = with_prefix("hot");
  backend* owner = p.pick(request);
  // 3 in flight on the owner, 1 on each other: mean 1.5; 3 > 1.25 x 1.5 and 3 > 1.5 + 1.
  p.load_changed(*owner, tokens_load(30, 3));
  backend* spill = p.pick(request);
  EXPECT_NE(spill, owner);
  EXPECT_EQ(p.pick(request), spill);  // the same spill target every time: it caches the prefix too
  EXPECT_EQ(p.passed_over(), 2u);
  // 2 in flight: mean 1.25; 2 > 1.5625 but not > 2.25 (the slack of one request): the owner keeps its key.
  p.load_changed(*owner, tokens_load(20, 2));
  EXPECT_EQ(p.pick(request), owner);
}

TEST(prefix_affinity_policy, a_single_request_in_flight_does_not_move_a_key) {
  // Low concurrency: without the slack, one request on the owner would be above 1.25 x the mean (1/8).
  auto b = policy_test_pool(8);
  prefix_affinity_policy p({.affinity_load_factor = 1.25});
  for (auto& x : b) p.add(*x, {});
  backend* owner = p.pick(with_prefix("p"));
  p.load_changed(*owner, tokens_load(10, 1));
  EXPECT_EQ(p.pick(with_prefix("p")), owner);
  EXPECT_EQ(p.passed_over(), 0u);
}

TEST(prefix_affinity_policy, no_backend_ends_above_the_bound_under_a_single_hot_prefix) {
  // Every request has the same prefix and stays in flight: the owner takes them until it is above the
  // bound, then the next on the ring, and so on. The bound is checked before each pick, so no backend ends
  // more than one request above max(factor x mean, mean + slack).
  auto b = policy_test_pool(8);
  prefix_affinity_policy p({.affinity_load_factor = 1.25});
  std::map<backend*, std::uint32_t> held;
  for (auto& x : b) p.add(*x, {});
  for (int i = 0; i < 800; ++i) {
    backend* chosen = p.pick(with_prefix("hot"));
    ++held[chosen];
    p.load_changed(*chosen, tokens_load(held[chosen], held[chosen]));
  }
  EXPECT_EQ(held.size(), 8u);
  for (const auto& [target, n] : held) EXPECT_LE(n, 1.25 * 100 + 1) << target->authority();
}

TEST(prefix_affinity_policy, a_walk_gives_up_after_a_bounded_number_of_refusals) {
  // Every backend but one tried: the walk passes over at most max_refusals backends, then least-loaded
  // (which knows the tried set) decides.
  auto b = policy_test_pool(64);
  prefix_affinity_policy p({});
  for (auto& x : b) p.add(*x, {});
  std::vector<backend_id> tried;
  for (backend_id id = 1; id <= 63; ++id) tried.push_back(id);
  for (int k = 0; k < 20; ++k)
    EXPECT_EQ(p.pick({.tried = tried, .prefix_key = affinity_hash(std::to_string(k))}), b[63].get());
}

TEST(prefix_affinity_policy, tried_backends_are_passed_over_and_keyless_requests_go_least_loaded) {
  auto b = policy_test_pool(3);
  prefix_affinity_policy p({});
  for (auto& x : b) p.add(*x, {});
  const auto request = with_prefix("p");
  backend* owner = p.pick(request);
  const std::vector<backend_id> tried{owner->id()};
  backend* retry = p.pick({.tried = tried, .prefix_key = request.prefix_key});
  EXPECT_NE(retry, owner);
  const std::vector<backend_id> all{1, 2, 3};
  EXPECT_NE(p.pick({.tried = all, .prefix_key = request.prefix_key}), nullptr);
  // No key: the least loaded.
  p.load_changed(*b[0], tokens_load(5));
  p.load_changed(*b[2], tokens_load(5));
  EXPECT_EQ(p.pick({}), b[1].get());
  p.remove(*b[1]);
  for (int i = 0; i < 20; ++i) EXPECT_NE(p.pick(with_prefix(std::to_string(i))), b[1].get());
}

}  // namespace
}  // namespace pd_proxy
