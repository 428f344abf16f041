#include "pd_proxy/core/scheduling/scheduler.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <vector>

#include "expect_no_load.hpp"
#include "pd_proxy/core/backends/registry.hpp"
#include "pd_proxy/core/flow/request_rewrite.hpp"

namespace pd_proxy {
namespace {

// A registry with `p` prefillers and `d` decoders, all added to a least-loaded scheduler.
struct cluster {
  backend_registry registry;
  scheduler sched{make_policy("least-loaded"), make_policy("least-loaded")};
  std::vector<std::shared_ptr<backend>> prefillers, decoders;

  cluster(std::size_t p, std::size_t d) {
    for (std::size_t i = 0; i < p; ++i) prefillers.push_back(add(backend_role::prefill));
    for (std::size_t i = 0; i < d; ++i) decoders.push_back(add(backend_role::decode));
  }
  std::shared_ptr<backend> add(backend_role role) {
    auto b = registry.add(
        role, {"10.0.0.1", static_cast<std::uint16_t>(9000 + registry.snapshot()->of(role).size())});
    sched.add(b);
    return b;
  }
  // The position of `b` in its pool, in add order.
  std::size_t position(const backend& b) const {
    const auto& pool = b.role() == backend_role::prefill ? prefillers : decoders;
    for (std::size_t i = 0; i < pool.size(); ++i)
      if (pool[i].get() == &b) return i;
    return pool.size();
  }
  void expect_idle() const {
    for (const auto* pool : {&prefillers, &decoders}) {
      for (const auto& b : *pool) expect_no_load(sched, *b);
    }
  }
};

TEST(scheduler, idle_cluster_spreads_consecutive_requests_over_all_instances) {
  cluster c(8, 64);
  std::vector<int> prefill_hits(8), decode_hits(64);
  for (int i = 0; i < 64; ++i) {
    auto p = c.sched.reserve_prefill(150);
    auto d = c.sched.reserve_decode(1000);
    ++prefill_hits[c.position(p->target())];
    ++decode_hits[c.position(d->target())];
  }  // each request finishes before the next arrives: the cluster is idle at every pick
  for (int h : prefill_hits) EXPECT_EQ(h, 8);
  for (int h : decode_hits) EXPECT_EQ(h, 1);
}

TEST(scheduler, reference_worked_example) {
  // reference-proxy-spec §5.1: 2 prefillers, 2 decoders.
  cluster c(2, 2);
  auto& s = c.sched;
  auto r1p = s.reserve_prefill(137.3245);  // R1, 2000 B
  EXPECT_EQ(&r1p->target(), c.prefillers[0].get());
  auto r2p = s.reserve_prefill(128.7);  // R2 arrives during R1's prefill: P1 is idle
  EXPECT_EQ(&r2p->target(), c.prefillers[1].get());
  r1p->release(leg_hold::tokens);
  auto r1d = s.reserve_decode(2000);
  r2p->release(leg_hold::tokens);
  auto r2d = s.reserve_decode(1000);
  EXPECT_NE(&r1d->target(), &r2d->target());
  // P0 holds 0.3*137.3 KV, P1 0.3*128.7: R3 goes to P1.
  auto r3p = s.reserve_prefill(124.387);
  EXPECT_EQ(&r3p->target(), c.prefillers[1].get());
  const auto p0 = s.load(*c.prefillers[0]);
  const auto p1 = s.load(*c.prefillers[1]);
  EXPECT_DOUBLE_EQ(p0.active_kv, 137.3245);
  EXPECT_DOUBLE_EQ(p0.active_tokens, 0);
  EXPECT_DOUBLE_EQ(p1.active_tokens, 124.387);
}

TEST(scheduler, least_loaded_picks_the_minimum) {
  cluster c(1, 4);
  auto& s = c.sched;
  auto a = s.reserve_decode(500);
  auto b = s.reserve_decode(100);
  auto d3 = s.reserve_decode(300);
  auto d = s.reserve_decode(50);  // the fourth, idle one
  std::set<const backend*> used{&a->target(), &b->target(), &d3->target(), &d->target()};
  EXPECT_EQ(used.size(), 4u);
  auto e = s.reserve_decode(1);
  EXPECT_EQ(&e->target(), &d->target());  // 50 is the least
}

TEST(scheduler, tried_backends_are_avoided_while_another_exists) {
  cluster c(3, 1);
  const std::vector<backend_id> tried{c.prefillers[0]->id(), c.prefillers[2]->id()};
  std::vector<leg_reservation> held;  // P1 gets loaded, yet stays the only untried one
  for (int i = 0; i < 5; ++i) {
    held.push_back(*c.sched.reserve_prefill(1, {.tried = tried}));
    EXPECT_EQ(&held.back().target(), c.prefillers[1].get());
  }
  const std::vector<backend_id> all{c.prefillers[0]->id(), c.prefillers[1]->id(), c.prefillers[2]->id()};
  auto again = c.sched.reserve_prefill(1, {.tried = all});  // everything tried: any backend is allowed again
  ASSERT_TRUE(again.has_value());
  EXPECT_NE(&again->target(), c.prefillers[1].get());  // ...and the least loaded wins
}

TEST(scheduler, empty_pool_yields_nothing) {
  cluster c(0, 0);
  EXPECT_FALSE(c.sched.reserve_prefill(1));
  EXPECT_FALSE(c.sched.reserve_decode(1));
  EXPECT_EQ(c.sched.size(backend_role::prefill), 0u);
}

TEST(scheduler, every_path_releases_exactly_once) {
  cluster c(2, 2);
  auto& s = c.sched;
  {
    auto p = s.reserve_prefill(10);
    EXPECT_TRUE(p->active());
    p->release(leg_hold::tokens);
    p->release(leg_hold::tokens);  // idempotent
    EXPECT_TRUE(p->active());      // the KV is still held
    p->release(leg_hold::kv);
    p->release(leg_hold::kv);
    EXPECT_FALSE(p->active());
  }
  {
    auto p = s.reserve_prefill(10);  // abandoned during prefill (client abort)
    auto moved = std::move(*p);
    EXPECT_FALSE(p->active());
    EXPECT_EQ(p->shared(), nullptr);
    leg_reservation assigned;
    assigned = std::move(moved);
    auto other = s.reserve_prefill(10);
    assigned = std::move(*other);  // releases what `assigned` held, takes the other's
  }
  {
    auto p = s.reserve_prefill(10);
    p->release(leg_hold::tokens);  // decode failed before the first chunk: KV released by the destructor
  }
  {
    auto d = s.reserve_decode(77);
    d->release(leg_hold::all);
    EXPECT_FALSE(d->active());
  }
  { auto d = s.reserve_decode(77); }
  {
    auto d = s.reserve_decode(77);
    leg_reservation assigned;
    assigned = std::move(*d);
    auto other = s.reserve_decode(5);
    assigned = std::move(*other);
  }
  c.expect_idle();
}

TEST(scheduler, random_interleavings_return_to_zero) {
  cluster c(8, 64);
  auto& s = c.sched;
  std::mt19937 rng(7);
  std::vector<leg_reservation> prefills;
  std::vector<leg_reservation> decodes;
  for (int step = 0; step < 20000; ++step) {
    const auto op = rng() % 5;
    if (op == 0 || prefills.empty()) {
      prefills.push_back(*s.reserve_prefill(prefill_score(rng() % 100000)));
    } else if (op == 1) {
      prefills[rng() % prefills.size()].release(leg_hold::tokens);
    } else if (op == 2) {
      prefills[rng() % prefills.size()].release(leg_hold::kv);
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
  c.expect_idle();
}

TEST(scheduler, removed_backend_is_not_picked_and_its_load_is_released_against_it) {
  cluster c(1, 1);
  auto a = c.decoders[0];
  auto held = c.sched.reserve_decode(100);
  ASSERT_EQ(held->shared(), a);
  c.sched.remove(*a);
  c.registry.remove(a->id());
  EXPECT_EQ(c.sched.size(backend_role::decode), 0u);
  EXPECT_FALSE(c.sched.reserve_decode(1));  // no candidate left
  auto b = c.add(backend_role::decode);
  auto on_b = c.sched.reserve_decode(7);
  ASSERT_EQ(on_b->shared(), b);
  EXPECT_DOUBLE_EQ(c.sched.load(*a).active_tokens, 100);
  held->release(leg_hold::all);
  const auto a_load = c.sched.load(*a);
  EXPECT_EQ(a_load.active_tokens, 0.0);
  EXPECT_EQ(a_load.inflight, 0u);
  const auto b_load = c.sched.load(*b);
  EXPECT_DOUBLE_EQ(b_load.active_tokens, 7);
  EXPECT_EQ(b_load.inflight, 1u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c.sched.reserve_decode(1)->shared(), b);  // A stays out
}

TEST(scheduler, removed_backend_outlives_registry_and_scheduler_references) {
  cluster c(2, 1);
  std::weak_ptr<backend> watch = c.prefillers[0];
  auto held = c.sched.reserve_prefill(50);
  ASSERT_EQ(held->shared(), c.prefillers[0]);
  c.sched.remove(*c.prefillers[0]);
  c.registry.remove(c.prefillers[0]->id());
  c.prefillers.erase(c.prefillers.begin());
  EXPECT_FALSE(watch.expired());  // the reservation still holds it
  held->release(leg_hold::all);
  EXPECT_EQ(c.sched.load(held->target()).active_kv, 0.0);
  held.reset();
  EXPECT_TRUE(watch.expired());
}

TEST(scheduler, add_and_remove_are_idempotent) {
  cluster c(1, 0);
  c.sched.add(c.prefillers[0]);
  c.sched.add(nullptr);
  EXPECT_EQ(c.sched.size(backend_role::prefill), 1u);
  c.sched.remove(*c.prefillers[0]);
  c.sched.remove(*c.prefillers[0]);
  EXPECT_EQ(c.sched.size(backend_role::prefill), 0u);
}

// Remembers what the scheduler told it; picks the candidate added last.
class recording_policy final : public selection_policy {
 public:
  std::map<backend_id, fixed_load> loads;
  std::map<backend_id, engine_load> reported;
  std::vector<backend*> order;
  void add(backend& b, const fixed_load& load) override {
    loads[b.id()] = load;
    order.push_back(&b);
  }
  void remove(backend& b) override {
    loads.erase(b.id());
    std::erase(order, &b);
  }
  void load_changed(backend& b, const fixed_load& load) override { loads[b.id()] = load; }
  void load_reported(backend& b, const engine_load& load) override { reported[b.id()] = load; }
  backend* pick(const request_context&) override { return order.empty() ? nullptr : order.back(); }
};

TEST(scheduler, a_new_policy_gets_every_candidate_with_its_load_and_picks_from_then_on) {
  cluster c(0, 3);
  auto held = c.sched.reserve_decode(100);  // on decoders[0], the least loaded first
  ASSERT_EQ(held->shared(), c.decoders[0]);
  c.sched.remove(*c.decoders[2]);
  auto fresh = std::make_unique<recording_policy>();
  recording_policy& policy = *fresh;
  c.sched.set_policy(backend_role::decode, std::move(fresh));
  c.sched.set_policy(backend_role::decode, nullptr);  // ignored
  ASSERT_EQ(policy.loads.size(), 2u);                 // the removed one is not a candidate
  EXPECT_EQ(policy.loads.at(c.decoders[0]->id()).inflight, 1u);
  EXPECT_EQ(policy.loads.at(c.decoders[1]->id()).inflight, 0u);
  auto picked = c.sched.reserve_decode(1);
  ASSERT_TRUE(picked);
  EXPECT_EQ(&picked->target(), policy.order.back());
  picked->release(leg_hold::all);
  held->release(leg_hold::all);  // a reservation made under the old policy is released through the new one
  EXPECT_EQ(policy.loads.at(c.decoders[0]->id()).inflight, 0u);
  EXPECT_EQ(policy.loads.at(c.decoders[1]->id()).inflight, 0u);
  c.expect_idle();
}

TEST(scheduler, an_engines_reported_load_reaches_its_roles_policy_and_a_new_policy_gets_the_last_one) {
  cluster c(1, 2);
  auto fresh = std::make_unique<recording_policy>();
  recording_policy& decode_policy = *fresh;
  c.sched.set_policy(backend_role::decode, std::move(fresh));
  EXPECT_TRUE(c.sched.report_load(c.decoders[1]->id(), {.running = 3, .waiting = 7, .kv_cache_usage = 0.5}));
  ASSERT_EQ(decode_policy.reported.count(c.decoders[1]->id()), 1u);
  EXPECT_EQ(decode_policy.reported.at(c.decoders[1]->id()).waiting, 7);
  EXPECT_EQ(decode_policy.reported.count(c.decoders[0]->id()), 0u);
  EXPECT_TRUE(c.sched.report_load(c.prefillers[0]->id(), {.running = 1}));  // the prefill role's policy
  EXPECT_EQ(decode_policy.reported.size(), 1u);

  auto next = std::make_unique<recording_policy>();
  recording_policy& reloaded = *next;
  c.sched.set_policy(backend_role::decode, std::move(next));  // a reload keeps what engines said
  ASSERT_EQ(reloaded.reported.count(c.decoders[1]->id()), 1u);
  EXPECT_EQ(reloaded.reported.at(c.decoders[1]->id()).running, 3);

  c.sched.remove(*c.decoders[1]);
  EXPECT_FALSE(c.sched.report_load(c.decoders[1]->id(), {.running = 1}));  // not a candidate any more
  EXPECT_FALSE(c.sched.report_load(987654, {}));
}

TEST(scheduler, unknown_policy_name) {
  EXPECT_EQ(make_policy("nope"), nullptr);
}

}  // namespace
}  // namespace pd_proxy
