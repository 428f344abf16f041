#include "pd_proxy/core/observe/request_record.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace pd_proxy {
namespace {

using namespace std::chrono_literals;

TEST(RequestRecord, PdOutcomesMapToTheAccessLogNames) {
  EXPECT_EQ(outcome_of(pd_outcome::completed, backend_failure::none), request_outcome::ok);
  EXPECT_EQ(outcome_of(pd_outcome::client_gone, backend_failure::none), request_outcome::client_abort);
  EXPECT_EQ(outcome_of(pd_outcome::backend_error, backend_failure::connect), request_outcome::backend_error);
  EXPECT_EQ(outcome_of(pd_outcome::backend_error, backend_failure::timeout), request_outcome::timeout);
  EXPECT_EQ(outcome_of(pd_outcome::midstream_error, backend_failure::transport),
            request_outcome::backend_error);
  EXPECT_EQ(outcome_of(pd_outcome::midstream_error, backend_failure::timeout), request_outcome::timeout);
  EXPECT_EQ(outcome_of(pd_outcome::rejected, backend_failure::none), request_outcome::rejected);
  EXPECT_EQ(outcome_of(pd_outcome::no_backend, backend_failure::none), request_outcome::no_backend);
  EXPECT_EQ(outcome_of(pd_outcome::shutting_down, backend_failure::none), request_outcome::shutting_down);
  EXPECT_EQ(outcome_of(pd_outcome::passed_through, backend_failure::none), request_outcome::backend_rejected);
  EXPECT_EQ(to_string(request_outcome::ok), "ok");
  EXPECT_EQ(to_string(request_outcome::client_abort), "client_abort");
  EXPECT_EQ(to_string(request_outcome::backend_error), "backend_error");
  EXPECT_EQ(to_string(request_outcome::timeout), "timeout");
  EXPECT_EQ(to_string(request_outcome::rejected), "rejected");
}

TEST(RequestRecord, StatusOutcomesForTheProxysOwnAnswers) {
  EXPECT_EQ(outcome_of_status(200), request_outcome::ok);
  EXPECT_EQ(outcome_of_status(503), request_outcome::ok);  // /ready says not ready: an answer
  EXPECT_EQ(outcome_of_status(404), request_outcome::invalid_request);
  EXPECT_EQ(outcome_of_status(429), request_outcome::rejected);
}

TEST(RequestRecord, RoutesAreAFixedSet) {
  EXPECT_EQ(route_of_path("/v1/completions"), request_route::completions);
  EXPECT_EQ(route_of_path("/v1/chat/completions"), request_route::chat_completions);
  EXPECT_EQ(route_of_path("/metrics"), request_route::metrics);
  EXPECT_EQ(route_of_path("/v1/completions/abc"), request_route::other);
  EXPECT_EQ(to_string(route_of_path("/anything")), "other");
  for (std::size_t i = 0; i < request_route_count; ++i) {
    const auto r = static_cast<request_route>(i);
    if (r != request_route::other) {
      EXPECT_EQ(route_of_path(to_string(r)), r);
    }
  }
}

TEST(RequestRecord, FailureKinds) {
  EXPECT_EQ(failure_kind(backend_failure::connect), "connect");
  EXPECT_EQ(failure_kind(backend_failure::timeout), "timeout");
  EXPECT_EQ(answer_kind(503), "http_5xx");
  EXPECT_EQ(answer_kind(429), "http_429");
}

TEST(RequestRecord, SecondsBetweenNeedsBothPoints) {
  const request_record::clock::time_point t0 = request_record::clock::time_point{} + 10s;
  EXPECT_DOUBLE_EQ(seconds_between(t0, t0 + 1500ms), 1.5);
  EXPECT_LT(seconds_between({}, t0), 0);
  EXPECT_LT(seconds_between(t0, {}), 0);
  EXPECT_LT(seconds_between(t0 + 1s, t0), 0);
}

TEST(RequestRecord, AccessLogLineIsOneJsonObject) {
  request_record r;
  const auto t0 = request_record::clock::time_point{} + 100s;
  r.request_id = "req-\"1\"\n";
  r.method = "POST";
  r.route = request_route::completions;
  r.status = 200;
  r.outcome = request_outcome::ok;
  r.prefiller = "10.0.0.1:8100";
  r.decoder = "10.0.0.2:8200";
  r.prefill_retries = 1;
  r.decode_retries = 2;
  r.prompt_bytes = 123;
  r.bytes_sent = 4567;
  r.received = t0;
  r.prefill_start = t0 + 1ms;
  r.prefill_done = t0 + 21ms;
  r.first_byte = t0 + 50ms;
  r.end = t0 + 1250ms;
  r.wall_received = std::chrono::system_clock::time_point{} + 1'700'000'000'123ms;
  r.client_address = "127.0.0.1:5555";
  const std::string line = access_log_line(r);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["ts"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(j["request_id"], "req-\"1\"\n");
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["route"], "/v1/completions");
  EXPECT_EQ(j["status"], 200);
  EXPECT_EQ(j["outcome"], "ok");
  EXPECT_EQ(j["prefiller"], "10.0.0.1:8100");
  EXPECT_EQ(j["decoder"], "10.0.0.2:8200");
  EXPECT_EQ(j["retries"], 3);
  EXPECT_EQ(j["prefill_retries"], 1);
  EXPECT_EQ(j["decode_retries"], 2);
  EXPECT_EQ(j["prompt_bytes"], 123);
  EXPECT_EQ(j["bytes_sent"], 4567);
  EXPECT_DOUBLE_EQ(j["prefill_ms"].get<double>(), 20.0);
  EXPECT_DOUBLE_EQ(j["ttft_ms"].get<double>(), 50.0);
  EXPECT_DOUBLE_EQ(j["duration_ms"].get<double>(), 1250.0);
  EXPECT_EQ(j["client_address"], "127.0.0.1:5555");
}

TEST(RequestRecord, UnreachedTimesAreNull) {
  request_record r;
  r.method = "GET";
  r.route = request_route::health;
  r.status = 200;
  r.received = request_record::clock::now();
  r.end = r.received + 1ms;
  const auto j = nlohmann::json::parse(access_log_line(r));
  EXPECT_TRUE(j["prefill_ms"].is_null());
  EXPECT_TRUE(j["ttft_ms"].is_null());
  EXPECT_FALSE(j["duration_ms"].is_null());
  EXPECT_EQ(j["prefiller"], "");
}

}  // namespace
}  // namespace pd_proxy
