#include "pd_proxy/core/observe/metrics_shard.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace pd_proxy {
namespace {

using namespace std::chrono_literals;

TEST(metrics_shard, buckets_cover_five_milliseconds_to_ten_minutes) {
  EXPECT_DOUBLE_EQ(latency_bucket_bounds.front(), 0.005);
  EXPECT_DOUBLE_EQ(latency_bucket_bounds.back(), 600);
  EXPECT_TRUE(std::is_sorted(latency_bucket_bounds.begin(), latency_bucket_bounds.end()));
  EXPECT_EQ(latency_bucket_of(0), 0u);
  EXPECT_EQ(latency_bucket_of(0.005), 0u);  // le is inclusive
  EXPECT_EQ(latency_bucket_of(0.0051), 1u);
  EXPECT_EQ(latency_bucket_of(600), latency_bucket_bounds.size() - 1);
  EXPECT_EQ(latency_bucket_of(601), latency_bucket_bounds.size());  // +Inf
}

TEST(metrics_shard, record_counts_a_request) {
  metrics_shard shard;
  request_record r;
  const auto t0 = request_record::clock::time_point{} + 100s;
  r.route = request_route::completions;
  r.status = 200;
  r.prefill_retries = 1;
  r.decode_retries = 2;
  r.local_prefill = true;
  r.prefill_skipped = true;
  r.received = t0;
  r.prefill_start = t0 + 1ms;
  r.prefill_done = t0 + 21ms;
  r.decode_start = t0 + 22ms;
  r.first_byte = t0 + 50ms;
  r.end = t0 + 1s;
  shard.record(r);
  r.outcome = request_outcome::client_abort;
  r.status = 499;
  r.first_byte = {};
  r.prefill_retries = r.decode_retries = 0;
  r.local_prefill = false;
  r.prefill_skipped = false;
  shard.record(r);

  metrics_totals t;
  shard.add_to(t);
  const auto route = static_cast<std::size_t>(request_route::completions);
  EXPECT_EQ(t.requests[route][status_slot(200)], 1u);
  EXPECT_EQ(t.requests[route][status_slot(499)], 1u);
  EXPECT_EQ(t.retries[0], 1u);
  EXPECT_EQ(t.retries[1], 2u);
  EXPECT_EQ(t.client_disconnects, 1u);
  EXPECT_EQ(t.local_prefills, 1u);
  EXPECT_EQ(t.skipped_prefills, 1u);
  EXPECT_EQ(t.ttft.count, 1u);
  EXPECT_EQ(t.ttft.buckets[latency_bucket_of(0.05)], 1u);
  EXPECT_NEAR(t.ttft.sum, 0.05, 1e-9);
  EXPECT_EQ(t.prefill.count, 2u);
  EXPECT_EQ(t.decode.count, 1u);  // the aborted one never relayed
  EXPECT_EQ(t.duration.count, 2u);
  EXPECT_NEAR(t.duration.sum, 2.0, 1e-9);
}

TEST(metrics_shard, status_slots_clamp_out_of_range) {
  EXPECT_EQ(status_slot(100), 0u);
  EXPECT_EQ(status_slot(599), status_slots - 1);
  EXPECT_EQ(status_slot(0), status_slots - 1);
  EXPECT_EQ(status_slot(1000), status_slots - 1);
}

TEST(metrics_shard, backend_errors_by_role_backend_and_kind) {
  metrics_shard shard;
  shard.backend_error(backend_role::prefill, "a:1", "connect");
  shard.backend_error(backend_role::prefill, "a:1", "connect");
  shard.backend_error(backend_role::decode, "a:1", "http_5xx");
  metrics_totals t;
  shard.add_to(t);
  shard.add_to(t);  // sums add up
  ASSERT_EQ(t.backend_errors.size(), 2u);
  EXPECT_EQ((t.backend_errors[{backend_role::prefill, "a:1", "connect"}]), 4u);
  EXPECT_EQ((t.backend_errors[{backend_role::decode, "a:1", "http_5xx"}]), 2u);
}

TEST(proxy_metrics, each_thread_records_into_its_own_shard_and_a_scrape_sums_them) {
  proxy_metrics metrics;
  constexpr int threads = 4;
  constexpr int per_thread = 1000;
  std::vector<metrics_shard*> seen(threads);
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([&, i] {
      metrics_shard& shard = metrics.local();
      seen[static_cast<std::size_t>(i)] = &shard;
      EXPECT_EQ(&metrics.local(), &shard);  // the same shard on every call
      request_record r;
      r.route = request_route::health;
      r.status = 200;
      for (int k = 0; k < per_thread; ++k) {
        shard.record(r);
        shard.itl.observe(0.01);
        (void)metrics.totals();  // a concurrent scrape
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(metrics.shards(), static_cast<std::size_t>(threads));
  for (int i = 1; i < threads; ++i) EXPECT_NE(seen[0], seen[static_cast<std::size_t>(i)]);
  const metrics_totals t = metrics.totals();
  EXPECT_EQ(t.requests[static_cast<std::size_t>(request_route::health)][status_slot(200)],
            static_cast<std::uint64_t>(threads * per_thread));
  EXPECT_EQ(t.itl.count, static_cast<std::uint64_t>(threads * per_thread));
}

TEST(proxy_metrics, a_thread_gets_a_different_shard_per_proxy) {
  proxy_metrics a;
  proxy_metrics b;
  metrics_shard& sa = a.local();
  metrics_shard& sb = b.local();
  EXPECT_NE(&sa, &sb);
  EXPECT_EQ(&a.local(), &sa);  // found again by thread id
  EXPECT_EQ(a.shards(), 1u);
  EXPECT_EQ(b.shards(), 1u);
}

TEST(proxy_metrics, forgetting_drops_the_errors_of_backends_not_living_in_every_shard) {
  proxy_metrics metrics;
  metrics.local().backend_error(backend_role::decode, "a:1", "connect");
  metrics.local().backend_error(backend_role::prefill, "a:1", "connect");  // same address, other role
  metrics.local().backend_error(backend_role::decode, "b:2", "timeout");
  std::thread([&] { metrics.local().backend_error(backend_role::decode, "b:2", "http_5xx"); }).join();
  ASSERT_EQ(metrics.shards(), 2u);
  metrics.forget_backend_errors({{backend_role::decode, "a:1"}});
  const metrics_totals t = metrics.totals();
  ASSERT_EQ(t.backend_errors.size(), 1u);
  EXPECT_EQ((t.backend_errors.at({backend_role::decode, "a:1", "connect"})), 1u);
  metrics.forget_backend_errors({});
  EXPECT_TRUE(metrics.totals().backend_errors.empty());
  metrics.local().backend_error(backend_role::decode, "a:1", "connect");  // a late error starts again
  EXPECT_EQ(metrics.totals().backend_errors.size(), 1u);
}

TEST(proxy_metrics, log_dropped_is_zero_until_wired) {
  proxy_metrics m;
  EXPECT_EQ(m.log_dropped(), 0u);
  m.log_dropped = [] { return std::uint64_t{7}; };
  EXPECT_EQ(m.log_dropped(), 7u);
}

}  // namespace
}  // namespace pd_proxy
