#include "pd_proxy/core/scheduling/scheduler.hpp"

#include <gtest/gtest.h>

#include <random>

#include "pd_proxy/core/scheduling/least_loaded_policy.hpp"
#include "pd_proxy/core/flow/request_rewrite.hpp"

#include <set>

namespace pd_proxy {
namespace {

scheduler make(std::size_t p, std::size_t d) {
  return scheduler(p, d, make_policy("least-loaded"), make_policy("least-loaded"));
}

TEST(scheduler, idle_cluster_spreads_consecutive_requests_over_all_instances) {
  auto s = make(8, 64);
  std::vector<int> prefill_hits(8), decode_hits(64);
  for (int i = 0; i < 64; ++i) {
    auto p = s.reserve_prefill(150);
    auto d = s.reserve_decode(1000);
    ++prefill_hits[p->index()];
    ++decode_hits[d->index()];
  }  // each request finishes before the next arrives: the cluster is idle at every pick
  for (int h : prefill_hits) EXPECT_EQ(h, 8);
  for (int h : decode_hits) EXPECT_EQ(h, 1);
}

TEST(scheduler, reference_worked_example) {
  // reference-proxy-spec §5.1: 2 prefillers, 2 decoders.
  auto s = make(2, 2);
  auto r1p = s.reserve_prefill(137.3245);  // R1, 2000 B
  EXPECT_EQ(r1p->index(), 0u);
  auto r2p = s.reserve_prefill(128.7);  // R2 arrives during R1's prefill: P1 is idle
  EXPECT_EQ(r2p->index(), 1u);
  r1p->prefill_finished();
  auto r1d = s.reserve_decode(2000);
  r2p->prefill_finished();
  auto r2d = s.reserve_decode(1000);
  EXPECT_NE(r1d->index(), r2d->index());
  // P0 holds 0.3*137.3 KV, P1 0.3*128.7: R3 goes to P1.
  auto r3p = s.reserve_prefill(124.387);
  EXPECT_EQ(r3p->index(), 1u);
  const auto loads = s.snapshot(backend_role::prefill);
  EXPECT_DOUBLE_EQ(loads[0].active_kv, 137.3245);
  EXPECT_DOUBLE_EQ(loads[0].active_tokens, 0);
  EXPECT_DOUBLE_EQ(loads[1].active_tokens, 124.387);
}

TEST(scheduler, least_loaded_picks_the_minimum) {
  auto s = make(1, 4);
  auto a = s.reserve_decode(500);
  auto b = s.reserve_decode(100);
  auto c = s.reserve_decode(300);
  auto d = s.reserve_decode(50);  // the fourth, idle one
  std::set<std::size_t> used{a->index(), b->index(), c->index(), d->index()};
  EXPECT_EQ(used.size(), 4u);
  auto e = s.reserve_decode(1);
  EXPECT_EQ(e->index(), d->index());  // 50 is the least
}

TEST(scheduler, excluded_backends_are_avoided_while_another_exists) {
  auto s = make(3, 1);
  std::vector<bool> excluded{true, false, true};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(s.reserve_prefill(1, excluded)->index(), 1u);
  std::vector<bool> all{true, true, true};
  EXPECT_TRUE(s.reserve_prefill(1, all).has_value());  // everything tried: any backend is allowed again
}

TEST(scheduler, empty_pool_yields_nothing) {
  auto s = make(0, 0);
  EXPECT_FALSE(s.reserve_prefill(1));
  EXPECT_FALSE(s.reserve_decode(1));
}

TEST(scheduler, every_path_releases_exactly_once) {
  auto s = make(2, 2);
  {
    auto p = s.reserve_prefill(10);
    p->prefill_finished();
    p->prefill_finished();  // idempotent
    p->release_kv();
    p->release_kv();
  }
  {
    auto p = s.reserve_prefill(10);  // abandoned during prefill (client abort)
    auto moved = std::move(*p);
    prefill_reservation assigned;
    assigned = std::move(moved);
  }
  {
    auto p = s.reserve_prefill(10);
    p->prefill_finished();  // decode failed before the first chunk: KV released by the destructor
  }
  {
    auto d = s.reserve_decode(77);
    d->release();
  }
  { auto d = s.reserve_decode(77); }
  for (auto role : {backend_role::prefill, backend_role::decode}) {
    for (const auto& load : s.snapshot(role)) {
      EXPECT_EQ(load.active_tokens, 0.0);
      EXPECT_EQ(load.active_kv, 0.0);
      EXPECT_EQ(load.inflight, 0u);
    }
  }
}

TEST(scheduler, random_interleavings_return_to_zero) {
  auto s = make(8, 64);
  std::mt19937 rng(7);
  std::vector<prefill_reservation> prefills;
  std::vector<decode_reservation> decodes;
  for (int step = 0; step < 20000; ++step) {
    const auto op = rng() % 5;
    if (op == 0 || prefills.empty()) {
      prefills.push_back(*s.reserve_prefill(prefill_score(rng() % 100000)));
    } else if (op == 1) {
      prefills[rng() % prefills.size()].prefill_finished();
    } else if (op == 2) {
      prefills[rng() % prefills.size()].release_kv();
    } else if (op == 3) {
      decodes.push_back(*s.reserve_decode(rng() % 100000));
    } else {
      const auto i = rng() % prefills.size();
      prefills.erase(prefills.begin() + static_cast<long>(i));
      if (!decodes.empty()) decodes.erase(decodes.begin() + static_cast<long>(rng() % decodes.size()));
    }
  }
  prefills.clear();
  decodes.clear();
  for (auto role : {backend_role::prefill, backend_role::decode}) {
    for (const auto& load : s.snapshot(role)) {
      EXPECT_EQ(load.active_tokens, 0.0);
      EXPECT_EQ(load.active_kv, 0.0);
      EXPECT_EQ(load.inflight, 0u);
    }
  }
}

TEST(scheduler, unknown_policy_name) { EXPECT_EQ(make_policy("nope"), nullptr); }

}  // namespace
}  // namespace pd_proxy
