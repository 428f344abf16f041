#include "pd_proxy/core/backends/registry.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

namespace pd_proxy {
namespace {

backend_address addr(std::uint16_t port) {
  return {"10.0.0.1", port};
}

TEST(backend_registry, starts_empty) {
  backend_registry r;
  const auto set = r.snapshot();
  ASSERT_NE(set, nullptr);
  EXPECT_TRUE(set->prefillers.empty());
  EXPECT_TRUE(set->decoders.empty());
  EXPECT_EQ(r.remove(1), nullptr);
}

TEST(backend_registry, pools_keep_add_order_and_roles) {
  backend_registry r;
  auto p1 = r.add(backend_role::prefill, addr(1));
  auto d1 = r.add(backend_role::decode, addr(2));
  auto p2 = r.add(backend_role::prefill, addr(3));
  const auto set = r.snapshot();
  EXPECT_EQ(set->of(backend_role::prefill), (std::vector<std::shared_ptr<backend>>{p1, p2}));
  EXPECT_EQ(set->of(backend_role::decode), (std::vector<std::shared_ptr<backend>>{d1}));
  EXPECT_EQ(p2->role(), backend_role::prefill);
  EXPECT_EQ(p2->address(), addr(3));
  EXPECT_EQ(p2->authority(), "10.0.0.1:3");
  EXPECT_EQ(p2->health.load(), backend_health::usable);
}

TEST(backend_registry, ids_start_at_one_increase_and_are_never_reused) {
  backend_registry r;
  std::set<backend_id> seen;
  backend_id last = 0;
  for (int round = 0; round < 50; ++round) {
    auto b = r.add(round % 2 ? backend_role::decode : backend_role::prefill,
                   addr(static_cast<std::uint16_t>(round)));
    if (round == 0) {
      EXPECT_EQ(b->id(), 1u);
    }
    EXPECT_GT(b->id(), last);
    last = b->id();
    EXPECT_TRUE(seen.insert(b->id()).second);
    if (round % 3 == 0) {
      EXPECT_EQ(r.remove(b->id()), b);  // removing the newest must not free its id
    }
  }
  EXPECT_EQ(r.remove(last + 1), nullptr);
}

TEST(backend_registry, living_labels_keep_a_removed_backend_until_its_last_holder_lets_it_go) {
  backend_registry r;
  auto kept = r.add(backend_role::decode, addr(1));
  auto held = r.add(backend_role::decode, addr(2));
  const auto gone = r.add(backend_role::prefill, addr(3))->id();
  EXPECT_EQ(r.living_labels(), (std::set<backend_label>{{backend_role::prefill, "10.0.0.1:3"},
                                                        {backend_role::decode, "10.0.0.1:1"},
                                                        {backend_role::decode, "10.0.0.1:2"}}));
  ASSERT_NE(r.remove(held->id()), nullptr);  // a request still holds it
  ASSERT_NE(r.remove(gone), nullptr);        // nobody does
  EXPECT_EQ(r.living_labels(), (std::set<backend_label>{{backend_role::decode, "10.0.0.1:1"},
                                                        {backend_role::decode, "10.0.0.1:2"}}));
  held.reset();  // its last request ended
  EXPECT_EQ(r.living_labels(), (std::set<backend_label>{{backend_role::decode, "10.0.0.1:1"}}));
  // Re-added under the same address: living again; its earlier removal does not hide it.
  auto again = r.add(backend_role::prefill, addr(3));
  EXPECT_EQ(r.living_labels().count({backend_role::prefill, "10.0.0.1:3"}), 1u);
}

TEST(backend_registry, many_removals_leave_no_living_label) {
  backend_registry r;
  for (int i = 0; i < 10000; ++i) ASSERT_NE(r.remove(r.add(backend_role::decode, addr(7))->id()), nullptr);
  EXPECT_TRUE(r.living_labels().empty());
}

TEST(backend_registry, old_snapshot_is_unchanged_by_add_and_remove) {
  backend_registry r;
  auto a = r.add(backend_role::decode, addr(1));
  auto b = r.add(backend_role::decode, addr(2));
  const auto before = r.snapshot();
  auto removed = r.remove(a->id());
  EXPECT_EQ(removed, a);
  EXPECT_EQ(a->health.load(), backend_health::draining);
  EXPECT_EQ(r.remove(a->id()), nullptr);  // already gone
  auto c = r.add(backend_role::decode, addr(3));
  EXPECT_EQ(before->decoders, (std::vector<std::shared_ptr<backend>>{a, b}));
  EXPECT_EQ(r.snapshot()->decoders, (std::vector<std::shared_ptr<backend>>{b, c}));
}

TEST(backend_registry, concurrent_readers_see_consistent_sets_while_a_writer_changes_them) {
  backend_registry r;
  for (std::uint16_t i = 0; i < 4; ++i) r.add(backend_role::prefill, addr(i));
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!done.load()) {
        const auto set = r.snapshot();
        // The writer keeps exactly 4 or 5 prefillers, ids increasing in pool order.
        const auto& pool = set->prefillers;
        if (pool.size() < 4 || pool.size() > 5) ++bad;
        for (std::size_t i = 1; i < pool.size(); ++i)
          if (pool[i - 1]->id() >= pool[i]->id()) ++bad;
      }
    });
  }
  for (int i = 0; i < 2000; ++i) {
    auto added = r.add(backend_role::prefill, addr(static_cast<std::uint16_t>(100 + i % 100)));
    r.remove(r.snapshot()->prefillers.front()->id());
  }
  done.store(true);
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(r.snapshot()->prefillers.size(), 4u);
}

}  // namespace
}  // namespace pd_proxy
