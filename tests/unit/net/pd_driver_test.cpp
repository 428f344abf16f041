// basic_pd_driver running the real two-stage machine and scheduler on the fake transport: what it sends,
// the limits it gives each operation (from manual_clock), retries, the client leaving and the drain.
#include <gtest/gtest.h>

#include <string>

#include "driver_harness.hpp"

namespace pd_proxy::fake {
namespace {

exchange sse_answer() {
  return {.content_type = "text/event-stream", .body = {std::string(first_event), std::string(last_event)}};
}

std::string whole_stream() {
  return std::string(first_event) + std::string(last_event);
}

TEST(pd_driver, relays_the_decode_after_the_prefill_and_releases_every_load) {
  driver_harness h(1, 1);
  auto prefill = h.scripted.script(h.prefiller(0), {.body = {std::string(prefill_ok)}});
  auto decode = h.scripted.script(h.decoder(0), sse_answer());
  decode->held = true;
  h.start_two_stage();
  h.poll();

  // The decode is in flight: the prefiller holds the KV, the decoder the tokens.
  ASSERT_TRUE(decode->waiting());
  EXPECT_GT(h.sched.load(*h.prefillers[0]).active_kv, 0.0);
  EXPECT_EQ(h.sched.load(*h.prefillers[0]).active_tokens, 0.0);  // released with the prefill's answer
  EXPECT_GT(h.sched.load(*h.decoders[0]).active_tokens, 0.0);

  decode->allow(10);
  h.poll();
  ASSERT_EQ(h.outcome, request_outcome::ok);
  EXPECT_EQ(h.response.status, 200);
  EXPECT_EQ(h.response.content_type, "text/event-stream; charset=utf-8");
  EXPECT_EQ(h.response.body, whole_stream());
  EXPECT_TRUE(h.response.complete);
  // The prefill is the client's request cut to one token; the decode carries the prefiller's KV params.
  EXPECT_NE(prefill->head.find("POST /v1/completions"), std::string::npos);
  EXPECT_NE(prefill->head.find("req-1"), std::string::npos);
  EXPECT_NE(prefill->sent.find(R"("max_tokens":1)"), std::string::npos);
  EXPECT_NE(decode->sent.find(R"("remote_block_ids":[1,2])"), std::string::npos);
  EXPECT_EQ(h.record().prefiller, h.prefiller(0));
  EXPECT_EQ(h.record().decoder, h.decoder(0));
  EXPECT_TRUE(prefill->destroyed);
  EXPECT_TRUE(decode->destroyed);
  h.expect_idle();
  EXPECT_TRUE(h.no_work_left());
}

TEST(pd_driver, retries_a_prefill_503_on_another_prefiller) {
  driver_harness h(2, 1);
  auto busy = h.scripted.script(h.prefiller(0), {.status = 503, .body = {R"({"error":"busy"})"}});
  auto prefill = h.scripted.script(h.prefiller(1), {.body = {std::string(prefill_ok)}});
  auto decode = h.scripted.script(h.decoder(0), sse_answer());
  h.start_two_stage();
  h.poll();

  ASSERT_EQ(h.outcome, request_outcome::ok);
  EXPECT_TRUE(busy->opened);
  EXPECT_TRUE(prefill->opened);
  EXPECT_EQ(h.record().prefiller, h.prefiller(1));
  EXPECT_EQ(h.record().prefill_retries, 1u);
  EXPECT_EQ(h.counters.prefill_retries.load(), 1u);
  EXPECT_EQ(h.backend_errors(*h.prefillers[0]), 1u);
  EXPECT_EQ(h.response.body, whole_stream());
  h.expect_idle();
  EXPECT_TRUE(h.no_work_left());
}

TEST(pd_driver, retries_a_decode_connect_failure_on_another_decoder) {
  driver_harness h(1, 2);
  auto prefill = h.scripted.script(h.prefiller(0), {.body = {std::string(prefill_ok)}});
  auto refused = h.scripted.script(h.decoder(0), {.open_failure = backend_failure::connect});
  auto decode = h.scripted.script(h.decoder(1), sse_answer());
  h.start_two_stage();
  h.poll();

  ASSERT_EQ(h.outcome, request_outcome::ok);
  EXPECT_TRUE(refused->opened);
  EXPECT_EQ(h.record().decoder, h.decoder(1));
  EXPECT_EQ(h.record().decode_retries, 1u);
  EXPECT_EQ(h.record().last_failure, backend_failure::connect);
  EXPECT_EQ(h.backend_errors(*h.decoders[0]), 1u);
  // The refused decoder received nothing: the KV is reused (no second prefill).
  EXPECT_EQ(h.scripted.unused(), 0u);
  EXPECT_EQ(decode->sent, refused->sent);
  EXPECT_EQ(h.response.body, whole_stream());
  h.expect_idle();
  EXPECT_TRUE(h.no_work_left());
}

TEST(pd_driver, limits_each_operation_by_the_leg_deadline_on_its_clock) {
  driver_harness h(1, 1);
  auto prefill = h.scripted.script(h.prefiller(0), {.body = {std::string(prefill_ok)}, .held = true});
  auto decode = h.scripted.script(h.decoder(0), sse_answer());
  decode->held = true;
  h.start_two_stage();
  h.poll();

  // The prefill: 7 s from its send to its whole answer; 1.5 s pass before its head.
  ASSERT_TRUE(prefill->waiting());
  EXPECT_EQ(prefill->connect_timeout.count(), 2.0);
  EXPECT_EQ(prefill->head_timeout.count(), 7.0);
  manual_clock::advance(std::chrono::milliseconds(1500));
  prefill->allow(2);
  h.poll();
  ASSERT_EQ(prefill->read_timeouts.size(), 1u);
  EXPECT_DOUBLE_EQ(prefill->read_timeouts[0].count(), 5.5);

  // The decode: 5 s from its send to its first byte; 2 s pass before its head. The relay's reads then have
  // the idle timeout each.
  ASSERT_TRUE(decode->waiting());
  EXPECT_EQ(decode->head_timeout.count(), 5.0);
  manual_clock::advance(std::chrono::seconds(2));
  decode->allow();
  h.poll();
  ASSERT_EQ(decode->read_timeouts.size(), 1u);
  EXPECT_DOUBLE_EQ(decode->read_timeouts[0].count(), 3.0);
  manual_clock::advance(std::chrono::seconds(1));
  decode->allow(10);
  h.poll();
  ASSERT_EQ(h.outcome, request_outcome::ok);
  ASSERT_EQ(decode->read_timeouts.size(), 2u);
  EXPECT_DOUBLE_EQ(decode->read_timeouts[1].count(), 3.0);  // stream_idle_timeout
  h.expect_idle();
  EXPECT_TRUE(h.no_work_left());
}

TEST(pd_driver, a_client_gone_mid_relay_aborts_the_request_and_releases_every_load) {
  driver_harness h(1, 1);
  h.scripted.script(h.prefiller(0), {.body = {std::string(prefill_ok)}});
  auto decode = h.scripted.script(h.decoder(0), sse_answer());
  decode->held = true;
  decode->allow(2);  // its head and first event; the next read waits
  h.start_two_stage();
  h.poll();
  ASSERT_TRUE(decode->waiting());
  EXPECT_EQ(h.response.body, first_event);
  EXPECT_FALSE(h.outcome);

  h.client_leaves.emit(net::cancellation_type::terminal);
  h.poll();
  ASSERT_EQ(h.outcome, request_outcome::client_abort);
  EXPECT_TRUE(decode->destroyed);
  EXPECT_FALSE(h.response.ended);
  EXPECT_EQ(h.backend_errors(*h.decoders[0]), 0u);
  h.expect_idle();
  EXPECT_TRUE(h.no_work_left());
}

TEST(pd_driver, the_drain_mid_prefill_answers_503_shutting_down) {
  driver_harness h(1, 1);
  auto prefill = h.scripted.script(h.prefiller(0), {.body = {std::string(prefill_ok)}, .held = true});
  h.start_two_stage();
  h.poll();
  ASSERT_TRUE(prefill->waiting());

  h.stops.stop_all();
  h.poll();
  ASSERT_EQ(h.outcome, request_outcome::shutting_down);
  EXPECT_EQ(prefill->aborts, 1);
  EXPECT_TRUE(h.response.error_sent);
  EXPECT_EQ(h.response.status, 503);
  EXPECT_EQ(h.response.code, errc::shutting_down);
  EXPECT_EQ(h.response.message, "proxy shutting down");
  EXPECT_EQ(h.response.extra_headers, retry_after_header);
  EXPECT_EQ(h.backend_errors(*h.prefillers[0]), 0u);  // the drain is not the prefiller's failure
  h.expect_idle();
  EXPECT_TRUE(h.no_work_left());
}

}  // namespace
}  // namespace pd_proxy::fake
