#include "pd_proxy/core/scheduling/least_loaded_policy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

#include "pd_proxy/core/flow/request_rewrite.hpp"
#include "pd_proxy/core/scheduling/scheduler.hpp"

namespace pd_proxy {
namespace {

std::vector<std::unique_ptr<backend>> make_backends(std::size_t n, backend_role role = backend_role::decode) {
  std::vector<std::unique_ptr<backend>> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(std::make_unique<backend>(i + 1, role, backend_address{"h", 9000}));
  return out;
}

fixed_load tokens(double t, double kv = 0) {
  return {fixed_load::units(t), fixed_load::units(kv), 0};
}

TEST(least_loaded_policy, no_candidate_yields_null) {
  least_loaded_policy p;
  EXPECT_EQ(p.pick({}), nullptr);
  auto b = make_backends(1);
  p.add(*b[0], {});
  p.remove(*b[0]);
  EXPECT_EQ(p.pick({}), nullptr);
}

TEST(least_loaded_policy, key_is_exactly_ten_times_the_priority) {
  // 0.3 tokens and 1 token of KV have the same priority, so they tie exactly.
  EXPECT_EQ(least_loaded_policy::key(tokens(0.3)), least_loaded_policy::key(tokens(0, 1)));
  EXPECT_EQ(least_loaded_policy::key(tokens(2.5, 10)), 10 * 5'500'000);
  EXPECT_DOUBLE_EQ(least_loaded_policy::priority({2.5, 10, 1}), 5.5);
}

TEST(least_loaded_policy, ties_rotate_in_pool_order_from_the_cursor) {
  least_loaded_policy p;
  auto b = make_backends(4);
  p.add(*b[0], tokens(0.3));
  p.add(*b[1], tokens(5));
  p.add(*b[2], tokens(0, 1));
  p.add(*b[3], tokens(0.3));
  // 0, 2 and 3 tie; the cursor advances past every pick and wraps around.
  EXPECT_EQ(p.pick({}), b[0].get());
  EXPECT_EQ(p.pick({}), b[2].get());
  EXPECT_EQ(p.pick({}), b[3].get());
  EXPECT_EQ(p.pick({}), b[0].get());
  p.load_changed(*b[1], tokens(0));  // now the least
  EXPECT_EQ(p.pick({}), b[1].get());
  EXPECT_EQ(p.pick({}), b[1].get());
}

TEST(least_loaded_policy, tied_cluster_keeps_exact_round_robin_after_many_cycles) {
  // Fractional scores reserved and released in random order must leave no residue: afterwards all
  // backends tie exactly and consecutive picks visit every one in pool order.
  scheduler s(make_policy("least-loaded"), make_policy("least-loaded"));
  std::vector<std::shared_ptr<backend>> pool;
  for (backend_id id = 1; id <= 7; ++id) {
    pool.push_back(std::make_shared<backend>(id, backend_role::prefill, backend_address{"h", 9000}));
    s.add(pool.back());
  }
  std::mt19937 rng(11);
  std::vector<leg_reservation> held;
  for (int step = 0; step < 50000; ++step) {
    if (held.empty() || rng() % 3 != 0) {
      held.push_back(*s.reserve_prefill(prefill_score(rng() % 7777) / 3.0 + 0.1));
      if (rng() % 2 == 0) held.back().release(leg_hold::tokens);
    } else {
      const auto i = rng() % held.size();
      std::swap(held[i], held.back());
      held.pop_back();
    }
  }
  held.clear();
  std::size_t first = 0;
  for (std::size_t i = 0; i < pool.size(); ++i) {
    const auto load = s.load(*pool[i]);
    EXPECT_EQ(load.active_tokens, 0.0);
    EXPECT_EQ(load.active_kv, 0.0);
  }
  {
    auto r = s.reserve_prefill(1);
    first = static_cast<std::size_t>(r->target().id() - 1);
  }
  for (std::size_t i = 1; i < 3 * pool.size(); ++i) {
    auto r = s.reserve_prefill(1);
    EXPECT_EQ(r->shared(), pool[(first + i) % pool.size()]) << i;
  }
}

// Today's O(n) scan (before the index), on exact keys: the first least key at or after the cursor, skipping
// tried positions unless all are tried; the cursor moves past the pick.
std::size_t reference_pick(const std::vector<std::int64_t>& keys, const std::vector<bool>& tried,
                           std::size_t& cursor) {
  const std::size_t n = keys.size();
  const bool all_tried = std::find(tried.begin(), tried.end(), false) == tried.end();
  std::size_t best = n;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (cursor + k) % n;
    if (!all_tried && tried[i]) continue;
    if (best == n || keys[i] < keys[best]) best = i;
  }
  cursor = (best + 1) % n;
  return best;
}

TEST(least_loaded_policy, chooses_exactly_as_the_linear_scan) {
  constexpr std::size_t n = 37;
  least_loaded_policy p;
  auto b = make_backends(n);
  std::vector<fixed_load> loads(n);
  std::vector<std::int64_t> keys(n, 0);
  for (auto& x : b) p.add(*x, {});
  std::mt19937 rng(3);
  std::size_t cursor = 0;
  for (int step = 0; step < 20000; ++step) {
    const std::size_t i = rng() % n;
    // Few distinct loads, so ties are frequent; tokens and KV mixed (3 tokens of KV = 0.9 tokens).
    loads[i] =
        rng() % 2 ? tokens(static_cast<double>(rng() % 4) * 0.3) : tokens(0, static_cast<double>(rng() % 4));
    keys[i] = least_loaded_policy::key(loads[i]);
    p.load_changed(*b[i], loads[i]);
    std::vector<bool> tried(n, false);
    std::vector<backend_id> tried_ids;
    const std::size_t k = step % 5 == 4 ? n : rng() % 4;  // sometimes everything was tried
    for (std::size_t j = 0; j < k; ++j) {
      const std::size_t t = k == n ? j : rng() % n;
      if (!tried[t]) tried_ids.push_back(b[t]->id());
      tried[t] = true;
    }
    const std::size_t expected = reference_pick(keys, tried, cursor);
    ASSERT_EQ(p.pick({.tried = tried_ids}), b[expected].get()) << step;
  }
}

TEST(least_loaded_policy, tried_backends_cost_o_k_visits_among_1024) {
  least_loaded_policy p;
  auto b = make_backends(1024);
  for (std::size_t i = 0; i < b.size(); ++i) p.add(*b[i], tokens(static_cast<double>(i)));
  // The k least loaded were tried: the (k+1)-th least is picked after O(k) visits, not O(n).
  for (std::size_t k : {0u, 1u, 3u, 16u, 100u}) {
    std::vector<backend_id> tried;
    for (std::size_t i = 0; i < k; ++i) tried.push_back(b[i]->id());
    EXPECT_EQ(p.pick({.tried = tried}), b[k].get());
    EXPECT_LE(p.last_pick_visits(), 3 + 2 * k) << k;
  }
  // Idle cluster: the tried ones are the next k after the cursor.
  least_loaded_policy idle;
  for (auto& x : b) idle.add(*x, {});
  for (std::size_t i = 0; i < 500; ++i) EXPECT_EQ(idle.pick({}), b[i].get());  // cursor now at 500
  std::vector<backend_id> tried;
  for (std::size_t i = 500; i < 510; ++i) tried.push_back(b[i]->id());
  tried.push_back(b[3]->id());  // tried elsewhere: irrelevant
  EXPECT_EQ(idle.pick({.tried = tried}), b[510].get());
  EXPECT_LE(idle.last_pick_visits(), 3 + 2 * tried.size());
  EXPECT_EQ(idle.pick({}), b[511].get());
}

TEST(least_loaded_policy, every_candidate_tried_allows_any) {
  least_loaded_policy p;
  auto b = make_backends(3);
  p.add(*b[0], tokens(3));
  p.add(*b[1], tokens(1));
  p.add(*b[2], tokens(2));
  const std::vector<backend_id> all{1, 2, 3};
  EXPECT_EQ(p.pick({.tried = all}), b[1].get());  // the least loaded, as if none were tried
  const std::vector<backend_id> two{2, 3};
  EXPECT_EQ(p.pick({.tried = two}), b[0].get());  // the only untried one, though the most loaded
}

TEST(least_loaded_policy, wrapping_tie_skips_tried_before_the_cursor) {
  least_loaded_policy p;
  auto b = make_backends(4);
  for (auto& x : b) p.add(*x, {});
  EXPECT_EQ(p.pick({}), b[0].get());
  EXPECT_EQ(p.pick({}), b[1].get());
  EXPECT_EQ(p.pick({}), b[2].get());  // cursor at 3
  const std::vector<backend_id> tried{b[3]->id(), b[0]->id()};
  EXPECT_EQ(p.pick({.tried = tried}), b[1].get());  // 3 tried, wrap: 0 tried, 1
}

}  // namespace
}  // namespace pd_proxy
