// Health in the running proxy: a failing decoder is ejected by its breaker, a dead one is found by the
// active checks and comes back once it answers, /ready follows, and a role with no usable backend is a fast
// 503 with Retry-After.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "proxy_fixture.hpp"

namespace pd_proxy::test {
namespace {

using namespace std::chrono_literals;

const std::string json_body = R"({"model":"m","prompt":"hello","max_tokens":4})";

request_spec post(std::string body) {
  request_spec spec;
  spec.body = std::move(body);
  return spec;
}

request_spec get(std::string target) {
  request_spec spec;
  spec.method = http::verb::get;
  spec.target = std::move(target);
  return spec;
}

mock::mock_options failing_engines(int count, int status) {
  auto o = fast_engines(count);
  o.faults.fail_status = status;
  return o;
}

// Active checks every 50 ms (timeout 1 s), breaker as configured by the test.
void quick_checks(proxy_config& c) {
  c.health_check_interval = seconds_d{0.05};
  c.health_check_timeout = seconds_d{1};
}

TEST(proxy_health, a_decoder_that_answers_503_is_ejected_after_a_handful_of_requests) {
  cluster c({{fast_engines(1)}}, {{failing_engines(1, 503)}, {fast_engines(1)}}, [](proxy_config& config) {
    config.cb_failure_threshold = 3;
    config.retry_delay = seconds_d{0};
  });
  auto* bad = c.decode_servers()[0];
  for (int i = 0; i < 100; ++i) {
    const auto reply = request(c.port(), post(json_body));
    ASSERT_EQ(reply.status, 200) << i << ": " << reply.body;  // retried on the good decoder
  }
  EXPECT_LE(bad->stats(0).requests.load(), 5u);
  EXPECT_GE(bad->stats(0).requests.load(), 3u);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_health, a_dead_decoder_gets_no_traffic_and_gets_it_again_once_it_answers) {
  const std::uint16_t later = refused_port();
  mock::mock_options restarted = fast_engines(1);
  restarted.port = later;
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}, {{}, 0, {later}}}, quick_checks);
  // Down at start-up: unhealthy until it answers, and no request is sent to it.
  const auto ready = nlohmann::json::parse(request(c.port(), get("/ready")).body);
  EXPECT_EQ(ready["decode_healthy"], 1);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(request(c.port(), post(json_body)).status, 200);
  EXPECT_EQ(c.state().counters.decode_retries.load(), 0u);  // nothing was tried on the dead one

  mock::mock_server engine(restarted);  // "restarted" on its port
  engine.start();
  ASSERT_TRUE(eventually(
      [&] { return nlohmann::json::parse(request(c.port(), get("/ready")).body)["decode_healthy"] == 2; }));
  for (int i = 0; i < 10; ++i) ASSERT_EQ(request(c.port(), post(json_body)).status, 200);
  EXPECT_GT(engine.stats(0).requests.load(), 0u);
  engine.stop();
}

TEST(proxy_health, ready_flips_to_503_when_no_decoder_is_healthy_and_back) {
  const std::uint16_t port = refused_port();
  mock::mock_options options = fast_engines(1);
  options.port = port;
  cluster c({{fast_engines(1)}}, {{{}, 0, {port}}}, quick_checks);

  auto reply = request(c.port(), get("/ready"));
  EXPECT_EQ(reply.status, 503);
  auto body = nlohmann::json::parse(reply.body);
  EXPECT_EQ(body["status"], "not_ready");
  EXPECT_EQ(body["reason"], "no healthy decode instance");
  EXPECT_EQ(body["prefill_healthy"], 1);
  EXPECT_EQ(body["decode_healthy"], 0);

  // No usable decoder: a fast 503 with Retry-After, and no prefill is spent.
  reply = request(c.port(), post(json_body));
  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(reply.headers["Retry-After"], "1");
  EXPECT_NE(reply.body.find("no healthy decode instance is available"), std::string::npos) << reply.body;
  EXPECT_EQ(c.total(true, &mock::engine_stats::requests), 0u);

  {
    mock::mock_server engine(options);
    engine.start();
    ASSERT_TRUE(eventually([&] { return request(c.port(), get("/ready")).status == 200; }));
    body = nlohmann::json::parse(request(c.port(), get("/ready")).body);
    EXPECT_EQ(body, nlohmann::json::parse(R"({"status":"ready","prefill_healthy":1,"decode_healthy":1})"));
    EXPECT_EQ(request(c.port(), post(json_body)).status, 200);
    engine.stop();
  }
  // Gone again: two failed checks in a row (the default unhealthy threshold) take it out.
  EXPECT_TRUE(eventually([&] { return request(c.port(), get("/ready")).status == 503; }));
  const auto healthcheck = nlohmann::json::parse(request(c.port(), get("/healthcheck")).body);
  EXPECT_EQ(healthcheck["decode_instances"], 1);
  EXPECT_EQ(healthcheck["decode_healthy"], 0);
  EXPECT_EQ(healthcheck["request_num"], 0);
}

TEST(proxy_health, a_health_path_the_backend_lacks_still_counts_as_up) {
  // A 404 means the server answers: a mistyped --health-check-path must not take the cluster down.
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}}, [](proxy_config& config) {
    quick_checks(config);
    config.health_check_path = "/no-such-path";
  });
  EXPECT_EQ(request(c.port(), get("/ready")).status, 200);  // the first round ran before the listener opened
}

TEST(proxy_health, the_ready_route_answers_503_at_once_when_the_drain_starts) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  EXPECT_EQ(request(c.port(), get("/ready")).status, 200);  // checks off: every backend is usable
  c.state().draining.store(true);
  const auto reply = request(c.port(), get("/ready"));
  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(nlohmann::json::parse(reply.body)["reason"], "proxy shutting down");
  c.state().draining.store(false);
}

}  // namespace
}  // namespace pd_proxy::test
