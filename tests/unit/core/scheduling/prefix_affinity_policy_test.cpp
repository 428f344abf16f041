#include "pd_proxy/core/scheduling/prefix_affinity_policy.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "pd_proxy/core/scheduling/request_context_of.hpp"
#include "pd_proxy/core/scheduling/session_affinity_policy.hpp"
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
  for (auto& x : b) p.add(*x, tokens_load(10));
  const auto request = with_prefix("hot");
  backend* owner = p.pick(request);
  // Mean = (40 + 10) / 4 = 12.5, bound 15.6: the owner at 20 is above it.
  p.load_changed(*owner, tokens_load(20));
  backend* spill = p.pick(request);
  EXPECT_NE(spill, owner);
  EXPECT_EQ(p.pick(request), spill);  // the same spill target every time: it caches the prefix too
  EXPECT_EQ(p.passed_over(), 2u);
  // Within the bound the owner keeps its keys: mean (13 + 30) / 4 = 10.75, x 1.25 = 13.44 >= 13.
  p.load_changed(*owner, tokens_load(13));
  EXPECT_EQ(p.pick(request), owner);
}

TEST(prefix_affinity_policy, no_backend_ends_above_the_bound_under_a_single_hot_prefix) {
  // Every request has the same prefix and holds its load: the owner takes them until it is above the bound,
  // then the next on the ring, and so on. The bound is checked before each pick, so each backend ends at
  // most one request above factor x the mean.
  auto b = policy_test_pool(8);
  prefix_affinity_policy p({.affinity_load_factor = 1.25});
  std::map<backend*, int> held;
  for (auto& x : b) p.add(*x, {});
  for (int i = 0; i < 800; ++i) {
    backend* chosen = p.pick(with_prefix("hot"));
    ++held[chosen];
    p.load_changed(*chosen, tokens_load(held[chosen]));
  }
  for (const auto& [target, n] : held) EXPECT_LE(n, 1.25 * 100 + 1) << target->authority();
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

TEST(session_affinity_policy, routes_by_the_session_key_and_falls_back_to_the_prefix) {
  auto b = policy_test_pool(8);
  session_affinity_policy session(policy_settings{});
  prefix_affinity_policy prefix({});
  for (auto& x : b) session.add(*x, {}), prefix.add(*x, {});
  // A session's turns have different prefixes, one backend.
  const std::uint64_t s = affinity_hash("conversation-17");
  backend* home = session.pick({.prefix_key = affinity_hash("turn 0"), .session_key = s});
  for (int turn = 1; turn < 10; ++turn)
    EXPECT_EQ(session.pick({.prefix_key = affinity_hash("turn " + std::to_string(turn)), .session_key = s}),
              home);
  // No session: as prefix-affinity.
  for (int k = 0; k < 50; ++k)
    EXPECT_EQ(session.pick(with_prefix(std::to_string(k))), prefix.pick(with_prefix(std::to_string(k))));
}

}  // namespace
}  // namespace pd_proxy
