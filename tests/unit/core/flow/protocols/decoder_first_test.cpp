// vLLM-Ascend's layerwise (decoder-first) PD protocol machine, driven event by event without sockets.
#include "pd_proxy/core/flow/protocols/decoder_first.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "pd_proxy/core/config/cli.hpp"
#include "pd_proxy/core/flow/flow_action_name.hpp"
#include "pd_proxy/core/flow/protocols/registry.hpp"
#include "pd_proxy/core/flow/signal_table.hpp"

namespace pd_proxy {
namespace {

using act = flow_action::kind;
using ev = flow_event::kind;
constexpr leg_id prefill_leg = decoder_first::prefill_leg;
constexpr leg_id decode_leg = decoder_first::decode_leg;

constexpr std::string_view completion = R"({"model":"m","prompt":"Hi","max_tokens":16,"stream":true})";
constexpr std::string_view url = "http://10.0.0.1:8000/v1/metaserver";

flow_settings settings(int attempts = 3) {
  return {.attempts = attempts,
          .retry_delay = seconds_d{0.01},
          .prefill_timeout = seconds_d{7},
          .first_token_timeout = seconds_d{5},
          .stream_idle_timeout = seconds_d{3},
          .metaserver_url = url,
          .metaserver_timeout = seconds_d{9}};
}

std::string name(act what) {
  return std::string(to_string(what));
}

// The actions asked for after one event (synchronous ones without a result answered done_sync, asynchronous
// ones started), up to one whose result the test gives (check_role, reserve, expect_signals), a wait or done.
struct steps {
  std::vector<flow_action> actions;
  std::vector<std::string> bodies;

  std::string kinds() const {
    std::string out;
    for (const auto& a : actions) {
      if (!out.empty()) out += ' ';
      out += name(a.what);
      if (a.with_report) out += "+report";
      if (a.what == act::end_leg || a.what == act::answer_signals)
        out += a.leg == prefill_leg ? "(p)" : "(d)";
      if (a.what == act::answer_signals) out += "=" + std::to_string(a.status);
    }
    return out;
  }
  const flow_action& only(act what) const {
    const flow_action* found = nullptr;
    for (const auto& a : actions) {
      if (a.what != what) continue;
      EXPECT_EQ(found, nullptr) << "two " << name(what) << " in " << kinds();
      found = &a;
    }
    EXPECT_NE(found, nullptr) << "no " << name(what) << " in " << kinds();
    return found != nullptr ? *found : actions.front();
  }
  std::string body_of(leg_id leg) const {
    for (std::size_t i = 0; i < actions.size(); ++i) {
      if (actions[i].what == act::send && actions[i].leg == leg) return bodies[i];
    }
    ADD_FAILURE() << "no send on leg " << int(leg) << " in " << kinds();
    return {};
  }
};

struct harness {
  explicit harness(const flow_settings& s = settings(), std::string_view text = completion)
      : request(client_request::parse(std::string(text)).value()), machine(s, request, "client-id") {}

  steps step(const flow_event& event) {
    steps out;
    flow_action action = machine.resume(event);
    for (int i = 0; i < 24; ++i) {
      out.actions.push_back(action);
      out.bodies.push_back(action.body != nullptr ? action.body->str() : std::string());
      if (action.what == act::expect_signals) keys.assign(action.keys.begin(), action.keys.end());
      switch (action.what) {
        case act::release:
        case act::report:
        case act::close:
        case act::end_leg:
        case act::answer_signals:
        case act::forget_signals:
          action = machine.resume({.what = ev::done_sync, .leg = action.leg});
          continue;
        case act::check_role:
        case act::reserve:
        case act::expect_signals:
        case act::wait:
        case act::done:
          return out;
        default:
          action = machine.resume({.what = ev::started, .leg = action.leg});
      }
    }
    ADD_FAILURE() << "the machine never stopped asking: " << out.kinds();
    return out;
  }

  // Start to the decoder's send, its call-backs awaited.
  steps to_decoder() {
    EXPECT_EQ(step({.what = ev::start}).kinds(), "check_role");
    EXPECT_EQ(step({.what = ev::role_checked, .usable = true}).kinds(), "reserve");
    EXPECT_EQ(step({.what = ev::reserved, .leg = decode_leg}).kinds(), "expect_signals");
    return step({.what = ev::done_sync, .leg = decode_leg});
  }
  steps signal(std::size_t key, std::string_view object) {
    return step({.what = ev::signal, .leg = decode_leg, .key = key, .body = object});
  }
  // Through the one prefill's send.
  steps to_prefill(std::string_view object = R"({"request_id":"x","remote_port":1})") {
    to_decoder();
    EXPECT_EQ(signal(0, object).kinds(), "reserve");
    return step({.what = ev::reserved, .leg = prefill_leg});
  }
  steps prefill_answer(int status, std::string_view body = R"({"id":"p"})") {
    EXPECT_EQ(step({.what = ev::head, .leg = prefill_leg, .status = status}).kinds(), "read_body wait");
    return step({.what = ev::body, .leg = prefill_leg, .status = status, .body = body});
  }

  client_request request;
  decoder_first machine;
  std::vector<std::string> keys;
};

//------------------------------------------------------------------------------
// The wire pieces

TEST(decoder_first_wire, request_ids_follow_the_api_and_the_prompt_list) {
  const auto ids = [](std::string_view body) {
    return metaserver_request_ids(client_request::parse(std::string(body)).value(), "R");
  };
  using list = std::vector<std::string>;
  EXPECT_EQ(ids(R"({"messages":[{"role":"user","content":"hi"}]})"), list{"chatcmpl-R"});
  EXPECT_EQ(ids(R"({"prompt":"hi"})"), list{"cmpl-R-0"});
  EXPECT_EQ(ids(R"({"prompt":["a","b","c"]})"), (list{"cmpl-R-0", "cmpl-R-1", "cmpl-R-2"}));
  EXPECT_EQ(ids(R"({"prompt":[1,2,3]})"), list{"cmpl-R-0"});  // one token-id prompt
  EXPECT_EQ(ids(R"({"prompt":[[1,2],[3]]})"), (list{"cmpl-R-0", "cmpl-R-1"}));
  EXPECT_EQ(ids(R"({"prompt":[ "a" , "b" ]})"), (list{"cmpl-R-0", "cmpl-R-1"}));
  EXPECT_EQ(ids(R"({"prompt":[]})"), list{"cmpl-R-0"});
  EXPECT_EQ(ids(R"({"model":"m"})"), list{"cmpl-R-0"});
}

TEST(decoder_first_wire, the_prefill_carries_the_posted_objects) {
  EXPECT_EQ(prefill_kv_transfer_params({"cmpl-R-0"}, {R"( {"request_id":"cmpl-R-0","a":1} )"}),
            R"({"request_id":"cmpl-R-0","a":1})");
  EXPECT_EQ(prefill_kv_transfer_params({"cmpl-R-0", "cmpl-R-1"},
                                       {R"({"request_id":"cmpl-R-0"})", R"({"request_id":"cmpl-R-1"})"}),
            R"({"request_id":"cmpl-R-0","batch_kv_transfer_params":{"cmpl-R-0":{"request_id":"cmpl-R-0"},)"
            R"("cmpl-R-1":{"request_id":"cmpl-R-1"}}})");
  EXPECT_EQ(prefill_kv_transfer_params({"a", "b"}, {"{}", "{ }"}),
            R"({"batch_kv_transfer_params":{"a":{},"b":{ }}})");
}

TEST(decoder_first_wire, the_decoder_is_told_where_to_call_back) {
  EXPECT_EQ(decoder_kv_transfer_params("http://h:1/v1/metaserver"),
            R"({"do_remote_decode":false,"do_remote_prefill":true,"metaserver":"http://h:1/v1/metaserver"})");
  EXPECT_EQ(default_metaserver_url("10.1.2.3", 8000), "http://10.1.2.3:8000/v1/metaserver");
  EXPECT_EQ(default_metaserver_url("::1", 80), "http://[::1]:80/v1/metaserver");
  for (const std::string_view host : {"0.0.0.0", "::", "[::]", "0:0:0:0:0:0:0:0", "", "*"}) {
    EXPECT_TRUE(is_wildcard_host(host)) << host;
  }
  for (const std::string_view host : {"127.0.0.1", "::1", "localhost", "10.0.0.0", "proxy.local"}) {
    EXPECT_FALSE(is_wildcard_host(host)) << host;
  }
  EXPECT_TRUE(is_metaserver_url("http://p:8000/v1/metaserver"));
  EXPECT_TRUE(is_metaserver_url("https://p/v1/metaserver"));
  EXPECT_FALSE(is_metaserver_url("ftp://p/"));
  EXPECT_FALSE(is_metaserver_url("http://"));
  EXPECT_FALSE(is_metaserver_url("http://p/\"x"));
  EXPECT_FALSE(is_metaserver_url("http://p/ x"));
}

TEST(decoder_first_wire, secret_ids_are_fresh_uuids) {
  const std::string a = new_secret_request_id();
  const std::string b = new_secret_request_id();
  EXPECT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');
  EXPECT_NE(a, b);
}

TEST(decoder_first_wire, the_family_is_registered_and_takes_call_backs) {
  const pd_protocol* protocol = find_pd_protocol("decoder-first");
  ASSERT_NE(protocol, nullptr);
  EXPECT_TRUE(protocol->takes_call_backs);
  EXPECT_FALSE(find_pd_protocol("two-stage")->takes_call_backs);
}

cli_outcome parse(std::vector<std::string> words) {
  words.insert(words.begin(), "pd-proxy");
  std::vector<const char*> argv;
  for (const auto& w : words) argv.push_back(w.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data(),
                            [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
}

TEST(decoder_first_cli, a_wildcard_listen_address_needs_a_metaserver_url) {
  for (const std::string host : {"0.0.0.0", "::"}) {
    const auto refused = parse({"--pd-protocol", "decoder-first", "--host", host});
    EXPECT_FALSE(refused.config) << host;
    EXPECT_EQ(refused.exit_code, 2);
    EXPECT_NE(refused.output.find("--metaserver-url"), std::string::npos) << refused.output;
    const auto given = parse({"--pd-protocol", "decoder-first", "--host", host, "--metaserver-url",
                              "http://10.0.0.5:8000/v1/metaserver"});
    ASSERT_TRUE(given.config) << given.output;
    EXPECT_EQ(given.config->metaserver_url, "http://10.0.0.5:8000/v1/metaserver");
  }
  EXPECT_TRUE(parse({"--host", "0.0.0.0"}).config);  // two-stage needs no call-back address
  EXPECT_TRUE(parse({"--pd-protocol", "decoder-first", "--host", "10.0.0.5"}).config);
  EXPECT_FALSE(parse({"--pd-protocol", "decoder-first", "--metaserver-url", "10.0.0.5:80"}).config);
  const auto tuned = parse(
      {"--pd-protocol", "decoder-first", "--metaserver-timeout", "2.5", "--metaserver-max-pending", "10"});
  ASSERT_TRUE(tuned.config);
  EXPECT_EQ(flow_settings_of(*tuned.config).metaserver_timeout.count(), 2.5);
  EXPECT_EQ(tuned.config->metaserver_max_pending, 10u);
}

//------------------------------------------------------------------------------
// The call-back table

TEST(signal_table, keys_are_taken_once_and_bounded) {
  signal_table<int> table(4);
  const std::vector<std::string> two{"a", "b"};
  EXPECT_EQ(table.add(two, 7), signal_table<int>::add_result::added);
  EXPECT_EQ(table.add(std::vector<std::string>{"c", "d", "e"}, 8), signal_table<int>::add_result::full);
  EXPECT_EQ(table.add(std::vector<std::string>{"c", "a"}, 8), signal_table<int>::add_result::duplicate);
  EXPECT_EQ(table.size(), 2u);  // all or nothing: "c" was not kept
  const auto b = table.take("b");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->first, 7);
  EXPECT_EQ(b->second, 1u);
  EXPECT_FALSE(table.take("b"));  // a second call-back finds nothing
  EXPECT_FALSE(table.take("zz"));
  table.remove(two, 8);  // another owner's removal leaves "a"
  EXPECT_EQ(table.size(), 1u);
  table.remove(two, 7);
  EXPECT_EQ(table.size(), 0u);
}

//------------------------------------------------------------------------------
// The machine

TEST(decoder_first, decoder_first_then_one_prefill_then_the_decoders_stream) {
  harness h;
  const steps sent = h.to_decoder();
  EXPECT_EQ(sent.kinds(), "send await_signal wait");
  const std::string r(h.machine.backend_request_id());
  ASSERT_EQ(r.size(), 36u);
  EXPECT_EQ(h.keys, std::vector<std::string>{"cmpl-" + r + "-0"});
  const flow_action& send = sent.only(act::send);
  EXPECT_EQ(send.leg, decode_leg);
  EXPECT_EQ(send.request_id, r);
  EXPECT_EQ(send.timeout.count(), 5.0);
  EXPECT_EQ(
      sent.body_of(decode_leg),
      R"({"model":"m","prompt":"Hi","max_tokens":16,"stream":true,"kv_transfer_params":)"
      R"({"do_remote_decode":false,"do_remote_prefill":true,"metaserver":"http://10.0.0.1:8000/v1/metaserver"}})");

  const std::string object = R"({"token_ids":[],"request_id":"cmpl-)" + r + R"(-0","remote_port":7})";
  EXPECT_EQ(h.signal(0, object).kinds(), "reserve");
  const steps prefill = h.step({.what = ev::reserved, .leg = prefill_leg});
  EXPECT_EQ(prefill.kinds(), "send wait");
  EXPECT_EQ(prefill.only(act::send).request_id, r);
  EXPECT_EQ(prefill.only(act::send).timeout.count(), 7.0);
  EXPECT_EQ(prefill.body_of(prefill_leg), R"({"model":"m","prompt":"Hi","max_tokens":1,"stream":false,)"
                                          R"("min_tokens":1,"kv_transfer_params":)" +
                                              object + "}");

  EXPECT_EQ(h.prefill_answer(200).kinds(), "end_leg+report(p) answer_signals(p)=200 wait");
  EXPECT_EQ(h.step({.what = ev::head, .leg = decode_leg, .status = 200}).kinds(), "read_first_byte wait");
  const steps relay = h.step({.what = ev::first_byte, .leg = decode_leg});
  EXPECT_EQ(relay.kinds(), "relay wait");
  EXPECT_FALSE(relay.only(act::relay).keep_request);
  EXPECT_EQ(h.step({.what = ev::relay_ended, .leg = decode_leg}).kinds(), "end_leg+report(d) done");
  EXPECT_EQ(h.machine.outcome(), request_outcome::ok);
}

TEST(decoder_first, a_prompt_list_waits_for_every_id_and_sends_one_batch_prefill) {
  harness h(settings(), R"({"prompt":["a","b"],"max_tokens":4,"stream_options":{"x":1}})");
  h.to_decoder();
  const std::string r(h.machine.backend_request_id());
  ASSERT_EQ(h.keys.size(), 2u);
  EXPECT_EQ(h.signal(1, R"({"request_id":"1"})").kinds(), "await_signal wait");
  EXPECT_EQ(h.signal(0, R"({"request_id":"0"})").kinds(), "reserve");
  const steps prefill = h.step({.what = ev::reserved, .leg = prefill_leg});
  EXPECT_EQ(prefill.body_of(prefill_leg),
            R"({"prompt":["a","b"],"max_tokens":1,"stream":false,"min_tokens":1,"kv_transfer_params":)"
            R"({"request_id":"0","batch_kv_transfer_params":{"cmpl-)" +
                r + R"(-0":{"request_id":"0"},"cmpl-)" + r + R"(-1":{"request_id":"1"}}}})");
}

TEST(decoder_first, chat_registers_its_chatcmpl_id) {
  harness h(settings(), R"({"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":9})");
  h.to_decoder();
  EXPECT_EQ(h.keys, std::vector<std::string>{"chatcmpl-" + std::string(h.machine.backend_request_id())});
  EXPECT_EQ(h.signal(0, "{}").kinds(), "reserve");
  const steps prefill = h.step({.what = ev::reserved, .leg = prefill_leg});
  EXPECT_EQ(prefill.body_of(prefill_leg),
            R"({"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":1,"stream":false,)"
            R"("max_tokens":1,"min_tokens":1,"kv_transfer_params":{}})");
}

TEST(decoder_first, no_decoder_is_spent_without_a_prefiller) {
  harness h;
  h.step({.what = ev::start});
  const steps refused = h.step({.what = ev::role_checked, .none_usable = true, .usable = false});
  EXPECT_EQ(refused.kinds(), "answer_error wait");
  EXPECT_EQ(refused.only(act::answer_error).code, errc::no_backend);
  EXPECT_EQ(h.step({.what = ev::client_answered}).kinds(), "done");
  EXPECT_EQ(h.machine.outcome(), request_outcome::no_backend);
}

TEST(decoder_first, a_full_call_back_table_answers_503) {
  harness h;
  h.step({.what = ev::start});
  h.step({.what = ev::role_checked, .usable = true});
  h.step({.what = ev::reserved, .leg = decode_leg});
  const steps refused = h.step({.what = ev::signals_refused, .leg = decode_leg});
  EXPECT_EQ(refused.kinds(), "end_leg(d) answer_error wait");
  EXPECT_EQ(refused.only(act::answer_error).code, errc::overloaded);
  EXPECT_TRUE(refused.only(act::answer_error).retry_after);
}

TEST(decoder_first, a_decoder_failing_before_its_first_byte_is_retried_under_a_new_id) {
  harness h;
  h.to_prefill();
  const std::string first_id(h.machine.backend_request_id());
  // The decoder breaks while the prefill runs: the round is over, the prefill closed, the call-backs told.
  const steps failed =
      h.step({.what = ev::leg_failed, .leg = decode_leg, .failure = backend_failure::transport});
  EXPECT_EQ(failed.kinds(),
            "end_leg+report(d) forget_signals answer_signals(d)=502 end_leg(p) back_off wait");
  EXPECT_EQ(h.step({.what = ev::backoff_done, .leg = decode_leg}).kinds(), "reserve");
  EXPECT_EQ(h.machine.attempt(decode_leg), 2);
  EXPECT_EQ(h.step({.what = ev::reserved, .leg = decode_leg}).kinds(), "expect_signals");
  EXPECT_NE(h.machine.backend_request_id(), first_id);
  EXPECT_EQ(h.keys, std::vector<std::string>{"cmpl-" + std::string(h.machine.backend_request_id()) + "-0"});
  EXPECT_EQ(h.step({.what = ev::done_sync, .leg = decode_leg}).kinds(), "send await_signal wait");
  EXPECT_EQ(h.signal(0, "{}").kinds(), "reserve");
}

TEST(decoder_first, an_await_in_flight_moves_on_to_the_next_round) {
  harness h;
  h.to_decoder();  // its await_signal is in flight
  EXPECT_EQ(
      h.step({.what = ev::leg_failed, .leg = decode_leg, .failure = backend_failure::transport}).kinds(),
      "end_leg+report(d) forget_signals answer_signals(d)=502 back_off wait");
  h.step({.what = ev::backoff_done, .leg = decode_leg});
  h.step({.what = ev::reserved, .leg = decode_leg});
  EXPECT_EQ(h.step({.what = ev::done_sync, .leg = decode_leg}).kinds(), "send wait");
  EXPECT_EQ(h.signal(0, "{}").kinds(), "reserve");
}

TEST(decoder_first, a_decoder_that_never_calls_back_fails_with_504) {
  harness h;
  h.to_decoder();
  const steps timed_out = h.step({.what = ev::signal_timeout, .leg = decode_leg});
  EXPECT_EQ(timed_out.kinds(), "forget_signals answer_signals(d)=502 end_leg+report(d) answer_error wait");
  EXPECT_EQ(timed_out.only(act::answer_error).code, errc::backend_timeout);
  EXPECT_EQ(h.step({.what = ev::client_answered}).kinds(), "done");
  EXPECT_EQ(h.machine.outcome(), request_outcome::timeout);
}

TEST(decoder_first, a_prefill_failing_for_good_closes_the_decoder_at_once) {
  harness h(settings(2));
  h.to_prefill();
  EXPECT_EQ(
      h.step({.what = ev::leg_failed, .leg = prefill_leg, .failure = backend_failure::transport}).kinds(),
      "end_leg+report(p) back_off wait");
  EXPECT_EQ(h.step({.what = ev::backoff_done, .leg = prefill_leg}).kinds(), "reserve");
  EXPECT_EQ(h.machine.attempt(prefill_leg), 2);
  EXPECT_EQ(h.step({.what = ev::reserved, .leg = prefill_leg}).kinds(), "send wait");
  const steps failed = h.prefill_answer(503, R"({"error":"busy"})");
  // The call-backs get 502, the decoder's connection goes (no report: it did not fail), the client 503.
  EXPECT_EQ(failed.kinds(), "end_leg+report(p) answer_signals(p)=502 end_leg(d) pass_through wait");
  EXPECT_EQ(failed.only(act::pass_through).status, 503);
  EXPECT_EQ(h.step({.what = ev::client_answered}).kinds(), "done");
  EXPECT_EQ(h.machine.outcome(), request_outcome::backend_error);
}

TEST(decoder_first, a_prefill_timing_out_answers_504) {
  harness h(settings(1));
  h.to_prefill();
  const steps failed =
      h.step({.what = ev::leg_failed, .leg = prefill_leg, .failure = backend_failure::timeout});
  EXPECT_EQ(failed.kinds(), "end_leg+report(p) answer_signals(p)=502 end_leg(d) answer_error wait");
  EXPECT_EQ(failed.only(act::answer_error).code, errc::backend_timeout);
}

TEST(decoder_first, a_prefillers_verdict_is_passed_through) {
  harness h;
  h.to_prefill();
  const steps refused = h.prefill_answer(400, R"({"error":"too long"})");
  EXPECT_EQ(refused.kinds(), "end_leg+report(p) answer_signals(p)=502 end_leg(d) pass_through wait");
  EXPECT_EQ(refused.only(act::pass_through).text, R"({"error":"too long"})");
}

TEST(decoder_first, the_client_going_away_ends_everything) {
  harness h;
  h.to_prefill();
  EXPECT_EQ(h.step({.what = ev::client_gone}).kinds(), "done");
  EXPECT_EQ(h.machine.outcome(), request_outcome::client_abort);
}

TEST(decoder_first, a_decoder_answering_while_the_prefill_runs_keeps_the_request_for_it) {
  harness h;
  h.to_prefill();
  EXPECT_EQ(h.step({.what = ev::head, .leg = decode_leg, .status = 200}).kinds(), "read_first_byte wait");
  const steps relay = h.step({.what = ev::first_byte, .leg = decode_leg});
  EXPECT_EQ(relay.kinds(), "relay wait");
  EXPECT_TRUE(relay.only(act::relay).keep_request);
  // The prefill ends after the client got bytes: the call-backs learn it, the relay goes on.
  EXPECT_EQ(h.prefill_answer(200).kinds(), "end_leg+report(p) answer_signals(p)=200 wait");
  EXPECT_EQ(h.step({.what = ev::relay_ended, .leg = decode_leg}).kinds(), "end_leg+report(d) done");
}

TEST(decoder_first, a_decoders_error_answer_is_retried_and_its_verdict_passed_through) {
  harness h(settings(2));
  h.to_decoder();
  EXPECT_EQ(h.step({.what = ev::head, .leg = decode_leg, .status = 500}).kinds(), "read_body wait");
  EXPECT_EQ(h.step({.what = ev::body, .leg = decode_leg, .status = 500, .body = "x"}).kinds(),
            "end_leg+report(d) forget_signals answer_signals(d)=502 back_off wait");
  h.step({.what = ev::backoff_done, .leg = decode_leg});
  h.step({.what = ev::reserved, .leg = decode_leg});
  h.step({.what = ev::done_sync, .leg = decode_leg});
  EXPECT_EQ(h.step({.what = ev::head, .leg = decode_leg, .status = 400}).kinds(), "read_body wait");
  const steps verdict = h.step({.what = ev::body, .leg = decode_leg, .status = 400, .body = "bad"});
  EXPECT_EQ(verdict.kinds(), "end_leg+report(d) forget_signals answer_signals(d)=502 pass_through wait");
}

TEST(decoder_first, the_drain_stops_a_request_waiting_for_its_call_backs) {
  harness h;
  h.to_decoder();
  const steps stopped = h.step({.what = ev::stopped, .leg = decode_leg});
  EXPECT_EQ(stopped.kinds(), "answer_error wait");
  EXPECT_EQ(stopped.only(act::answer_error).code, errc::shutting_down);
}

}  // namespace
}  // namespace pd_proxy
