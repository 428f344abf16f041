#include "pd_proxy/core/http/readiness.hpp"

#include <gtest/gtest.h>

#include "pd_proxy/core/health/answer_health.hpp"

namespace pd_proxy {
namespace {

TEST(readiness, ready_with_a_usable_prefiller_and_decoder) {
  const route_answer a = ready_answer({.prefill_usable = 2, .decode_usable = 1, .draining = false});
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, R"({"status":"ready","prefill_healthy":2,"decode_healthy":1})");
}

TEST(readiness, not_ready_gives_the_first_reason) {
  EXPECT_EQ(
      ready_answer({.prefill_usable = 0, .decode_usable = 0, .draining = true}).body,
      R"({"status":"not_ready","reason":"proxy shutting down","prefill_healthy":0,"decode_healthy":0})");
  const route_answer no_prefill = ready_answer({.prefill_usable = 0, .decode_usable = 3, .draining = false});
  EXPECT_EQ(no_prefill.status, 503);
  EXPECT_EQ(no_prefill.body,
            R"({"status":"not_ready","reason":"no healthy prefill instance","prefill_healthy":0,)"
            R"("decode_healthy":3})");
  const route_answer no_decode = ready_answer({.prefill_usable = 1, .decode_usable = 0, .draining = false});
  EXPECT_EQ(no_decode.status, 503);
  EXPECT_EQ(no_decode.body,
            R"({"status":"not_ready","reason":"no healthy decode instance","prefill_healthy":1,)"
            R"("decode_healthy":0})");
  EXPECT_EQ(ready_answer({.prefill_usable = 1, .decode_usable = 1, .draining = true}).status, 503);
}

TEST(readiness, healthcheck_body_in_its_documented_order) {
  const healthcheck_inputs in{.prefill_instances = 2,
                              .decode_instances = 3,
                              .request_num = 4,
                              .prefill_healthy = 1,
                              .decode_healthy = 3,
                              .queued = 5};
  EXPECT_EQ(healthcheck_body(in),
            R"({"status":"ok","prefill_instances":2,"decode_instances":3,"request_num":4,)"
            R"("prefill_healthy":1,"decode_healthy":3,"queued":5})");
}

// The breaker and the active health check read a status through one function: they differ on 429 only.
TEST(answer_health, the_breaker_counts_429_and_5xx_the_health_check_fails_only_5xx) {
  EXPECT_EQ(answer_health_of(200), answer_health::alive);
  EXPECT_EQ(answer_health_of(404), answer_health::alive);
  EXPECT_EQ(answer_health_of(429), answer_health::overloaded);
  EXPECT_EQ(answer_health_of(500), answer_health::broken);
  EXPECT_EQ(answer_health_of(503), answer_health::broken);
  for (const int status : {200, 204, 301, 400, 404, 499}) {
    EXPECT_FALSE(counts_against_breaker(status)) << status;
    EXPECT_TRUE(health_check_passes(status)) << status;
  }
  EXPECT_TRUE(counts_against_breaker(429));
  EXPECT_TRUE(health_check_passes(429));
  for (const int status : {500, 502, 503, 504, 599}) {
    EXPECT_TRUE(counts_against_breaker(status)) << status;
    EXPECT_FALSE(health_check_passes(status)) << status;
  }
}

}  // namespace
}  // namespace pd_proxy
