// The PD flow's decisions, driven event by event without sockets.
#include "pd_proxy/core/flow/pd_flow.hpp"

#include <gtest/gtest.h>

namespace pd_proxy {
namespace {

using act = pd_action::kind;
using ev = pd_event::kind;

constexpr std::string_view prefill_ok =
    R"({"id":"p","choices":[{"text":"x"}],"kv_transfer_params":{"remote_block_ids":[1,2],"remote_host":"h"}})";

pd_flow_settings settings(int attempts = 3,
                          ::pd_proxy::decode_retry_kv mode = ::pd_proxy::decode_retry_kv::reuse) {
  return {attempts, seconds_d{0.01}, mode};
}

pd_event answered(int status, std::string_view body = {}, std::string_view type = {}) {
  return {.what = ev::answered, .status = status, .content_type = type, .body = body};
}

pd_event failed(backend_failure failure, bool request_sent = false) {
  return {.what = ev::leg_failed, .failure = failure, .request_sent = request_sent};
}

pd_event simple(ev what) {
  return {.what = what};
}

// Runs the flow to its decode leg: start, one successful prefill.
pd_action to_decode(pd_flow& flow) {
  EXPECT_EQ(flow.resume(simple(ev::start)).what, act::send_prefill);
  return flow.resume(answered(200, prefill_ok));
}

TEST(pd_flow, happy_path_prefill_decode_relay) {
  pd_flow flow(settings());
  const auto first = flow.resume(simple(ev::start));
  EXPECT_EQ(first.what, act::send_prefill);
  EXPECT_TRUE(first.first_attempt);
  EXPECT_TRUE(first.check_decode_role);  // no prefill is spent when no decoder could pull its KV
  EXPECT_FALSE(first.release_kv_hold);

  const auto decode = flow.resume(answered(200, prefill_ok));
  EXPECT_EQ(decode.what, act::send_decode);
  EXPECT_TRUE(decode.first_attempt);
  EXPECT_FALSE(decode.check_decode_role);
  EXPECT_TRUE(decode.keep_kv_hold);
  EXPECT_EQ(flow.kv_transfer_params(), R"({"remote_block_ids":[1,2],"remote_host":"h"})");
  EXPECT_FALSE(flow.local_prefill());

  EXPECT_EQ(flow.resume(simple(ev::first_byte)).what, act::relay);
  EXPECT_EQ(flow.outcome(), pd_outcome::pending);
  EXPECT_EQ(flow.resume(simple(ev::relay_ended)).what, act::done);
  EXPECT_EQ(flow.outcome(), pd_outcome::completed);
}

TEST(pd_flow, prefill_without_kv_transfer_params_means_a_local_prefill) {
  pd_flow flow(settings());
  flow.resume(simple(ev::start));
  const auto decode = flow.resume(answered(200, R"({"choices":[]})"));
  EXPECT_EQ(decode.what, act::send_decode);
  EXPECT_TRUE(flow.kv_transfer_params().empty());
  EXPECT_TRUE(flow.local_prefill());
}

TEST(pd_flow, a_429_is_retried_on_another_backend_after_the_backoff) {
  pd_flow flow(settings());
  flow.resume(simple(ev::start));
  const auto wait = flow.resume(answered(429, R"({"error":"busy"})"));
  ASSERT_EQ(wait.what, act::back_off);
  EXPECT_EQ(wait.leg, pd_leg::prefill);
  EXPECT_DOUBLE_EQ(wait.delay.count(), 0.01);
  const auto again = flow.resume(simple(ev::backoff_done));
  EXPECT_EQ(again.what, act::send_prefill);
  EXPECT_FALSE(again.first_attempt);  // the tried set is kept: another prefiller is picked
  EXPECT_FALSE(again.check_decode_role);
  EXPECT_EQ(flow.attempt(pd_leg::prefill), 2);
}

TEST(pd_flow, backoff_doubles_per_attempt) {
  pd_flow flow(settings(4));
  flow.resume(simple(ev::start));
  EXPECT_DOUBLE_EQ(flow.resume(failed(backend_failure::connect)).delay.count(), 0.01);
  flow.resume(simple(ev::backoff_done));
  EXPECT_DOUBLE_EQ(flow.resume(failed(backend_failure::connect)).delay.count(), 0.02);
  flow.resume(simple(ev::backoff_done));
  EXPECT_DOUBLE_EQ(flow.resume(failed(backend_failure::connect)).delay.count(), 0.04);
  flow.resume(simple(ev::backoff_done));
  EXPECT_EQ(flow.resume(failed(backend_failure::connect)).what, act::answer_error);
}

TEST(pd_flow, a_backend_verdict_passes_through_at_once_with_its_content_type) {
  pd_flow flow(settings());
  flow.resume(simple(ev::start));
  const auto pass = flow.resume(answered(400, "prompt too long", "text/plain"));
  ASSERT_EQ(pass.what, act::pass_through);
  EXPECT_EQ(pass.status, 400);
  EXPECT_EQ(pass.content_type, "text/plain");
  EXPECT_EQ(pass.body, "prompt too long");
  EXPECT_EQ(flow.resume(simple(ev::client_answered)).what, act::done);
  EXPECT_EQ(flow.outcome(), pd_outcome::passed_through);
}

TEST(pd_flow, a_decoders_4xx_passes_through_with_its_own_content_type) {
  pd_flow flow(settings());
  to_decode(flow);
  const auto pass = flow.resume(answered(422, "<p>bad</p>", "text/html"));
  ASSERT_EQ(pass.what, act::pass_through);
  EXPECT_EQ(pass.status, 422);
  EXPECT_EQ(pass.content_type, "text/html");
  EXPECT_EQ(pass.body, "<p>bad</p>");
}

TEST(pd_flow, a_backend_answer_without_content_type_passes_as_json) {
  pd_flow flow(settings());
  to_decode(flow);
  EXPECT_EQ(flow.resume(answered(404, R"({"error":"no model"})")).content_type, "application/json");
}

TEST(pd_flow, the_last_error_body_passes_through_when_every_attempt_answered_5xx) {
  pd_flow flow(settings(2));
  flow.resume(simple(ev::start));
  flow.resume(answered(503, "first", "text/plain"));
  flow.resume(simple(ev::backoff_done));
  const auto pass = flow.resume(answered(500, R"({"error":"last"})", "application/json"));
  ASSERT_EQ(pass.what, act::pass_through);
  EXPECT_EQ(pass.status, 500);
  EXPECT_EQ(pass.body, R"({"error":"last"})");
  flow.resume(simple(ev::client_answered));
  EXPECT_EQ(flow.outcome(), pd_outcome::backend_error);
}

TEST(pd_flow, every_attempt_answered_5xx_without_body_is_a_502_naming_the_status) {
  pd_flow flow(settings(1));
  flow.resume(simple(ev::start));
  const auto error = flow.resume(answered(503));
  ASSERT_EQ(error.what, act::answer_error);
  EXPECT_EQ(error.code, errc::backend_failed);
  EXPECT_EQ(error.message, "prefill backend answered HTTP 503 on every attempt");
  EXPECT_FALSE(error.retry_after);
}

TEST(pd_flow, failures_map_to_502_or_504) {
  {
    pd_flow flow(settings(1));
    to_decode(flow);
    const auto error = flow.resume(failed(backend_failure::timeout, true));
    EXPECT_EQ(error.code, errc::backend_timeout);
    EXPECT_EQ(error.message, "decode backend timed out");
  }
  {
    pd_flow flow(settings(1));
    flow.resume(simple(ev::start));
    const auto error = flow.resume(failed(backend_failure::connect));
    EXPECT_EQ(error.code, errc::backend_failed);
    EXPECT_EQ(error.message, "prefill backend failed (connect)");
  }
  {
    pd_flow flow(settings(1));
    to_decode(flow);
    EXPECT_EQ(flow.resume(failed(backend_failure::too_large, true)).message,
              "decode backend failed (too_large)");
  }
}

TEST(pd_flow, an_empty_role_is_a_503) {
  pd_flow prefill(settings());
  prefill.resume(simple(ev::start));
  const auto none = prefill.resume(simple(ev::no_backend));
  EXPECT_EQ(none.code, errc::no_backend);
  EXPECT_EQ(none.message, "no prefill instance is configured");
  prefill.resume(simple(ev::client_answered));
  EXPECT_EQ(prefill.outcome(), pd_outcome::no_backend);

  pd_flow decode(settings());
  to_decode(decode);
  EXPECT_EQ(decode.resume(simple(ev::no_backend)).message, "no decode instance is configured");
}

TEST(pd_flow, a_role_with_no_usable_backend_is_a_503_with_retry_after) {
  pd_flow flow(settings());
  to_decode(flow);
  pd_event none = simple(ev::no_backend);
  none.none_usable = true;
  const auto answer = flow.resume(none);
  ASSERT_EQ(answer.what, act::answer_error);
  EXPECT_EQ(answer.code, errc::no_backend);
  EXPECT_TRUE(answer.retry_after);
  EXPECT_EQ(answer.message, "no healthy decode instance is available");
}

TEST(pd_flow, no_usable_decoder_before_the_prefill_is_a_503_naming_the_decode_role) {
  pd_flow flow(settings());
  ASSERT_EQ(flow.resume(simple(ev::start)).what, act::send_prefill);
  pd_event none = simple(ev::no_backend);
  none.none_usable = true;
  none.no_decoder = true;
  const auto answer = flow.resume(none);
  ASSERT_EQ(answer.what, act::answer_error);
  EXPECT_EQ(answer.message, "no healthy decode instance is available");
  EXPECT_TRUE(answer.retry_after);
}

TEST(pd_flow, a_retry_that_finds_no_usable_backend_answers_the_failure_it_retries) {
  pd_flow flow(settings());
  to_decode(flow);
  ASSERT_EQ(flow.resume(failed(backend_failure::connect)).what, act::back_off);
  ASSERT_EQ(flow.resume(simple(ev::backoff_done)).what, act::send_decode);
  pd_event none = simple(ev::no_backend);
  none.none_usable = true;
  const auto answer = flow.resume(none);
  ASSERT_EQ(answer.what, act::answer_error);
  EXPECT_EQ(answer.code, errc::backend_failed);
  EXPECT_EQ(answer.message, "decode backend failed (connect)");
}

TEST(pd_flow, the_drain_deadline_answers_503_with_retry_after) {
  pd_flow flow(settings());
  flow.resume(simple(ev::start));
  flow.resume(failed(backend_failure::connect));
  const auto error = flow.resume(simple(ev::stopped));  // during the back-off
  ASSERT_EQ(error.what, act::answer_error);
  EXPECT_EQ(error.code, errc::shutting_down);
  EXPECT_EQ(error.message, "proxy shutting down");
  EXPECT_TRUE(error.retry_after);
  flow.resume(simple(ev::client_answered));
  EXPECT_EQ(flow.outcome(), pd_outcome::shutting_down);
}

TEST(pd_flow, a_client_gone_ends_the_flow_without_an_answer) {
  pd_flow flow(settings());
  to_decode(flow);
  EXPECT_EQ(flow.resume(simple(ev::client_gone)).what, act::done);
  EXPECT_EQ(flow.outcome(), pd_outcome::client_gone);
  EXPECT_EQ(flow.resume(simple(ev::start)).what, act::done);  // done stays done
}

TEST(pd_flow, reuse_mode_retries_the_decode_with_the_same_kv) {
  pd_flow flow(settings(3, decode_retry_kv::reuse));
  to_decode(flow);
  EXPECT_EQ(flow.resume(failed(backend_failure::transport, /*request_sent=*/true)).what, act::back_off);
  const auto retry = flow.resume(simple(ev::backoff_done));
  EXPECT_EQ(retry.what, act::send_decode);
  EXPECT_FALSE(retry.first_attempt);
  EXPECT_FALSE(retry.keep_kv_hold);  // the driver still holds it
  EXPECT_EQ(flow.attempt(pd_leg::decode), 2);
}

TEST(pd_flow, reprefill_mode_prefills_again_after_a_decoder_that_received_the_request) {
  pd_flow flow(settings(3, decode_retry_kv::reprefill));
  to_decode(flow);
  flow.resume(failed(backend_failure::transport, /*request_sent=*/true));
  const auto prefill = flow.resume(simple(ev::backoff_done));
  ASSERT_EQ(prefill.what, act::send_prefill);
  EXPECT_TRUE(prefill.first_attempt);  // a new prefill: any prefiller again
  EXPECT_TRUE(prefill.check_decode_role);
  EXPECT_TRUE(prefill.release_kv_hold);
  EXPECT_EQ(prefill.reprefill, 1);
  const auto decode = flow.resume(answered(200, prefill_ok));
  ASSERT_EQ(decode.what, act::send_decode);
  EXPECT_FALSE(decode.first_attempt);  // the same decode attempt goes on, avoiding the failed decoder
  EXPECT_TRUE(decode.keep_kv_hold);
  EXPECT_EQ(flow.attempt(pd_leg::decode), 2);

  flow.resume(failed(backend_failure::transport, true));
  EXPECT_EQ(flow.resume(simple(ev::backoff_done)).reprefill, 2);
}

TEST(pd_flow, reprefill_mode_reuses_the_kv_when_the_decoder_never_got_the_request) {
  pd_flow flow(settings(3, decode_retry_kv::reprefill));
  to_decode(flow);
  flow.resume(failed(backend_failure::connect, /*request_sent=*/false));
  EXPECT_EQ(flow.resume(simple(ev::backoff_done)).what, act::send_decode);
}

TEST(pd_flow, a_failed_reprefill_answers_as_a_prefill_failure) {
  pd_flow flow(settings(1, decode_retry_kv::reprefill));
  flow.resume(simple(ev::start));
  flow.resume(answered(200, prefill_ok));
  EXPECT_EQ(flow.resume(failed(backend_failure::transport, true)).what, act::answer_error);  // 1 attempt
}

TEST(pd_flow, midstream_failures_end_the_relay) {
  pd_flow failed_flow(settings());
  to_decode(failed_flow);
  failed_flow.resume(simple(ev::first_byte));
  const pd_event broke{.what = ev::relay_ended, .failure = backend_failure::transport};
  EXPECT_EQ(failed_flow.resume(broke).what, act::done);
  EXPECT_EQ(failed_flow.outcome(), pd_outcome::midstream_error);

  pd_flow stopped_flow(settings());
  to_decode(stopped_flow);
  stopped_flow.resume(simple(ev::first_byte));
  const pd_event stopped{.what = ev::relay_ended, .failure = backend_failure::transport, .stopping = true};
  stopped_flow.resume(stopped);
  EXPECT_EQ(stopped_flow.outcome(), pd_outcome::shutting_down);
}

TEST(pd_flow, midstream_error_mapping) {
  EXPECT_EQ(midstream_error(true, backend_failure::timeout).code, errc::shutting_down);
  EXPECT_EQ(midstream_error(false, backend_failure::timeout).code, errc::backend_timeout);
  EXPECT_EQ(midstream_error(false, backend_failure::timeout).message, "decode backend stalled mid-stream");
  EXPECT_EQ(midstream_error(false, backend_failure::transport).code, errc::backend_failed);
  EXPECT_EQ(midstream_error(false, backend_failure::transport).message, "decode backend failed mid-stream");
}

TEST(pd_flow, an_unexpected_event_is_a_500_not_undefined_behaviour) {
  pd_flow flow(settings());
  flow.resume(simple(ev::start));
  const auto error = flow.resume(simple(ev::first_byte));  // a prefill has no first byte
  EXPECT_EQ(error.what, act::answer_error);
  EXPECT_EQ(error.code, errc::internal);
}

TEST(pd_flow, settings_from_config) {
  proxy_config config;
  config.max_retries = 0;
  EXPECT_EQ(pd_flow_settings::from(config).attempts, 1);
  config.max_retries = 5;
  config.decode_retry_kv = decode_retry_kv::reprefill;
  const auto s = pd_flow_settings::from(config);
  EXPECT_EQ(s.attempts, 5);
  EXPECT_EQ(s.decode_retry_kv, decode_retry_kv::reprefill);
}

}  // namespace
}  // namespace pd_proxy
