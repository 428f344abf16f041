// SGLang's bootstrap PD protocol machine, driven event by event without sockets: both legs in flight at
// once, every failure path.
#include "pd_proxy/core/flow/protocols/sglang_bootstrap.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "pd_proxy/core/backends/backend.hpp"
#include "pd_proxy/core/flow/bootstrap_body.hpp"
#include "pd_proxy/core/flow/flow_action_name.hpp"
#include "pd_proxy/core/flow/protocols/registry.hpp"

namespace pd_proxy {
namespace {

using act = flow_action::kind;
using ev = flow_event::kind;
constexpr leg_id p_leg = sglang_bootstrap::prefill_leg;
constexpr leg_id d_leg = sglang_bootstrap::decode_leg;

constexpr std::string_view client_body = R"({"model":"m","prompt":"Hi","max_tokens":16,"stream":true})";

flow_settings settings(int attempts = 3) {
  return {.attempts = attempts,
          .retry_delay = seconds_d{0.01},
          .prefill_timeout = seconds_d{7},
          .first_token_timeout = seconds_d{5},
          .stream_idle_timeout = seconds_d{3}};
}

std::string_view name(act what) {
  return to_string(what);
}

// What the machine asked for after one event (answered as the real driver would: done_sync for a
// synchronous action without a result, started for an asynchronous one), up to a reserve, a wait or done.
struct steps {
  std::vector<flow_action> actions;
  std::vector<std::string> bodies;

  /// "end_leg+report@0 end_leg@1 back_off@0": kinds, with the leg of leg actions.
  std::string kinds() const {
    std::string out;
    for (const auto& a : actions) {
      if (!out.empty()) out += ' ';
      out += name(a.what);
      if (a.with_report) out += "+report";
      if (a.what == act::end_leg || a.what == act::send || a.what == act::read_body ||
          a.what == act::reserve || a.what == act::back_off)
        out += "@" + std::to_string(a.leg);
    }
    return out;
  }
  const flow_action& first(act what) const {
    for (const auto& a : actions) {
      if (a.what == what) return a;
    }
    ADD_FAILURE() << "no " << name(what) << " in: " << kinds();
    static const flow_action none{};
    return none;
  }
  std::vector<std::pair<leg_id, leg_result>> reports() const {
    std::vector<std::pair<leg_id, leg_result>> out;
    for (const auto& a : actions) {
      if (a.with_report || a.what == act::report) out.emplace_back(a.leg, a.result);
    }
    return out;
  }
};

struct harness {
  explicit harness(const flow_settings& s = settings(), std::string_view text = client_body)
      : request(client_request::parse(std::string(text)).value()), machine(s, request, "req-1") {}

  steps step(const flow_event& event) {
    steps out;
    flow_action action = machine.resume(event);
    for (int i = 0; i < 16; ++i) {
      out.actions.push_back(action);
      out.bodies.push_back(action.body != nullptr ? action.body->str() : std::string());
      switch (action.what) {
        case act::release:
        case act::report:
        case act::close:
        case act::end_leg:
          action = machine.resume({.what = ev::done_sync, .leg = action.leg});
          continue;
        case act::send:
        case act::read_body:
        case act::read_first_byte:
        case act::relay:
        case act::back_off:
        case act::answer_error:
        case act::pass_through:
          action = machine.resume({.what = ev::started, .leg = action.leg});
          continue;
        default:
          return out;
      }
    }
    ADD_FAILURE() << "the machine never stopped asking: " << out.kinds();
    return out;
  }

  flow_event reserved(leg_id leg) {
    return {.what = ev::reserved, .leg = leg, .target = leg == p_leg ? &prefiller : &decoder};
  }
  // Start to both sends: returns the step that started them.
  steps to_sends() {
    EXPECT_EQ(step({.what = ev::start}).kinds(), "reserve@0");
    EXPECT_EQ(step(reserved(p_leg)).kinds(), "reserve@1");
    return step(reserved(d_leg));
  }
  // Through the decoder's first byte: relaying, the prefill still awaiting its head.
  steps to_relay() {
    to_sends();
    EXPECT_EQ(step(head(d_leg, 200)).kinds(), "read_first_byte wait");
    return step({.what = ev::first_byte, .leg = d_leg});
  }
  static flow_event head(leg_id leg, int status) { return {.what = ev::head, .leg = leg, .status = status}; }
  static flow_event body(leg_id leg, int status, std::string_view text = {}, std::string_view type = {}) {
    return {.what = ev::body, .leg = leg, .status = status, .content_type = type, .body = text};
  }
  static flow_event failed(leg_id leg, backend_failure failure, bool sent = false) {
    return {.what = ev::leg_failed, .leg = leg, .failure = failure, .request_sent = sent};
  }

  backend prefiller{7, backend_role::prefill, backend_address{"10.0.0.7", 8001, 8998}};
  backend decoder{8, backend_role::decode, backend_address{"10.0.0.8", 8002}};
  client_request request;
  sglang_bootstrap machine;
};

TEST(sglang_bootstrap, is_registered) {
  const pd_protocol* protocol = find_pd_protocol("sglang-bootstrap");
  ASSERT_NE(protocol, nullptr);
  const auto request = client_request::parse(std::string(client_body)).value();
  EXPECT_NE(protocol->make(flow_settings{}, request, "r"), nullptr);
}

TEST(sglang_bootstrap, one_body_to_both_legs_at_once) {
  harness h;
  const auto start = h.step({.what = ev::start});
  EXPECT_EQ(start.kinds(), "reserve@0");
  EXPECT_EQ(start.first(act::reserve).role, backend_role::prefill);
  EXPECT_TRUE(start.first(act::reserve).fresh);
  EXPECT_EQ(start.first(act::reserve).attempt, 1);
  EXPECT_EQ(start.first(act::reserve).attempts, 3);
  const auto decode = h.step(h.reserved(p_leg));
  EXPECT_EQ(decode.first(act::reserve).role, backend_role::decode);
  EXPECT_TRUE(decode.first(act::reserve).fresh);

  const auto sends = h.step(h.reserved(d_leg));
  ASSERT_EQ(sends.kinds(), "send@0 send@1 wait");
  const flow_action& p = sends.actions[0];
  const flow_action& d = sends.actions[1];
  EXPECT_EQ(p.body, d.body);  // the same body, byte for byte
  EXPECT_EQ(p.request_id, "req-1");
  EXPECT_EQ(d.request_id, "req-1");
  EXPECT_EQ(p.timeout, seconds_d{7});
  EXPECT_EQ(d.timeout, seconds_d{5});
  const std::string expected_prefix =
      R"({"model":"m","prompt":"Hi","max_tokens":16,"stream":true,"bootstrap_host":"10.0.0.7",)"
      R"("bootstrap_port":8998,"bootstrap_room":)";
  ASSERT_EQ(sends.bodies[0].substr(0, expected_prefix.size()), expected_prefix);
  EXPECT_EQ(sends.bodies[0], sends.bodies[1]);
  const std::string room = sends.bodies[0].substr(expected_prefix.size());
  EXPECT_EQ(room.back(), '}');
  EXPECT_LE(std::stoull(room.substr(0, room.size() - 1)), max_bootstrap_room);
}

TEST(sglang_bootstrap, decode_is_relayed_before_the_prefill_answers) {
  harness h;
  const auto relay = h.to_relay();
  EXPECT_EQ(relay.kinds(), "relay wait");  // the prefill has not even answered its head
  EXPECT_EQ(relay.first(act::relay).timeout, seconds_d{3});
  EXPECT_FALSE(relay.first(act::relay).keep_request);
  EXPECT_EQ(h.step(h.head(p_leg, 200)).kinds(), "read_body@0 wait");
  const auto prefill_over = h.step(h.body(p_leg, 200, R"({"choices":[]})"));
  EXPECT_EQ(prefill_over.kinds(), "end_leg+report@0 wait");
  EXPECT_EQ(prefill_over.reports(),
            (std::vector<std::pair<leg_id, leg_result>>{{p_leg, leg_result::succeeded}}));
  const auto end = h.step({.what = ev::relay_ended, .leg = d_leg});
  EXPECT_EQ(end.kinds(), "end_leg+report@1 done");
  EXPECT_EQ(end.reports(), (std::vector<std::pair<leg_id, leg_result>>{{d_leg, leg_result::succeeded}}));
  EXPECT_EQ(h.machine.outcome(), request_outcome::ok);
}

TEST(sglang_bootstrap, the_prefill_answer_is_read_to_its_end_after_the_relay) {
  harness h;
  h.to_relay();
  EXPECT_EQ(h.step({.what = ev::relay_ended, .leg = d_leg}).kinds(), "end_leg+report@1 wait");
  EXPECT_EQ(h.step(h.head(p_leg, 200)).kinds(), "read_body@0 wait");
  EXPECT_EQ(h.step(h.body(p_leg, 200, "{}")).kinds(), "end_leg+report@0 done");
  EXPECT_EQ(h.machine.outcome(), request_outcome::ok);
  // A client that goes away while only the prefill's tail was awaited got its whole answer.
  harness g;
  g.to_relay();
  g.step({.what = ev::relay_ended, .leg = d_leg});
  EXPECT_EQ(g.step({.what = ev::client_gone}).kinds(), "done");
  EXPECT_EQ(g.machine.outcome(), request_outcome::ok);
}

TEST(sglang_bootstrap, the_prefill_may_end_before_the_decoders_first_byte) {
  harness h;
  h.to_sends();
  EXPECT_EQ(h.step(h.head(p_leg, 200)).kinds(), "read_body@0 wait");
  EXPECT_EQ(h.step(h.body(p_leg, 200, "{}")).kinds(), "end_leg+report@0 wait");
  EXPECT_EQ(h.step(h.head(d_leg, 200)).kinds(), "read_first_byte wait");
  EXPECT_EQ(h.step({.what = ev::first_byte, .leg = d_leg}).kinds(), "relay wait");
  EXPECT_EQ(h.step({.what = ev::relay_ended, .leg = d_leg}).kinds(), "end_leg+report@1 done");
  EXPECT_EQ(h.machine.outcome(), request_outcome::ok);
}

TEST(sglang_bootstrap, a_prefill_failure_closes_the_decode_and_retries_a_new_pair) {
  for (const bool sent : {false, true}) {
    harness h;
    const auto first = h.to_sends();
    const auto fail = h.step(h.failed(p_leg, backend_failure::transport, sent));
    EXPECT_EQ(fail.kinds(), "end_leg+report@0 end_leg@1 back_off@0 wait");
    EXPECT_EQ(fail.reports(), (std::vector<std::pair<leg_id, leg_result>>{{p_leg, leg_result::failed}}));
    EXPECT_EQ(fail.first(act::back_off).role, backend_role::prefill);
    EXPECT_EQ(fail.first(act::back_off).timeout, seconds_d{0.01});
    const auto again = h.step({.what = ev::backoff_done, .leg = p_leg});
    EXPECT_EQ(again.kinds(), "reserve@0");
    EXPECT_FALSE(again.first(act::reserve).fresh);  // the failed prefiller is avoided
    EXPECT_EQ(again.first(act::reserve).attempt, 2);
    const auto decode = h.step(h.reserved(p_leg));
    EXPECT_TRUE(decode.first(act::reserve).fresh);  // the decoder did not fail
    const auto sends = h.step(h.reserved(d_leg));
    ASSERT_EQ(sends.kinds(), "send@0 send@1 wait");
    EXPECT_NE(sends.bodies[0], first.bodies[0]);  // a new room
    EXPECT_EQ(h.machine.attempt(), 2);
  }
}

TEST(sglang_bootstrap, a_decoder_5xx_closes_the_prefill_and_retries) {
  harness h;
  h.to_sends();
  EXPECT_EQ(h.step(h.head(d_leg, 503)).kinds(), "read_body@1 wait");
  const auto fail = h.step(h.body(d_leg, 503, R"({"error":"busy"})", "application/json"));
  EXPECT_EQ(fail.kinds(), "end_leg+report@1 end_leg@0 back_off@1 wait");
  EXPECT_EQ(fail.reports(), (std::vector<std::pair<leg_id, leg_result>>{{d_leg, leg_result::failed}}));
  const auto again = h.step({.what = ev::backoff_done, .leg = d_leg});
  EXPECT_TRUE(again.first(act::reserve).fresh);  // the prefiller did not fail
  EXPECT_FALSE(h.step(h.reserved(p_leg)).first(act::reserve).fresh);
}

TEST(sglang_bootstrap, a_decoder_failing_after_the_prefill_answered_retries_the_pair) {
  harness h;
  h.to_sends();
  h.step(h.head(p_leg, 200));
  h.step(h.body(p_leg, 200, "{}"));
  const auto fail = h.step(h.failed(d_leg, backend_failure::transport, true));
  EXPECT_EQ(fail.kinds(), "end_leg+report@1 back_off@1 wait");  // the prefill leg is already over
}

TEST(sglang_bootstrap, a_timeout_with_no_attempt_left_is_504_and_closes_the_other_leg) {
  harness h(settings(1));
  h.to_sends();
  h.step(h.head(d_leg, 200));
  const auto fail = h.step(h.failed(d_leg, backend_failure::timeout, true));
  EXPECT_EQ(fail.kinds(), "end_leg+report@1 end_leg@0 answer_error wait");
  EXPECT_EQ(fail.first(act::answer_error).code, errc::backend_timeout);
  EXPECT_EQ(fail.first(act::answer_error).message, "decode backend timed out");
  EXPECT_EQ(h.step({.what = ev::client_answered}).kinds(), "done");
  EXPECT_EQ(h.machine.outcome(), request_outcome::timeout);
}

TEST(sglang_bootstrap, retries_exhausted_answer_502) {
  harness h(settings(2));
  h.to_sends();
  h.step(h.failed(p_leg, backend_failure::transport));
  h.step({.what = ev::backoff_done, .leg = p_leg});
  h.step(h.reserved(p_leg));
  h.step(h.reserved(d_leg));
  const auto fail = h.step(h.failed(p_leg, backend_failure::transport, true));
  EXPECT_EQ(fail.kinds(), "end_leg+report@0 end_leg@1 answer_error wait");
  EXPECT_EQ(fail.first(act::answer_error).code, errc::backend_failed);
  EXPECT_EQ(h.step({.what = ev::client_answered}).kinds(), "done");
  EXPECT_EQ(h.machine.outcome(), request_outcome::backend_error);
}

TEST(sglang_bootstrap, a_retryable_answer_on_every_attempt_is_passed_through) {
  harness h(settings(1));
  h.to_sends();
  h.step(h.head(p_leg, 500));
  const auto fail = h.step(h.body(p_leg, 500, R"({"error":"oom"})", "application/json"));
  EXPECT_EQ(fail.kinds(), "end_leg+report@0 end_leg@1 pass_through wait");
  EXPECT_EQ(fail.first(act::pass_through).status, 500);
  EXPECT_EQ(fail.first(act::pass_through).text, R"({"error":"oom"})");
  EXPECT_EQ(fail.first(act::pass_through).content_type, "application/json");
}

TEST(sglang_bootstrap, a_4xx_of_either_leg_is_passed_through_and_closes_the_other) {
  for (const leg_id leg : {p_leg, d_leg}) {
    harness h;
    h.to_sends();
    h.step(h.head(leg, 400));
    const auto answer = h.step(h.body(leg, 400, R"({"error":"no room"})", "application/json"));
    EXPECT_EQ(answer.kinds(), leg == p_leg ? "end_leg+report@0 end_leg@1 pass_through wait"
                                           : "end_leg+report@1 end_leg@0 pass_through wait");
    EXPECT_EQ(answer.reports(), (std::vector<std::pair<leg_id, leg_result>>{{leg, leg_result::succeeded}}));
    EXPECT_EQ(answer.first(act::pass_through).status, 400);
    EXPECT_EQ(h.step({.what = ev::client_answered}).kinds(), "done");
    EXPECT_EQ(h.machine.outcome(), request_outcome::backend_rejected);
  }
}

TEST(sglang_bootstrap, a_prefill_failing_after_the_relay_began_is_only_reported) {
  harness h;
  h.to_relay();
  const auto fail = h.step(h.failed(p_leg, backend_failure::transport, true));
  EXPECT_EQ(fail.kinds(), "end_leg+report@0 wait");
  EXPECT_EQ(fail.reports(), (std::vector<std::pair<leg_id, leg_result>>{{p_leg, leg_result::failed}}));
  EXPECT_EQ(h.step({.what = ev::relay_ended, .leg = d_leg}).kinds(), "end_leg+report@1 done");
  EXPECT_EQ(h.machine.outcome(), request_outcome::ok);
}

TEST(sglang_bootstrap, a_prefill_5xx_after_the_relay_began_is_reported_on_the_prefill) {
  harness h;
  h.to_relay();
  h.step(h.head(p_leg, 503));
  const auto fail = h.step(h.body(p_leg, 503, "x"));
  EXPECT_EQ(fail.reports(), (std::vector<std::pair<leg_id, leg_result>>{{p_leg, leg_result::failed}}));
}

TEST(sglang_bootstrap, a_broken_decode_stream_is_a_midstream_failure) {
  harness h;
  h.to_relay();
  h.step(h.head(p_leg, 200));
  h.step(h.body(p_leg, 200, "{}"));
  const auto end = h.step({.what = ev::relay_ended, .leg = d_leg, .failure = backend_failure::transport});
  EXPECT_EQ(end.kinds(), "end_leg+report@1 done");
  EXPECT_EQ(end.reports(), (std::vector<std::pair<leg_id, leg_result>>{{d_leg, leg_result::failed}}));
  EXPECT_EQ(h.machine.outcome(), request_outcome::backend_error);
}

TEST(sglang_bootstrap, the_client_going_away_ends_both_legs) {
  harness h;
  h.to_sends();
  EXPECT_EQ(h.step({.what = ev::client_gone}).kinds(), "done");
  EXPECT_EQ(h.machine.outcome(), request_outcome::client_abort);
  harness g;
  g.to_relay();
  EXPECT_EQ(g.step({.what = ev::client_gone}).kinds(), "done");
  EXPECT_EQ(g.machine.outcome(), request_outcome::client_abort);
}

TEST(sglang_bootstrap, no_backend_answers_503_and_frees_the_prefiller) {
  harness h;
  h.step({.what = ev::start});
  const auto none = h.step({.what = ev::no_backend, .leg = p_leg});
  EXPECT_EQ(none.kinds(), "answer_error wait");
  EXPECT_EQ(none.first(act::answer_error).code, errc::no_backend);
  EXPECT_EQ(none.first(act::answer_error).message, "no prefill instance is configured");
  EXPECT_TRUE(none.first(act::answer_error).retry_after);

  harness g;
  g.step({.what = ev::start});
  g.step(g.reserved(p_leg));
  const auto no_decoder = g.step({.what = ev::no_backend, .leg = d_leg, .none_usable = true});
  EXPECT_EQ(no_decoder.kinds(), "end_leg@0 answer_error wait");
  EXPECT_TRUE(no_decoder.reports().empty());
  EXPECT_EQ(no_decoder.first(act::answer_error).message, "no healthy decode instance is available");
  EXPECT_EQ(g.step({.what = ev::client_answered}).kinds(), "done");
  EXPECT_EQ(g.machine.outcome(), request_outcome::no_backend);
}

TEST(sglang_bootstrap, a_retry_without_a_backend_answers_the_failure_it_retries) {
  harness h;
  h.to_sends();
  h.step(h.failed(d_leg, backend_failure::timeout));
  h.step({.what = ev::backoff_done, .leg = d_leg});
  h.step(h.reserved(p_leg));
  const auto none = h.step({.what = ev::no_backend, .leg = d_leg, .none_usable = true});
  EXPECT_EQ(none.kinds(), "end_leg@0 answer_error wait");
  EXPECT_EQ(none.first(act::answer_error).code, errc::backend_timeout);
}

TEST(sglang_bootstrap, the_drain_stops_a_pair_in_flight_with_503) {
  harness h;
  h.to_sends();
  const auto stop = h.step({.what = ev::stopped, .leg = p_leg});
  EXPECT_EQ(stop.kinds(), "end_leg@0 end_leg@1 answer_error wait");
  EXPECT_EQ(stop.first(act::answer_error).code, errc::shutting_down);
  EXPECT_EQ(h.step({.what = ev::client_answered}).kinds(), "done");
  EXPECT_EQ(h.machine.outcome(), request_outcome::shutting_down);
  // While relaying, the drain stopping the prefill's tail is not reported; the relay ends on its own.
  harness g;
  g.to_relay();
  EXPECT_EQ(g.step({.what = ev::stopped, .leg = p_leg}).kinds(), "end_leg@0 wait");
  EXPECT_EQ(
      g.step({.what = ev::relay_ended, .leg = d_leg, .failure = backend_failure::cancelled, .stopping = true})
          .kinds(),
      "end_leg@1 done");
  EXPECT_EQ(g.machine.outcome(), request_outcome::shutting_down);
}

TEST(sglang_bootstrap, a_batch_gets_arrays_with_distinct_rooms_in_both_legs) {
  harness h(settings(), R"({"model":"m","prompt":["a","b","c"],"max_tokens":4})");
  const auto sends = h.to_sends();
  const std::string members(h.machine.bootstrap_members());
  EXPECT_NE(members.find(R"("bootstrap_host":["10.0.0.7","10.0.0.7","10.0.0.7"])"), std::string::npos);
  EXPECT_NE(members.find(R"("bootstrap_port":[8998,8998,8998])"), std::string::npos);
  EXPECT_NE(members.find(R"("bootstrap_room":[)"), std::string::npos);
  EXPECT_EQ(sends.bodies[0], R"({"model":"m","prompt":["a","b","c"],"max_tokens":4)" + members + "}");
}

TEST(sglang_bootstrap, an_unexpected_event_ends_the_request_with_500) {
  harness h;
  h.to_sends();
  const auto bug = h.step({.what = ev::backoff_done});
  EXPECT_EQ(bug.kinds(), "end_leg@0 end_leg@1 answer_error wait");
  EXPECT_EQ(bug.first(act::answer_error).code, errc::internal);
}

}  // namespace
}  // namespace pd_proxy
