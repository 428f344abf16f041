// A reload's pool change (pool_manager::replace): the added instances come first, the removed ones stay
// routable until the added ones are active or given up, so a role is never left without an instance.
#include <gtest/gtest.h>

#include <algorithm>

#include "pd_proxy/core/pools/pool_manager.hpp"

namespace pd_proxy {
namespace {

using clock = pool_manager::clock;

struct pools {
  backend_registry registry;
  scheduler sched;
  pool_manager manager;

  explicit pools(pool_settings settings = {})
      : sched(make_policy("least-loaded"), make_policy("least-loaded")), manager(registry, sched, settings) {}

  /// The decoders' addresses, as the registry has them.
  std::vector<std::string> decoders() const { return manager.current(backend_role::decode); }

  /// Registers `address` as an active decoder (as a start-up or an earlier probe would).
  void activate(const backend_address& address) {
    const auto added = manager.add(backend_role::decode, {address}, t0);
    ASSERT_EQ(added.waiting.size(), 1u);
    ASSERT_EQ(manager.probe_finished(added.waiting[0].ticket, true, t0), probe_verdict::activated);
  }

  static constexpr clock::time_point t0{};
};

const backend_address old1{"127.0.0.1", 9001}, old2{"127.0.0.1", 9002}, new1{"127.0.0.1", 9101},
    new2{"127.0.0.1", 9102}, third{"127.0.0.1", 9201};
using names = std::vector<std::string>;

TEST(pool_replace, the_old_decoders_stay_routable_until_every_new_one_answered) {
  pools p;
  p.activate(old1);
  p.activate(old2);
  const auto added = p.manager.replace(backend_role::decode, {new1, new2}, {old1, old2}, pools::t0);
  ASSERT_EQ(added.waiting.size(), 2u);
  EXPECT_EQ(p.decoders(), (names{"127.0.0.1:9001", "127.0.0.1:9002"}));
  EXPECT_TRUE(p.sched.reserve_decode(1.0).has_value());  // a request still finds a decoder

  EXPECT_EQ(p.manager.probe_finished(added.waiting[0].ticket, true, pools::t0), probe_verdict::activated);
  EXPECT_EQ(p.decoders(), (names{"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9101"}));

  EXPECT_EQ(p.manager.probe_finished(added.waiting[1].ticket, true, pools::t0), probe_verdict::activated);
  EXPECT_EQ(p.decoders(), (names{"127.0.0.1:9101", "127.0.0.1:9102"}));
  EXPECT_EQ(p.sched.size(backend_role::decode), 2u);
  EXPECT_EQ(p.manager.collect_gone().size(), 2u);  // the old ones held no load: gone at once
}

TEST(pool_replace, the_old_decoders_retire_when_the_new_ones_probes_give_up) {
  pools p(pool_settings{.max_waiting_retries = 2});
  p.activate(old1);
  const auto added = p.manager.replace(backend_role::decode, {new1}, {old1}, pools::t0);
  ASSERT_EQ(added.waiting.size(), 1u);
  const auto ticket = added.waiting[0].ticket;
  EXPECT_EQ(p.manager.probe_finished(ticket, false, pools::t0), probe_verdict::retry);
  EXPECT_EQ(p.decoders(), names{"127.0.0.1:9001"});
  const auto retry = p.manager.take_due(clock::time_point::max(), 8);
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(p.manager.probe_finished(ticket, false, pools::t0), probe_verdict::dropped);
  EXPECT_TRUE(p.decoders().empty());  // as the configuration says
}

TEST(pool_replace, removing_without_adding_drains_at_once) {
  pools p;
  p.activate(old1);
  p.activate(old2);
  EXPECT_TRUE(p.manager.replace(backend_role::decode, {}, {old1}, pools::t0).waiting.empty());
  EXPECT_EQ(p.decoders(), names{"127.0.0.1:9002"});
}

TEST(pool_replace, a_change_of_the_prefillers_does_not_hold_back_the_decoders) {
  pools p;
  p.activate(old1);
  p.activate(old2);
  const auto added = p.manager.replace(backend_role::prefill, {new1}, {}, pools::t0);
  ASSERT_EQ(added.waiting.size(), 1u);
  p.manager.replace(backend_role::decode, {}, {old1}, pools::t0);
  EXPECT_EQ(p.decoders(), names{"127.0.0.1:9002"});
}

TEST(pool_replace, a_reload_undone_keeps_the_old_decoder_and_forgets_the_new_one) {
  pools p;
  p.activate(old1);
  const auto first = p.manager.replace(backend_role::decode, {new1}, {old1}, pools::t0);
  ASSERT_EQ(first.waiting.size(), 1u);
  const auto second = p.manager.replace(backend_role::decode, {old1}, {new1}, pools::t0);
  EXPECT_TRUE(second.waiting.empty());
  EXPECT_EQ(second.present, names{"127.0.0.1:9001"});
  EXPECT_EQ(p.manager.waiting(), 0u);
  EXPECT_EQ(p.manager.probe_finished(first.waiting[0].ticket, true, pools::t0), probe_verdict::gone);
  EXPECT_EQ(p.decoders(), names{"127.0.0.1:9001"});
}

TEST(pool_replace, chained_reloads_keep_the_first_decoder_until_the_last_one_answered) {
  pools p;
  p.activate(old1);
  const auto first = p.manager.replace(backend_role::decode, {new1}, {old1}, pools::t0);
  const auto second = p.manager.replace(backend_role::decode, {third}, {new1}, pools::t0);
  ASSERT_EQ(second.waiting.size(), 1u);
  EXPECT_EQ(p.decoders(), names{"127.0.0.1:9001"});  // new1 was forgotten, third still waits
  EXPECT_EQ(p.manager.probe_finished(first.waiting[0].ticket, true, pools::t0), probe_verdict::gone);
  EXPECT_EQ(p.manager.probe_finished(second.waiting[0].ticket, true, pools::t0), probe_verdict::activated);
  EXPECT_EQ(p.decoders(), names{"127.0.0.1:9201"});
}

TEST(pool_replace, a_retiring_decoder_removed_meanwhile_is_drained_once) {
  pools p;
  p.activate(old1);
  p.activate(old2);
  const auto added = p.manager.replace(backend_role::decode, {new1}, {old1}, pools::t0);
  ASSERT_EQ(added.waiting.size(), 1u);
  EXPECT_EQ(p.manager.remove(backend_role::decode, {old1}).removed, names{"127.0.0.1:9001"});
  EXPECT_EQ(p.manager.collect_gone().size(), 1u);
  EXPECT_EQ(p.manager.probe_finished(added.waiting[0].ticket, true, pools::t0), probe_verdict::activated);
  EXPECT_EQ(p.decoders(), (names{"127.0.0.1:9002", "127.0.0.1:9101"}));
  EXPECT_TRUE(p.manager.collect_gone().empty());
}

TEST(pool_replace, an_added_instance_removed_by_the_admin_api_stops_holding_the_old_one) {
  pools p;
  p.activate(old1);
  const auto added = p.manager.replace(backend_role::decode, {new1}, {old1}, pools::t0);
  ASSERT_EQ(added.waiting.size(), 1u);
  EXPECT_EQ(p.manager.remove(backend_role::decode, {new1}).removed, names{"127.0.0.1:9101"});
  EXPECT_TRUE(p.decoders().empty());
}

}  // namespace
}  // namespace pd_proxy
