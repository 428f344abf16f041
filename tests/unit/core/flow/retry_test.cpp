#include "pd_proxy/core/flow/retry.hpp"

#include <gtest/gtest.h>

#include <climits>

#include "pd_proxy/core/scheduling/leg_result.hpp"

namespace pd_proxy {
namespace {

TEST(retry, statuses_retried_are_429_and_5xx) {
  EXPECT_TRUE(is_retryable_status(429));
  EXPECT_TRUE(is_retryable_status(500));
  EXPECT_TRUE(is_retryable_status(503));
  EXPECT_TRUE(is_retryable_status(599));
  for (int status : {100, 200, 302, 400, 404, 422, 428, 499})
    EXPECT_FALSE(is_retryable_status(status)) << status;
}

TEST(retry, backoff_doubles_and_is_capped_so_no_attempt_count_overflows_it) {
  const seconds_d base{0.001};
  EXPECT_DOUBLE_EQ(retry_backoff(base, 2).count(), 0.001);
  EXPECT_DOUBLE_EQ(retry_backoff(base, 3).count(), 0.002);
  EXPECT_DOUBLE_EQ(retry_backoff(base, 4).count(), 0.004);
  EXPECT_DOUBLE_EQ(retry_backoff(base, 12).count(), 1.024);
  EXPECT_DOUBLE_EQ(retry_backoff(base, 45).count(), 1.024);
  EXPECT_DOUBLE_EQ(retry_backoff(base, INT_MAX).count(), 1.024);
  EXPECT_DOUBLE_EQ(retry_backoff(base, 1).count(), 0.001);
  EXPECT_DOUBLE_EQ(retry_backoff(base, INT_MIN).count(), 0.001);
  EXPECT_DOUBLE_EQ(retry_backoff(seconds_d{0}, 50).count(), 0.0);
}

TEST(retry, a_new_prefill_only_with_reprefill_and_only_after_a_decoder_got_the_request) {
  EXPECT_TRUE(decode_retry_needs_prefill(decode_retry_kv::reprefill, true));
  EXPECT_FALSE(decode_retry_needs_prefill(decode_retry_kv::reprefill, false));
  EXPECT_FALSE(decode_retry_needs_prefill(decode_retry_kv::reuse, true));
  EXPECT_FALSE(decode_retry_needs_prefill(decode_retry_kv::reuse, false));
}

}  // namespace
}  // namespace pd_proxy

namespace pd_proxy {
namespace {

TEST(retry, an_empty_2xx_decode_body_is_a_transport_failure) {
  EXPECT_EQ(first_read_failure(backend_failure::none, 0), backend_failure::transport);
  EXPECT_EQ(first_read_failure(backend_failure::none, 1), backend_failure::none);
  EXPECT_EQ(first_read_failure(backend_failure::timeout, 0), backend_failure::timeout);
}

TEST(retry, the_request_id_of_a_new_prefill) {
  EXPECT_EQ(reprefill_request_id("abc", 1), "abc-reprefill1");
  EXPECT_EQ(reprefill_request_id("abc", 12), "abc-reprefill12");
}

TEST(retry, answers_that_count_against_a_backends_breaker) {
  EXPECT_EQ(leg_result_of_answer(500), leg_result::failed);
  EXPECT_EQ(leg_result_of_answer(503), leg_result::failed);
  EXPECT_EQ(leg_result_of_answer(429), leg_result::failed);
  EXPECT_EQ(leg_result_of_answer(200), leg_result::succeeded);
  EXPECT_EQ(leg_result_of_answer(400), leg_result::succeeded);
  EXPECT_EQ(leg_result_of_answer(404), leg_result::succeeded);
}

}  // namespace
}  // namespace pd_proxy
