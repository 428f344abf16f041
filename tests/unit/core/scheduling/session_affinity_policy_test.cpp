#include "pd_proxy/core/scheduling/session_affinity_policy.hpp"

#include <gtest/gtest.h>

#include <string>

#include "pd_proxy/core/scheduling/affinity_hash.hpp"
#include "policy_test_pool.hpp"

namespace pd_proxy {
namespace {

request_context with_prefix(const std::string& text) {
  return {.prefix_key = affinity_hash(text)};
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

TEST(session_affinity_policy, the_load_bound_applies_to_sessions_too) {
  auto b = policy_test_pool(4);
  session_affinity_policy p(policy_settings{.affinity_load_factor = 1.25});
  for (auto& x : b) p.add(*x, tokens_load(1, 1));
  const request_context turn{.session_key = affinity_hash("busy session")};
  backend* home = p.pick(turn);
  p.load_changed(*home, tokens_load(9, 9));  // mean 3: 9 is above 3.75 and 4
  EXPECT_NE(p.pick(turn), home);
  p.load_changed(*home, tokens_load(1, 1));
  EXPECT_EQ(p.pick(turn), home);
}

}  // namespace
}  // namespace pd_proxy
