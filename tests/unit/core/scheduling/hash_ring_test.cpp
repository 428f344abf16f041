#include "pd_proxy/core/scheduling/hash_ring.hpp"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "pd_proxy/core/scheduling/request_context_of.hpp"
#include "policy_test_pool.hpp"

namespace pd_proxy {
namespace {

backend* owner(const hash_ring& ring, std::uint64_t key) {
  return ring.walk(key, [](backend&) { return true; });
}

TEST(hash_ring, an_empty_ring_has_no_owner) {
  hash_ring ring;
  EXPECT_EQ(owner(ring, 123), nullptr);
}

TEST(hash_ring, owners_depend_on_addresses_not_on_the_order_of_adding) {
  auto b = policy_test_pool(8);
  hash_ring forward, backward;
  for (auto& x : b) forward.add(*x);
  for (auto it = b.rbegin(); it != b.rend(); ++it) backward.add(**it);
  forward.add(*b[0]);  // a second add changes nothing
  EXPECT_EQ(forward.points(), 8 * hash_ring::points_per_backend);
  for (std::uint64_t k = 1; k < 2000; ++k) {
    const auto key = affinity_hash(std::to_string(k));
    EXPECT_EQ(owner(forward, key), owner(backward, key));
  }
}

TEST(hash_ring, keys_spread_evenly_and_only_a_removed_backends_keys_move) {
  auto b = policy_test_pool(8);
  hash_ring ring;
  for (auto& x : b) ring.add(*x);
  std::map<backend*, int> share;
  std::vector<backend*> before;
  for (int k = 0; k < 16000; ++k) {
    before.push_back(owner(ring, affinity_hash("key" + std::to_string(k))));
    ++share[before.back()];
  }
  for (const auto& [target, n] : share) {
    EXPECT_GT(n, 2000 / 2) << target->authority();
    EXPECT_LT(n, 2000 * 3 / 2) << target->authority();
  }
  ring.remove(*b[3]);
  for (int k = 0; k < 16000; ++k) {
    backend* now = owner(ring, affinity_hash("key" + std::to_string(k)));
    EXPECT_NE(now, b[3].get());
    if (before[k] != b[3].get()) {
      EXPECT_EQ(now, before[k]);
    }
  }
  ring.add(*b[3]);  // it comes back: its keys return to it
  for (int k = 0; k < 16000; ++k) EXPECT_EQ(owner(ring, affinity_hash("key" + std::to_string(k))), before[k]);
}

TEST(hash_ring, a_walk_offers_each_backend_after_the_owner_and_stops_after_one_lap) {
  auto b = policy_test_pool(3);
  hash_ring ring;
  for (auto& x : b) ring.add(*x);
  std::map<backend*, int> offered;
  EXPECT_EQ(ring.walk(77,
                      [&](backend& x) {
                        ++offered[&x];
                        return false;
                      }),
            nullptr);
  EXPECT_EQ(offered.size(), 3u);
  backend* first = owner(ring, 77);
  backend* second = ring.walk(77, [&](backend& x) { return &x != first; });
  EXPECT_NE(second, nullptr);
  EXPECT_NE(second, first);
}

}  // namespace
}  // namespace pd_proxy
