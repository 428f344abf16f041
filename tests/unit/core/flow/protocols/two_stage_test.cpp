// vLLM's two-stage PD protocol machine, driven event by event without sockets.
#include "pd_proxy/core/flow/protocols/two_stage.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "pd_proxy/core/config/config.hpp"
#include "pd_proxy/core/flow/flow_action_name.hpp"
#include "pd_proxy/core/flow/midstream_error.hpp"

namespace pd_proxy {
namespace {

using act = flow_action::kind;
using ev = flow_event::kind;
constexpr leg_id prefill_leg = two_stage::prefill_leg;
constexpr leg_id decode_leg = two_stage::decode_leg;

constexpr std::string_view client_body = R"({"model":"m","prompt":"Hi","max_tokens":16,"stream":true})";
constexpr std::string_view prefill_ok =
    R"({"id":"p","choices":[{"text":"x"}],"kv_transfer_params":{"remote_block_ids":[1,2],"remote_host":"h"}})";
constexpr std::string_view prefill_ok_again =
    R"({"kv_transfer_params":{"remote_block_ids":[3],"remote_host":"h2"}})";

flow_settings settings(int attempts = 3, decode_retry_kv mode = decode_retry_kv::reuse) {
  return {.attempts = attempts,
          .retry_delay = seconds_d{0.01},
          .decode_retry_kv = mode,
          .prefill_timeout = seconds_d{7},
          .first_token_timeout = seconds_d{5},
          .stream_idle_timeout = seconds_d{3}};
}

std::string_view name(act what) {
  return to_string(what);
}

bool is_async(act what) {
  switch (what) {
    case act::send:
    case act::read_body:
    case act::read_first_byte:
    case act::relay:
    case act::back_off:
    case act::answer_error:
    case act::pass_through:
      return true;
    default:
      return false;
  }
}

// What the machine asked for after one event: every action up to the one whose result is the next event
// (check_role, reserve), a wait or done. The test driver answered the others as the real driver would:
// done_sync for a synchronous action without a result, started for an asynchronous one.
class steps {
 public:
  void add(const flow_action& action) {
    actions_.push_back(action);
    bodies_.push_back(action.body != nullptr ? action.body->str() : std::string());
  }
  void append(const steps& more) {
    actions_.insert(actions_.end(), more.actions_.begin(), more.actions_.end());
    bodies_.insert(bodies_.end(), more.bodies_.begin(), more.bodies_.end());
  }

  /// The kinds, space-separated: "release+report reserve".
  std::string kinds() const {
    std::string out;
    for (const auto& a : actions_) {
      if (!out.empty()) out += ' ';
      out += name(a.what);
      if (a.with_report) out += "+report";
    }
    return out;
  }

  /// The last action but a trailing wait.
  const flow_action& last() const {
    for (auto it = actions_.rbegin(); it != actions_.rend(); ++it) {
      if (it->what != act::wait) return *it;
    }
    ADD_FAILURE() << "no action";
    return none_;
  }

  /// The one action of kind `what` (a test failure when there is not exactly one).
  const flow_action& only(act what) const { return actions_[index_of(what)]; }
  /// The body text of the one send, as it was when the send was asked for.
  const std::string& sent_body() const { return bodies_[index_of(act::send)]; }

  /// The health reports, in order.
  std::vector<std::pair<leg_id, leg_result>> reports() const {
    std::vector<std::pair<leg_id, leg_result>> out;
    for (const auto& a : actions_) {
      if (a.what == act::report || a.with_report) out.emplace_back(a.leg, a.result);
    }
    return out;
  }

 private:
  std::size_t index_of(act what) const {
    std::size_t found = actions_.size();
    int n = 0;
    for (std::size_t i = 0; i < actions_.size(); ++i) {
      if (actions_[i].what == what && n++ == 0) found = i;
    }
    if (n != 1) {
      ADD_FAILURE() << n << " actions " << name(what) << " in: " << kinds();
      actions_.push_back({});  // a default action to point at
      bodies_.emplace_back();
      return actions_.size() - 1;
    }
    return found;
  }

  mutable std::vector<flow_action> actions_;
  mutable std::vector<std::string> bodies_;
  flow_action none_{};
};

flow_event start() {
  return {.what = ev::start};
}
flow_event simple(ev what, leg_id leg = prefill_leg) {
  return {.what = what, .leg = leg};
}
flow_event role_checked(bool usable, bool none_usable = false) {
  return {.what = ev::role_checked, .leg = decode_leg, .none_usable = none_usable, .usable = usable};
}
flow_event reserved(leg_id leg) {
  return {.what = ev::reserved, .leg = leg};
}
flow_event no_backend(leg_id leg, bool none_usable = false) {
  return {.what = ev::no_backend, .leg = leg, .none_usable = none_usable};
}
flow_event head(leg_id leg, int status, std::string_view type = {}) {
  return {.what = ev::head, .leg = leg, .status = status, .content_type = type};
}
flow_event body(leg_id leg, int status, std::string_view text, std::string_view type = {}) {
  return {.what = ev::body, .leg = leg, .status = status, .content_type = type, .body = text};
}
flow_event first_byte() {
  return {.what = ev::first_byte, .leg = decode_leg};
}
flow_event failed(leg_id leg, backend_failure failure, bool request_sent = false) {
  return {.what = ev::leg_failed, .leg = leg, .failure = failure, .request_sent = request_sent};
}
flow_event backoff_done(leg_id leg) {
  return {.what = ev::backoff_done, .leg = leg};
}
flow_event relay_ended(backend_failure failure = backend_failure::none, bool stopping = false) {
  return {.what = ev::relay_ended, .leg = decode_leg, .failure = failure, .stopping = stopping};
}

// One request's machine with the test driver.
struct harness {
  explicit harness(const flow_settings& s = settings(), std::string_view text = client_body)
      : request(client_request::parse(std::string(text)).value()), machine(s, request, "req-1") {}

  steps step(const flow_event& event) {
    steps out;
    flow_action action = machine.resume(event);
    for (int i = 0; i < 16; ++i) {
      out.add(action);
      switch (action.what) {
        case act::release:
        case act::report:
        case act::close:
        case act::end_leg:
          action = machine.resume({.what = ev::done_sync, .leg = action.leg});
          continue;
        default:
          if (!is_async(action.what)) return out;  // check_role, reserve: the test answers; wait; done
          action = machine.resume({.what = ev::started, .leg = action.leg});
      }
    }
    ADD_FAILURE() << "the machine never stopped asking: " << out.kinds();
    return out;
  }

  // Start to the prefill's send: the decode role is usable, a prefiller is reserved.
  steps to_prefill_send() {
    EXPECT_EQ(step(start()).kinds(), "check_role");
    EXPECT_EQ(step(role_checked(true)).kinds(), "reserve");
    return step(reserved(prefill_leg));
  }
  // A leg's answer as the old single "answered" event: its head, then its body read whole (unless it is a
  // decoder's 2xx, whose first byte is awaited instead).
  steps answered(leg_id leg, int status, std::string_view text = {}, std::string_view type = {}) {
    steps out = step(head(leg, status, type));
    if (out.last().what == act::read_body) out.append(step(body(leg, status, text, type)));
    return out;
  }
  // Through one successful prefill: ends with the decoder's reserve.
  steps prefilled(std::string_view answer = prefill_ok) {
    to_prefill_send();
    return answered(prefill_leg, 200, answer);
  }
  // Through the decoder's send: awaiting its head.
  steps to_decode() {
    EXPECT_EQ(prefilled().last().what, act::reserve);
    return step(reserved(decode_leg));
  }
  // Through the decoder's first byte: relaying.
  steps to_relay() {
    to_decode();
    EXPECT_EQ(step(head(decode_leg, 200)).kinds(), "read_first_byte wait");
    return step(first_byte());
  }

  // The client's answer was written: the machine is done; how the request ended.
  request_outcome client_answered() {
    EXPECT_EQ(step(simple(ev::client_answered)).kinds(), "done");
    return machine.outcome();
  }

  client_request request;
  two_stage machine;
};

// The one pass_through of `s` answers the client with `status`, `type` and `text`.
void expect_passed_through(const steps& s, int status, std::string_view type, std::string_view text) {
  const auto& answer = s.only(act::pass_through);
  EXPECT_EQ(answer.status, status);
  EXPECT_EQ(answer.content_type, type);
  EXPECT_EQ(answer.text, text);
}

// The one answer_error of `s` answers the client `code` with `message`, with Retry-After when `retry_after`.
void expect_error(const steps& s, errc code, std::string_view message, bool retry_after) {
  const auto& answer = s.only(act::answer_error);
  EXPECT_EQ(answer.code, code);
  EXPECT_EQ(answer.message, message);
  EXPECT_EQ(answer.retry_after, retry_after);
}

//------------------------------------------------------------------------------ the old pd_flow tests

TEST(two_stage, happy_path_prefill_decode_relay) {
  harness h;
  const auto check = h.step(start());
  EXPECT_EQ(check.kinds(), "check_role");  // no prefill is spent when no decoder could pull its KV
  EXPECT_EQ(check.last().role, backend_role::decode);

  const auto reserve = h.step(role_checked(true));
  EXPECT_EQ(reserve.kinds(), "reserve");
  EXPECT_EQ(reserve.last().leg, prefill_leg);
  EXPECT_EQ(reserve.last().role, backend_role::prefill);
  EXPECT_TRUE(reserve.last().fresh);  // a first attempt: its tried set starts empty
  EXPECT_EQ(reserve.last().attempt, 1);
  EXPECT_EQ(reserve.last().attempts, 3);

  const auto send = h.step(reserved(prefill_leg));
  EXPECT_EQ(send.kinds(), "send wait");
  EXPECT_EQ(send.last().leg, prefill_leg);
  EXPECT_EQ(send.last().request_id, "req-1");
  EXPECT_EQ(h.step(head(prefill_leg, 200)).kinds(), "read_body wait");

  // The prefill's reservation stays as the KV hold: no end_leg of the prefill leg.
  const auto decode = h.step(body(prefill_leg, 200, prefill_ok));
  EXPECT_EQ(decode.kinds(), "release+report reserve");
  EXPECT_EQ(decode.last().leg, decode_leg);
  EXPECT_EQ(decode.last().role, backend_role::decode);
  EXPECT_TRUE(decode.last().fresh);
  EXPECT_EQ(decode.last().attempt, 1);
  EXPECT_EQ(h.machine.kv_transfer_params(), R"({"remote_block_ids":[1,2],"remote_host":"h"})");
  EXPECT_FALSE(h.machine.local_prefill());

  const auto decode_send = h.step(reserved(decode_leg));
  EXPECT_EQ(decode_send.kinds(), "send wait");
  EXPECT_EQ(decode_send.last().leg, decode_leg);
  EXPECT_EQ(decode_send.last().request_id, "req-1");
  const auto first = h.step(head(decode_leg, 200));
  EXPECT_EQ(first.kinds(), "read_first_byte wait");
  EXPECT_EQ(first.last().leg, decode_leg);

  // The KV hold lasts until the decoder's first byte: then the prefill leg ends and the relay begins.
  const auto relay = h.step(first_byte());
  EXPECT_EQ(relay.kinds(), "end_leg relay wait");
  EXPECT_EQ(relay.only(act::end_leg).leg, prefill_leg);
  EXPECT_EQ(relay.only(act::relay).leg, decode_leg);
  EXPECT_FALSE(relay.only(act::relay).keep_request);  // the request is freed at the first byte

  const auto end = h.step(relay_ended());
  EXPECT_EQ(end.kinds(), "end_leg+report done");
  EXPECT_EQ(end.only(act::end_leg).leg, decode_leg);
  EXPECT_EQ(h.machine.outcome(), request_outcome::ok);
}

TEST(two_stage, prefill_without_kv_transfer_params_means_a_local_prefill) {
  harness h;
  const auto decode = h.prefilled(R"({"choices":[]})");
  EXPECT_EQ(decode.last().what, act::reserve);
  EXPECT_TRUE(h.machine.kv_transfer_params().empty());
  EXPECT_TRUE(h.machine.local_prefill());
  EXPECT_EQ(h.step(reserved(decode_leg)).sent_body(), client_body);  // the client's request unchanged
}

TEST(two_stage, a_429_is_retried_on_another_backend_after_the_backoff) {
  harness h;
  h.to_prefill_send();
  const auto wait = h.answered(prefill_leg, 429, R"({"error":"busy"})");
  EXPECT_EQ(wait.kinds(), "read_body wait end_leg+report back_off wait");
  EXPECT_EQ(wait.last().leg, prefill_leg);
  EXPECT_EQ(wait.last().role, backend_role::prefill);
  EXPECT_DOUBLE_EQ(wait.last().timeout.count(), 0.01);
  const auto again = h.step(backoff_done(prefill_leg));
  EXPECT_EQ(again.kinds(), "reserve");  // no decode-role check on a retry
  EXPECT_EQ(again.last().leg, prefill_leg);
  EXPECT_FALSE(again.last().fresh);  // the tried set is kept: another prefiller is picked
  EXPECT_EQ(again.last().attempt, 2);
  EXPECT_EQ(h.machine.attempt(prefill_leg), 2);
}

TEST(two_stage, backoff_doubles_per_attempt) {
  harness h(settings(4));
  h.to_prefill_send();
  for (const double delay : {0.01, 0.02, 0.04}) {
    const auto back_off = h.step(failed(prefill_leg, backend_failure::connect));
    ASSERT_EQ(back_off.last().what, act::back_off);
    EXPECT_DOUBLE_EQ(back_off.last().timeout.count(), delay);
    EXPECT_EQ(h.step(backoff_done(prefill_leg)).kinds(), "reserve");
    EXPECT_EQ(h.step(reserved(prefill_leg)).kinds(), "send wait");
  }
  EXPECT_EQ(h.step(failed(prefill_leg, backend_failure::connect)).last().what, act::answer_error);
}

TEST(two_stage, a_backend_verdict_passes_through_at_once_with_its_content_type) {
  harness h;
  h.to_prefill_send();
  const auto pass = h.answered(prefill_leg, 400, "prompt too long", "text/plain");
  EXPECT_EQ(pass.kinds(), "read_body wait end_leg+report pass_through wait");
  expect_passed_through(pass, 400, "text/plain", "prompt too long");
  EXPECT_EQ(h.client_answered(), request_outcome::backend_rejected);
}

TEST(two_stage, a_decoders_4xx_passes_through_with_its_own_content_type) {
  harness h;
  h.to_decode();
  const auto pass = h.answered(decode_leg, 422, "<p>bad</p>", "text/html");
  EXPECT_EQ(pass.kinds(), "read_body wait end_leg+report pass_through wait");
  EXPECT_EQ(pass.only(act::end_leg).leg, decode_leg);
  expect_passed_through(pass, 422, "text/html", "<p>bad</p>");
  EXPECT_EQ(h.client_answered(), request_outcome::backend_rejected);
}

TEST(two_stage, a_backend_answer_without_content_type_passes_as_json) {
  harness h;
  h.to_decode();
  EXPECT_EQ(h.answered(decode_leg, 404, R"({"error":"no model"})").only(act::pass_through).content_type,
            "application/json");
}

TEST(two_stage, the_last_error_body_passes_through_when_every_attempt_answered_5xx) {
  harness h(settings(2));
  h.to_prefill_send();
  EXPECT_EQ(h.answered(prefill_leg, 503, "first", "text/plain").last().what, act::back_off);
  h.step(backoff_done(prefill_leg));
  h.step(reserved(prefill_leg));
  const auto pass = h.answered(prefill_leg, 500, R"({"error":"last"})", "application/json");
  expect_passed_through(pass, 500, "application/json", R"({"error":"last"})");
  EXPECT_EQ(h.client_answered(), request_outcome::backend_error);
}

TEST(two_stage, every_attempt_answered_5xx_without_body_is_a_502_naming_the_status) {
  harness h(settings(1));
  h.to_prefill_send();
  expect_error(h.answered(prefill_leg, 503), errc::backend_failed,
               "prefill backend answered HTTP 503 on every attempt", /*retry_after=*/false);
}

TEST(two_stage, failures_map_to_502_or_504) {
  {
    harness h(settings(1));
    h.to_decode();
    expect_error(h.step(failed(decode_leg, backend_failure::timeout, true)), errc::backend_timeout,
                 "decode backend timed out", /*retry_after=*/false);
  }
  {
    harness h(settings(1));
    h.to_prefill_send();
    expect_error(h.step(failed(prefill_leg, backend_failure::connect)), errc::backend_failed,
                 "prefill backend failed (connect)", /*retry_after=*/false);
  }
  {
    harness h(settings(1));
    h.to_decode();
    EXPECT_EQ(h.step(failed(decode_leg, backend_failure::too_large, true)).only(act::answer_error).message,
              "decode backend failed (too_large)");
  }
}

TEST(two_stage, an_empty_role_is_a_503) {
  harness prefill;
  prefill.step(start());
  prefill.step(role_checked(true));
  const auto none = prefill.step(no_backend(prefill_leg));
  expect_error(none, errc::no_backend, "no prefill instance is configured", /*retry_after=*/true);
  EXPECT_EQ(prefill.client_answered(), request_outcome::no_backend);

  harness decode;
  decode.prefilled();
  EXPECT_EQ(decode.step(no_backend(decode_leg)).only(act::answer_error).message,
            "no decode instance is configured");
}

TEST(two_stage, a_role_with_no_usable_backend_is_a_503_with_retry_after) {
  harness h;
  h.prefilled();
  const auto none = h.step(no_backend(decode_leg, /*none_usable=*/true));
  expect_error(none, errc::no_backend, "no healthy decode instance is available", /*retry_after=*/true);
}

TEST(two_stage, no_usable_decoder_before_the_prefill_is_a_503_naming_the_decode_role) {
  harness h;
  ASSERT_EQ(h.step(start()).kinds(), "check_role");
  const auto none = h.step(role_checked(/*usable=*/false, /*none_usable=*/true));
  EXPECT_EQ(none.kinds(), "answer_error wait");  // nothing reserved: no prefill is spent
  expect_error(none, errc::no_backend, "no healthy decode instance is available", /*retry_after=*/true);
  EXPECT_EQ(h.client_answered(), request_outcome::no_backend);
}

TEST(two_stage, a_retry_that_finds_no_usable_backend_answers_the_failure_it_retries) {
  harness h;
  h.to_decode();
  ASSERT_EQ(h.step(failed(decode_leg, backend_failure::connect)).last().what, act::back_off);
  ASSERT_EQ(h.step(backoff_done(decode_leg)).kinds(), "reserve");
  const auto none = h.step(no_backend(decode_leg, /*none_usable=*/true));
  expect_error(none, errc::backend_failed, "decode backend failed (connect)", /*retry_after=*/false);
  EXPECT_EQ(h.client_answered(), request_outcome::backend_error);
}

TEST(two_stage, the_drain_deadline_answers_503_with_retry_after) {
  harness h;
  h.to_prefill_send();
  h.step(failed(prefill_leg, backend_failure::connect));
  const auto stopped = h.step(simple(ev::stopped));  // during the back-off
  EXPECT_EQ(stopped.kinds(), "answer_error wait");
  expect_error(stopped, errc::shutting_down, "proxy shutting down", /*retry_after=*/true);
  EXPECT_EQ(h.client_answered(), request_outcome::shutting_down);
}

TEST(two_stage, a_client_gone_ends_the_flow_without_an_answer) {
  harness h;
  h.to_decode();
  EXPECT_EQ(h.step(simple(ev::client_gone)).kinds(), "done");
  EXPECT_EQ(h.machine.outcome(), request_outcome::client_abort);
  EXPECT_EQ(h.step(start()).kinds(), "done");  // done stays done
  EXPECT_EQ(h.step(simple(ev::client_gone)).kinds(), "done");
  EXPECT_EQ(h.machine.outcome(), request_outcome::client_abort);
}

TEST(two_stage, reuse_mode_retries_the_decode_with_the_same_kv) {
  harness h(settings(3, decode_retry_kv::reuse));
  const std::string first_body = h.to_decode().sent_body();
  const auto fail = h.step(failed(decode_leg, backend_failure::transport, /*request_sent=*/true));
  EXPECT_EQ(fail.kinds(), "end_leg+report back_off wait");
  EXPECT_EQ(fail.only(act::end_leg).leg, decode_leg);  // the KV hold (the prefill leg) is kept
  EXPECT_EQ(fail.last().leg, decode_leg);
  const auto retry = h.step(backoff_done(decode_leg));
  EXPECT_EQ(retry.kinds(), "reserve");
  EXPECT_EQ(retry.last().leg, decode_leg);
  EXPECT_FALSE(retry.last().fresh);  // the tried set is kept: another decoder is picked
  EXPECT_EQ(h.machine.attempt(decode_leg), 2);
  const auto send = h.step(reserved(decode_leg));
  EXPECT_EQ(send.sent_body(), first_body);
  EXPECT_EQ(send.last().request_id, "req-1");
}

TEST(two_stage, reprefill_mode_prefills_again_after_a_decoder_that_received_the_request) {
  harness h(settings(3, decode_retry_kv::reprefill));
  h.to_decode();
  h.step(failed(decode_leg, backend_failure::transport, /*request_sent=*/true));
  const auto again = h.step(backoff_done(decode_leg));
  EXPECT_EQ(again.kinds(), "end_leg check_role");  // the old KV hold is given up, then a new prefill
  EXPECT_EQ(again.only(act::end_leg).leg, prefill_leg);
  EXPECT_EQ(again.last().role, backend_role::decode);
  const auto reserve = h.step(role_checked(true));
  EXPECT_EQ(reserve.last().leg, prefill_leg);
  EXPECT_TRUE(reserve.last().fresh);  // a new prefill: any prefiller again
  EXPECT_EQ(h.step(reserved(prefill_leg)).last().request_id, "req-1-reprefill1");

  const auto decode = h.answered(prefill_leg, 200, prefill_ok_again);
  EXPECT_EQ(decode.last().what, act::reserve);
  EXPECT_EQ(decode.last().leg, decode_leg);
  EXPECT_FALSE(decode.last().fresh);  // the same decode attempt goes on, avoiding the failed decoder
  EXPECT_EQ(decode.last().attempt, 2);
  EXPECT_EQ(h.machine.attempt(decode_leg), 2);
  EXPECT_EQ(h.machine.kv_transfer_params(), R"({"remote_block_ids":[3],"remote_host":"h2"})");
  const auto send = h.step(reserved(decode_leg));
  EXPECT_EQ(send.last().request_id, "req-1-reprefill1");  // the decode of that KV goes under its id
  EXPECT_NE(send.sent_body().find(R"("remote_host":"h2")"), std::string::npos);

  h.step(failed(decode_leg, backend_failure::transport, true));
  h.step(backoff_done(decode_leg));
  h.step(role_checked(true));
  EXPECT_EQ(h.step(reserved(prefill_leg)).last().request_id, "req-1-reprefill2");
}

TEST(two_stage, reprefill_mode_reuses_the_kv_when_the_decoder_never_got_the_request) {
  harness h(settings(3, decode_retry_kv::reprefill));
  h.to_decode();
  h.step(failed(decode_leg, backend_failure::connect, /*request_sent=*/false));
  const auto retry = h.step(backoff_done(decode_leg));
  EXPECT_EQ(retry.kinds(), "reserve");  // the KV hold is kept
  EXPECT_EQ(retry.last().leg, decode_leg);
}

TEST(two_stage, a_failed_reprefill_answers_as_a_prefill_failure) {
  {
    harness h(settings(1, decode_retry_kv::reprefill));
    h.to_decode();  // one attempt: the decode failure is final, no re-prefill
    EXPECT_EQ(h.step(failed(decode_leg, backend_failure::transport, true)).last().what, act::answer_error);
  }
  harness h(settings(2, decode_retry_kv::reprefill));
  h.to_decode();
  h.step(failed(decode_leg, backend_failure::transport, true));
  h.step(backoff_done(decode_leg));
  h.step(role_checked(true));
  h.step(reserved(prefill_leg));
  h.step(failed(prefill_leg, backend_failure::connect));
  h.step(backoff_done(prefill_leg));
  h.step(reserved(prefill_leg));
  EXPECT_EQ(h.step(failed(prefill_leg, backend_failure::connect)).only(act::answer_error).message,
            "prefill backend failed (connect)");
}

TEST(two_stage, a_reprefill_that_finds_no_usable_decoder_answers_the_decode_failure_it_retries) {
  harness h(settings(3, decode_retry_kv::reprefill));
  h.to_decode();
  h.step(failed(decode_leg, backend_failure::transport, true));
  EXPECT_EQ(h.step(backoff_done(decode_leg)).last().what, act::check_role);
  const auto none = h.step(role_checked(false, true));
  EXPECT_EQ(none.only(act::answer_error).message, "decode backend failed (transport)");
}

TEST(two_stage, midstream_failures_end_the_relay) {
  harness broken;
  broken.to_relay();
  EXPECT_EQ(broken.step(relay_ended(backend_failure::transport)).last().what, act::done);
  EXPECT_EQ(broken.machine.outcome(), request_outcome::backend_error);

  harness stopped;
  stopped.to_relay();
  EXPECT_EQ(stopped.step(relay_ended(backend_failure::transport, /*stopping=*/true)).last().what, act::done);
  EXPECT_EQ(stopped.machine.outcome(), request_outcome::shutting_down);
}

TEST(two_stage, an_unexpected_event_is_a_500_not_undefined_behaviour) {
  {
    harness h;
    h.step(start());
    const auto error = h.step(first_byte());  // the decode role's check has no first byte
    EXPECT_EQ(error.kinds(), "answer_error wait");
    EXPECT_EQ(error.last().code, errc::internal);
    EXPECT_EQ(h.client_answered(), request_outcome::backend_error);
  }
  {
    harness h;
    h.to_prefill_send();
    const auto error = h.step(simple(ev::first_byte, prefill_leg));  // a prefill has no first byte
    EXPECT_EQ(error.last().what, act::answer_error);
    EXPECT_EQ(error.last().code, errc::internal);
  }
  {
    harness h;
    h.to_relay();
    EXPECT_EQ(h.step(backoff_done(decode_leg)).kinds(), "done");  // answering cannot begin mid-relay
    EXPECT_EQ(h.machine.outcome(), request_outcome::backend_error);
  }
}

TEST(midstream_error, mapping) {
  EXPECT_EQ(midstream_error(true, backend_failure::timeout).code, errc::shutting_down);
  EXPECT_EQ(midstream_error(false, backend_failure::timeout).code, errc::backend_timeout);
  EXPECT_EQ(midstream_error(false, backend_failure::timeout).message, "decode backend stalled mid-stream");
  EXPECT_EQ(midstream_error(false, backend_failure::transport).code, errc::backend_failed);
  EXPECT_EQ(midstream_error(false, backend_failure::transport).message, "decode backend failed mid-stream");
}

TEST(flow_settings, from_config) {
  proxy_config config;
  config.max_retries = 0;
  EXPECT_EQ(flow_settings_of(config).attempts, 1);
  config.max_retries = 5;
  config.decode_retry_kv = decode_retry_kv::reprefill;
  config.prefill_timeout = seconds_d{11};
  config.first_token_timeout = seconds_d{12};
  config.stream_idle_timeout = seconds_d{13};
  const auto s = flow_settings_of(config);
  EXPECT_EQ(s.attempts, 5);
  EXPECT_EQ(s.decode_retry_kv, decode_retry_kv::reprefill);
  EXPECT_DOUBLE_EQ(s.retry_delay.count(), config.retry_delay.count());
  EXPECT_DOUBLE_EQ(s.prefill_timeout.count(), 11);
  EXPECT_DOUBLE_EQ(s.first_token_timeout.count(), 12);
  EXPECT_DOUBLE_EQ(s.stream_idle_timeout.count(), 13);
  EXPECT_EQ(s.disagg_min_prompt_tokens, 0u);
  config.disagg_min_prompt_tokens = 512;
  EXPECT_EQ(flow_settings_of(config).disagg_min_prompt_tokens, 512u);
  EXPECT_TRUE(flow_settings_of(config).usage_from_prefiller);
  config.usage_from_decoder = true;
  EXPECT_FALSE(flow_settings_of(config).usage_from_prefiller);
  // A machine never runs with fewer than one attempt per leg.
  const auto request = client_request::parse(std::string(client_body)).value();
  EXPECT_EQ(two_stage(flow_settings{.attempts = 0}, request, "r").attempts(), 1);
}

//------------------------------------------------------------------------------ the leg-aware vocabulary

using reports = std::vector<std::pair<leg_id, leg_result>>;

TEST(two_stage, each_legs_health_is_reported_once_per_attempt) {
  {
    harness h;  // 2xx prefill, then a relay relayed whole
    EXPECT_EQ(h.prefilled().reports(), (reports{{prefill_leg, leg_result::succeeded}}));
    h.step(reserved(decode_leg));
    h.step(head(decode_leg, 200));
    EXPECT_TRUE(h.step(first_byte()).reports().empty());  // the relay's end says how the decoder did
    EXPECT_EQ(h.step(relay_ended()).reports(), (reports{{decode_leg, leg_result::succeeded}}));
  }
  {
    harness h;  // a leg failure, a 429 and a 5xx count against the backend
    h.to_prefill_send();
    EXPECT_EQ(h.step(failed(prefill_leg, backend_failure::connect)).reports(),
              (reports{{prefill_leg, leg_result::failed}}));
    h.step(backoff_done(prefill_leg));
    h.step(reserved(prefill_leg));
    EXPECT_EQ(h.answered(prefill_leg, 429).reports(), (reports{{prefill_leg, leg_result::failed}}));
    h.step(backoff_done(prefill_leg));
    h.step(reserved(prefill_leg));
    EXPECT_EQ(h.answered(prefill_leg, 502, "bad gateway").reports(),
              (reports{{prefill_leg, leg_result::failed}}));
  }
  {
    harness h;  // a 4xx is the backend judging the request: it is alive
    h.to_prefill_send();
    EXPECT_EQ(h.answered(prefill_leg, 400, "too long").reports(),
              (reports{{prefill_leg, leg_result::succeeded}}));
  }
  {
    harness h;  // the decoder likewise
    h.to_decode();
    EXPECT_EQ(h.answered(decode_leg, 422, "bad").reports(), (reports{{decode_leg, leg_result::succeeded}}));
  }
  {
    harness h;
    h.to_decode();
    EXPECT_EQ(h.answered(decode_leg, 503, "busy").reports(), (reports{{decode_leg, leg_result::failed}}));
    h.step(backoff_done(decode_leg));
    h.step(reserved(decode_leg));
    h.step(head(decode_leg, 200));
    EXPECT_EQ(h.step(failed(decode_leg, backend_failure::timeout, true)).reports(),
              (reports{{decode_leg, leg_result::failed}}));  // no first byte in time
  }
  {
    harness h;  // a relay broken mid-stream
    h.to_relay();
    EXPECT_EQ(h.step(relay_ended(backend_failure::transport)).reports(),
              (reports{{decode_leg, leg_result::failed}}));
  }
  {
    harness h;  // the drain stopped the relay: nothing to attribute to the decoder
    h.to_relay();
    const auto end = h.step(relay_ended(backend_failure::transport, /*stopping=*/true));
    EXPECT_TRUE(end.reports().empty());
    EXPECT_EQ(end.kinds(), "end_leg done");
    EXPECT_EQ(end.only(act::end_leg).leg, decode_leg);
  }
  {
    harness h;  // nor when it stopped a leg before its answer
    h.to_prefill_send();
    EXPECT_TRUE(h.step(simple(ev::stopped)).reports().empty());
  }
}

TEST(two_stage, the_prefills_tokens_are_released_when_its_answer_came) {
  {
    harness h;
    const auto decode = h.prefilled();
    EXPECT_EQ(decode.kinds(), "read_body wait release+report reserve");
    EXPECT_EQ(decode.only(act::release).leg, prefill_leg);
    EXPECT_EQ(decode.only(act::release).hold, leg_hold::tokens);  // the KV stays held
  }
  {
    harness h;  // an error answer ends the prefill leg, which releases its tokens with the rest
    h.to_prefill_send();
    const auto retry = h.answered(prefill_leg, 503, "busy");
    EXPECT_EQ(retry.kinds(), "read_body wait end_leg+report back_off wait");
    EXPECT_EQ(retry.only(act::end_leg).leg, prefill_leg);
  }
  {
    harness h;  // a leg failure ends the leg, which releases everything it held
    h.to_prefill_send();
    EXPECT_EQ(h.step(failed(prefill_leg, backend_failure::transport)).kinds(),
              "end_leg+report back_off wait");
  }
  {
    harness h;  // the decoder's reservation has nothing to release before its leg ends
    h.to_decode();
    EXPECT_EQ(h.answered(decode_leg, 503, "busy").kinds(), "read_body wait end_leg+report back_off wait");
  }
}

TEST(two_stage, the_legs_bodies_are_splices_of_the_clients_request) {
  harness h;
  const auto prefill = h.to_prefill_send();
  EXPECT_EQ(prefill.sent_body(), make_prefill_body(h.request));
  EXPECT_EQ(
      prefill.sent_body(),
      R"({"model":"m","prompt":"Hi","max_tokens":1,"stream":false,"min_tokens":1,)"
      R"("kv_transfer_params":{"do_remote_decode":true,"do_remote_prefill":false,"remote_engine_id":null,)"
      R"("remote_block_ids":null,"remote_host":null,"remote_port":null}})");
  h.answered(prefill_leg, 200, prefill_ok);
  const auto decode = h.step(reserved(decode_leg));
  const std::string_view kv = R"({"remote_block_ids":[1,2],"remote_host":"h"})";
  EXPECT_EQ(decode.sent_body(), make_decode_body(h.request, kv));
  EXPECT_EQ(decode.sent_body(), R"({"model":"m","prompt":"Hi","max_tokens":16,"stream":true,)"
                                R"("kv_transfer_params":{"remote_block_ids":[1,2],"remote_host":"h"}})");
}

TEST(two_stage, each_action_carries_its_timeout) {
  harness h;
  const auto prefill = h.to_prefill_send();
  EXPECT_DOUBLE_EQ(prefill.only(act::send).timeout.count(), 7);  // prefill_timeout, to the whole answer
  const auto read = h.step(head(prefill_leg, 200));
  EXPECT_DOUBLE_EQ(read.only(act::read_body).timeout.count(), 0);  // within the send's deadline
  h.step(body(prefill_leg, 200, prefill_ok));
  const auto decode = h.step(reserved(decode_leg));
  EXPECT_DOUBLE_EQ(decode.only(act::send).timeout.count(), 5);  // first_token_timeout
  const auto first = h.step(head(decode_leg, 200));
  EXPECT_DOUBLE_EQ(first.only(act::read_first_byte).timeout.count(), 0);       // within the send's deadline
  EXPECT_DOUBLE_EQ(h.step(first_byte()).only(act::relay).timeout.count(), 3);  // stream_idle_timeout per read

  harness error;
  error.to_decode();
  const auto error_body = error.step(head(decode_leg, 500, "text/plain"));
  EXPECT_DOUBLE_EQ(error_body.only(act::read_body).timeout.count(), 3);  // stream_idle_timeout
  const auto back_off = error.step(body(decode_leg, 500, "oops", "text/plain"));
  EXPECT_DOUBLE_EQ(back_off.only(act::back_off).timeout.count(), 0.01);  // retry_delay
}

TEST(two_stage, the_outcome_is_a_timeout_when_the_requests_last_failure_was_one) {
  {
    harness h(settings(1));
    h.to_prefill_send();
    EXPECT_EQ(h.step(failed(prefill_leg, backend_failure::timeout)).only(act::answer_error).code,
              errc::backend_timeout);
    EXPECT_EQ(h.client_answered(), request_outcome::timeout);
  }
  {
    harness h(settings(2));  // the last failure decides: a timeout, then a refused connection
    h.to_prefill_send();
    h.step(failed(prefill_leg, backend_failure::timeout));
    h.step(backoff_done(prefill_leg));
    h.step(reserved(prefill_leg));
    h.step(failed(prefill_leg, backend_failure::connect));
    EXPECT_EQ(h.client_answered(), request_outcome::backend_error);
  }
  {
    harness h(settings(2));  // a timeout, then a 503 whose body passes through: the answer is no failure
    h.to_prefill_send();
    h.step(failed(prefill_leg, backend_failure::timeout));
    h.step(backoff_done(prefill_leg));
    h.step(reserved(prefill_leg));
    EXPECT_EQ(h.answered(prefill_leg, 503, "busy").only(act::pass_through).status, 503);
    EXPECT_EQ(h.client_answered(), request_outcome::timeout);
  }
  {
    harness h(settings(2));  // likewise without a body
    h.to_prefill_send();
    h.step(failed(prefill_leg, backend_failure::timeout));
    h.step(backoff_done(prefill_leg));
    h.step(reserved(prefill_leg));
    EXPECT_EQ(h.answered(prefill_leg, 503).only(act::answer_error).code, errc::backend_failed);
    EXPECT_EQ(h.client_answered(), request_outcome::timeout);
  }
  {
    harness h;  // a stalled relay
    h.to_relay();
    h.step(relay_ended(backend_failure::timeout));
    EXPECT_EQ(h.machine.outcome(), request_outcome::timeout);
  }
  {
    harness h;  // a decode timeout, then a relay broken otherwise
    h.to_decode();
    h.step(failed(decode_leg, backend_failure::timeout, true));
    h.step(backoff_done(decode_leg));
    h.step(reserved(decode_leg));
    h.step(head(decode_leg, 200));
    h.step(first_byte());
    h.step(relay_ended(backend_failure::transport));
    EXPECT_EQ(h.machine.outcome(), request_outcome::backend_error);
  }
}

//------------------------------------------------------------------------------ conditional disaggregation

// The settings with --disagg-min-prompt-tokens `min_tokens`.
flow_settings skipping(std::size_t min_tokens, int attempts = 3,
                       decode_retry_kv mode = decode_retry_kv::reuse) {
  flow_settings s = settings(attempts, mode);
  s.disagg_min_prompt_tokens = min_tokens;
  return s;
}

// client_body's estimate (bytes / 4): a threshold above it skips the prefill, one at or below it does not.
constexpr std::size_t client_estimate = client_body.size() / 4;

// Every action of `s` is on the decode leg.
void expect_decode_only(const steps& s) {
  for (const auto& [leg, result] : s.reports()) EXPECT_EQ(leg, decode_leg);
  EXPECT_EQ(s.kinds().find("check_role"), std::string::npos) << s.kinds();
}

TEST(two_stage_disaggregation, a_prompt_below_the_threshold_goes_straight_to_a_decoder) {
  harness h(skipping(client_estimate + 1));
  EXPECT_TRUE(h.machine.prefill_skipped());  // known before start (the driver records it)
  const auto reserve = h.step(start());
  EXPECT_EQ(reserve.kinds(), "reserve");  // no decode-role check, no prefill reserve
  EXPECT_EQ(reserve.last().leg, decode_leg);
  EXPECT_EQ(reserve.last().role, backend_role::decode);
  EXPECT_TRUE(reserve.last().fresh);
  EXPECT_EQ(reserve.last().attempt, 1);
  EXPECT_EQ(reserve.last().attempts, 3);

  const auto send = h.step(reserved(decode_leg));
  EXPECT_EQ(send.kinds(), "send wait");
  EXPECT_EQ(send.last().leg, decode_leg);
  EXPECT_EQ(send.last().request_id, "req-1");
  EXPECT_DOUBLE_EQ(send.last().timeout.count(), 5);  // the first-token timeout covers the local prefill
  EXPECT_EQ(send.sent_body(), client_body);          // unchanged: no kv_transfer_params
  EXPECT_EQ(h.step(head(decode_leg, 200)).kinds(), "read_first_byte wait");

  const auto relay = h.step(first_byte());
  EXPECT_EQ(relay.kinds(), "relay wait");  // no prefill leg to end
  EXPECT_EQ(relay.last().leg, decode_leg);
  const auto end = h.step(relay_ended());
  EXPECT_EQ(end.kinds(), "end_leg+report done");
  EXPECT_EQ(end.only(act::end_leg).leg, decode_leg);
  EXPECT_EQ(h.machine.outcome(), request_outcome::ok);
  EXPECT_EQ(h.machine.attempt(prefill_leg), 0);  // never attempted
  EXPECT_FALSE(h.machine.local_prefill());       // not the misconfigured connector's case
  EXPECT_TRUE(h.machine.kv_transfer_params().empty());
}

TEST(two_stage_disaggregation, at_or_above_the_threshold_the_request_is_disaggregated) {
  for (const std::size_t min_tokens : {client_estimate, client_estimate - 1, std::size_t{1}}) {
    harness h(skipping(min_tokens));
    EXPECT_FALSE(h.machine.prefill_skipped()) << min_tokens;
    EXPECT_EQ(h.to_prefill_send().kinds(), "send wait");
    EXPECT_EQ(h.answered(prefill_leg, 200, prefill_ok).kinds(), "read_body wait release+report reserve");
    EXPECT_NE(h.step(reserved(decode_leg)).sent_body().find("kv_transfer_params"), std::string::npos);
  }
}

TEST(two_stage_disaggregation, zero_never_skips) {
  harness h(skipping(0), "{}");  // an estimate of 0 tokens
  EXPECT_FALSE(h.machine.prefill_skipped());
  EXPECT_EQ(h.step(start()).kinds(), "check_role");
}

TEST(two_stage_disaggregation, a_clients_own_kv_transfer_params_never_reach_the_decoder) {
  constexpr std::string_view text = R"({"prompt":"x","kv_transfer_params":{"remote_host":"evil"},"n":1})";
  harness h(skipping(1000), text);
  ASSERT_EQ(h.step(start()).kinds(), "reserve");
  EXPECT_EQ(h.step(reserved(decode_leg)).sent_body(), R"({"prompt":"x","n":1})");
}

TEST(two_stage_disaggregation, decode_retries_follow_the_decode_rules_and_never_re_prefill) {
  for (const auto mode : {decode_retry_kv::reuse, decode_retry_kv::reprefill}) {
    harness h(skipping(1000, 3, mode));
    h.step(start());
    h.step(reserved(decode_leg));
    const auto fail = h.step(failed(decode_leg, backend_failure::transport, /*request_sent=*/true));
    EXPECT_EQ(fail.kinds(), "end_leg+report back_off wait");
    EXPECT_DOUBLE_EQ(fail.last().timeout.count(), 0.01);
    const auto retry = h.step(backoff_done(decode_leg));
    EXPECT_EQ(retry.kinds(), "reserve") << to_string(mode);  // no prefill, even in reprefill mode
    EXPECT_EQ(retry.last().leg, decode_leg);
    EXPECT_FALSE(retry.last().fresh);  // another decoder is picked
    EXPECT_EQ(retry.last().attempt, 2);
    const auto send = h.step(reserved(decode_leg));
    EXPECT_EQ(send.sent_body(), client_body);
    EXPECT_EQ(send.last().request_id, "req-1");
    // A 503, then the last attempt's failure is the client's answer.
    const auto busy = h.answered(decode_leg, 503, R"({"error":"busy"})", "application/json");
    EXPECT_EQ(busy.last().what, act::back_off);
    expect_decode_only(busy);
    h.step(backoff_done(decode_leg));
    h.step(reserved(decode_leg));
    const auto last = h.step(failed(decode_leg, backend_failure::timeout, true));
    expect_error(last, errc::backend_timeout, "decode backend timed out", /*retry_after=*/false);
    expect_decode_only(last);
    EXPECT_EQ(h.client_answered(), request_outcome::timeout);
  }
}

TEST(two_stage_disaggregation, no_usable_decoder_is_a_503_naming_the_decode_role) {
  harness h(skipping(1000));
  ASSERT_EQ(h.step(start()).kinds(), "reserve");
  const auto none = h.step(no_backend(decode_leg, /*none_usable=*/true));
  expect_error(none, errc::no_backend, "no healthy decode instance is available", /*retry_after=*/true);
  EXPECT_EQ(h.client_answered(), request_outcome::no_backend);
}

TEST(two_stage_disaggregation, a_decoders_verdict_passes_through) {
  harness h(skipping(1000));
  h.step(start());
  h.step(reserved(decode_leg));
  const auto pass = h.answered(decode_leg, 400, "too long", "text/plain");
  EXPECT_EQ(pass.kinds(), "read_body wait end_leg+report pass_through wait");
  expect_passed_through(pass, 400, "text/plain", "too long");
  EXPECT_EQ(h.client_answered(), request_outcome::backend_rejected);
}

}  // namespace
}  // namespace pd_proxy

//------------------------------------------------------------------------------ the prefiller's cached_tokens

namespace pd_proxy {
namespace {

constexpr std::string_view prefill_with_cache =
    R"({"usage":{"prompt_tokens":64,"prompt_tokens_details":{"cached_tokens":48}},"kv_transfer_params":{"a":1}})";

// The cached_tokens the relay is asked to put into the answer's usage, for a client body and settings.
std::string relayed_cached_tokens(std::string_view client, const flow_settings& s,
                                  std::string_view answer = prefill_with_cache) {
  harness h(s, client);
  h.to_prefill_send();
  EXPECT_EQ(h.answered(prefill_leg, 200, answer).last().what, act::reserve);
  h.step(reserved(decode_leg));
  EXPECT_EQ(h.step(head(decode_leg, 200)).kinds(), "read_first_byte wait");
  const answer_rewrite* rewrite = h.step(first_byte()).only(act::relay).rewrite;
  return rewrite != nullptr ? rewrite->cached_tokens : "";
}

TEST(two_stage_usage, the_prefillers_cached_tokens_go_to_the_answers_usage) {
  EXPECT_EQ(relayed_cached_tokens(R"({"prompt":"Hi","stream":false})", settings()), "48");
  EXPECT_EQ(relayed_cached_tokens(R"({"prompt":"Hi"})", settings()), "48");
  EXPECT_EQ(relayed_cached_tokens(R"({"prompt":"Hi","stream":true,"stream_options":{"include_usage":true}})",
                                  settings()),
            "48");
}

TEST(two_stage_usage, nothing_is_rewritten_without_a_figure_a_usage_chunk_or_with_usage_from_decoder) {
  // A stream without stream_options.include_usage ends with no usage chunk.
  EXPECT_EQ(relayed_cached_tokens(R"({"prompt":"Hi","stream":true})", settings()), "");
  // The prefiller reported no cached_tokens.
  EXPECT_EQ(relayed_cached_tokens(R"({"prompt":"Hi"})", settings(), prefill_ok), "");
  // --usage-from-decoder.
  flow_settings from_decoder = settings();
  from_decoder.usage_from_prefiller = false;
  EXPECT_EQ(relayed_cached_tokens(R"({"prompt":"Hi"})", from_decoder), "");
}

}  // namespace
}  // namespace pd_proxy

//------------------------------------------------------------------------------ the prefiller's
// prompt_logprobs

namespace pd_proxy {
namespace {

constexpr std::string_view prefill_with_logprobs =
    R"({"choices":[{"index":0,"text":"x","prompt_logprobs":[null,{"9":{"logprob":-1.5,"rank":1}}]}],)"
    R"("prompt_logprobs":null,"kv_transfer_params":{"a":1}})";

// What the machine sent each leg and asked the relay to rewrite, for a client body.
struct logprobs_run {
  std::string prefill_body;
  std::string decode_body;
  const answer_rewrite* rewrite = nullptr;
};

logprobs_run run_with_logprobs(harness& h, std::string_view answer = prefill_with_logprobs) {
  logprobs_run run;
  run.prefill_body = h.to_prefill_send().sent_body();
  EXPECT_EQ(h.answered(prefill_leg, 200, answer).last().what, act::reserve);
  run.decode_body = h.step(reserved(decode_leg)).sent_body();
  EXPECT_EQ(h.step(head(decode_leg, 200)).kinds(), "read_first_byte wait");
  run.rewrite = h.step(first_byte()).only(act::relay).rewrite;
  return run;
}

TEST(two_stage_prompt_logprobs, the_prefiller_is_asked_and_its_figures_go_to_the_relay) {
  for (const bool stream : {false, true}) {
    const std::string client =
        std::string(R"({"prompt":"Hi","prompt_logprobs":2,"stream":)") + (stream ? "true" : "false") + "}";
    harness h(settings(), client);
    const logprobs_run run = run_with_logprobs(h);
    EXPECT_NE(run.prefill_body.find(R"("prompt_logprobs":2)"), std::string::npos) << run.prefill_body;
    EXPECT_EQ(run.decode_body.find("prompt_logprobs"), std::string::npos) << run.decode_body;
    ASSERT_NE(run.rewrite, nullptr);
    EXPECT_TRUE(run.rewrite->logprobs.top_level.empty());  // null in the prefill answer
    ASSERT_EQ(run.rewrite->logprobs.choices.size(), 1u);
    EXPECT_EQ(run.rewrite->logprobs.choices[0].index, "0");
    EXPECT_EQ(run.rewrite->logprobs.choices[0].value, R"([null,{"9":{"logprob":-1.5,"rank":1}}])");
  }
}

TEST(two_stage_prompt_logprobs, a_client_without_them_or_with_null_changes_nothing) {
  for (const std::string_view client :
       {R"({"prompt":"Hi","stream":true})", R"({"prompt":"Hi","stream":true,"prompt_logprobs":null})"}) {
    harness h(settings(), client);
    const logprobs_run run = run_with_logprobs(h);
    EXPECT_EQ(run.rewrite, nullptr) << client;  // a stream without include_usage: nothing to rewrite
    EXPECT_EQ(run.decode_body, make_decode_body(h.request, R"({"a":1})")) << client;
  }
}

TEST(two_stage_prompt_logprobs, a_chat_answers_top_level_figures_and_usage_comes_too) {
  constexpr std::string_view chat_answer =
      R"({"choices":[{"index":0,"message":{}}],"usage":{"prompt_tokens_details":{"cached_tokens":16}},)"
      R"("prompt_logprobs":[null,{"5":{"logprob":-0.5}}],"kv_transfer_params":{"a":1}})";
  harness h(settings(), R"({"messages":[{"role":"user","content":"Hi"}],"prompt_logprobs":0})");
  const logprobs_run run = run_with_logprobs(h, chat_answer);
  ASSERT_NE(run.rewrite, nullptr);
  EXPECT_EQ(run.rewrite->logprobs.top_level, R"([null,{"5":{"logprob":-0.5}}])");
  EXPECT_TRUE(run.rewrite->logprobs.choices.empty());
  EXPECT_EQ(run.rewrite->cached_tokens, "16");
  EXPECT_EQ(run.decode_body, R"({"messages":[{"role":"user","content":"Hi"}],"kv_transfer_params":{"a":1}})");
}

TEST(two_stage_prompt_logprobs, a_skipped_prefill_leaves_them_to_the_decoder) {
  const std::string client = R"({"prompt":"Hi","prompt_logprobs":1})";
  harness h(skipping(1000), client);
  h.step(start());
  EXPECT_EQ(h.step(reserved(decode_leg)).sent_body(), client);
  EXPECT_EQ(h.step(head(decode_leg, 200)).kinds(), "read_first_byte wait");
  EXPECT_EQ(h.step(first_byte()).only(act::relay).rewrite, nullptr);
}

}  // namespace
}  // namespace pd_proxy
