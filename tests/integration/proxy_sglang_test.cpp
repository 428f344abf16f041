// --pd-protocol sglang-bootstrap end to end: pd-mock engines in SGLang's roles (--disaggregation-mode) and
// scripted backends behind the real proxy. One body to both legs at once, the decode relayed as it arrives,
// either leg failing, batches, client aborts, and every reservation released.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "proxy_fixture.hpp"
#include "scripted_backend.hpp"

namespace pd_proxy::test {
namespace {

using json = nlohmann::json;

constexpr std::string_view stream_body =
    R"({"model":"mock-model","prompt":"Hi there","max_tokens":4,"stream":true})";
constexpr std::string_view whole_body = R"({"model":"mock-model","prompt":"Hi there","max_tokens":3})";
constexpr std::string_view chat_body =
    R"({"model":"mock-model","messages":[{"role":"user","content":"Hi"}],"max_tokens":2,"stream":true})";

mock::mock_options sglang_engines(int count, std::string mode, double bootstrap_timeout = 10.0) {
  auto o = fast_engines(count);
  o.disaggregation_mode = std::move(mode);
  o.bootstrap_timeout_s = bootstrap_timeout;
  return o;
}

// The proxy speaks sglang-bootstrap; every prefiller's bootstrap port is its HTTP port (pd-mock serves its
// bootstrap route there).
std::function<void(proxy_config&)> sglang(int max_retries = 1,
                                          const std::function<void(proxy_config&)>& more = {}) {
  return [max_retries, more](proxy_config& config) {
    config.pd_protocol = "sglang-bootstrap";
    config.max_retries = max_retries;
    config.retry_delay = seconds_d{0};
    for (auto& p : config.prefillers) p.bootstrap_port = p.port;
    if (more) more(config);
  };
}

backend_group ports(std::uint16_t port) {
  backend_group group;
  group.ports = {port};
  return group;
}

backend_group refused(int count) {
  backend_group group;
  group.refused = count;
  return group;
}

request_spec post(std::string_view body, std::string id = "req-1", std::string target = "/v1/completions") {
  request_spec spec;
  spec.body = std::string(body);
  spec.target = std::move(target);
  spec.headers.push_back({"X-Request-Id", std::move(id)});
  return spec;
}

// The client's body with the three members the proxy adds; `members` as a parsed object for checks.
json members_of(const std::string& sent, std::string_view client) {
  EXPECT_EQ(sent.substr(0, client.size() - 1), client.substr(0, client.size() - 1)) << sent;
  const auto tail = "{" + sent.substr(client.size());
  return json::parse(tail);
}

// Every request the engines of the role received was aborted by its connection closing, and none is open:
// a leg the proxy gave up does not leave its engine waiting.
bool no_engine_waits(cluster& c, bool prefill) {
  return eventually([&] {
    std::uint64_t open = 0;
    for (auto* server : prefill ? c.prefill_servers() : c.decode_servers()) {
      for (std::size_t i = 0; i < server->size(); ++i) open += server->stats(i).open_connections.load();
    }
    return open == 0 &&
           c.total(prefill, &mock::engine_stats::aborted) == c.total(prefill, &mock::engine_stats::requests);
  });
}

bool idle_eventually(cluster& c) {
  return eventually([&] { return c.idle(); });
}

TEST(proxy_sglang, one_body_goes_to_both_engines_and_the_decode_is_relayed) {
  cluster c({{sglang_engines(1, "prefill")}}, {{sglang_engines(1, "decode")}}, sglang());
  const auto reply = request(c.port(), post(stream_body, "s-1"));
  ASSERT_TRUE(reply.complete) << reply.ec.message();
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.headers[http::field::content_type], "text/event-stream; charset=utf-8");
  const auto events = sse_data(reply.body);
  ASSERT_EQ(events.size(), 5u);  // 4 tokens, [DONE]: the decoder's answer, not the prefill's one token

  const auto prefilled = c.prefill_servers()[0]->recorded(0);
  const auto decoded = c.decode_servers()[0]->recorded(0);
  ASSERT_EQ(prefilled.size(), 1u);
  ASSERT_EQ(decoded.size(), 1u);
  EXPECT_EQ(prefilled[0].body, decoded[0].body);  // one body, byte for byte
  EXPECT_EQ(prefilled[0].request_id, "s-1");
  EXPECT_EQ(decoded[0].request_id, "s-1");
  const json members = members_of(decoded[0].body, stream_body);
  ASSERT_EQ(members.size(), 3u);
  EXPECT_EQ(members["bootstrap_host"], "127.0.0.1");
  EXPECT_EQ(members["bootstrap_port"], c.prefill_servers()[0]->port(0));
  EXPECT_TRUE(members["bootstrap_room"].is_number_unsigned());
  EXPECT_EQ(c.total(true, &mock::engine_stats::prefill_requests), 1u);
  EXPECT_EQ(c.total(false, &mock::engine_stats::kv_pulls), 1u);  // the decode paired with its prefill
  EXPECT_TRUE(idle_eventually(c));
}

TEST(proxy_sglang, whole_answers_and_chat) {
  cluster c({{sglang_engines(1, "prefill")}}, {{sglang_engines(1, "decode")}}, sglang());
  const auto whole = request(c.port(), post(whole_body, "w-1"));
  ASSERT_EQ(whole.status, 200) << whole.body;
  EXPECT_EQ(whole.headers[http::field::content_type], "application/json");
  EXPECT_EQ(json::parse(whole.body)["usage"]["completion_tokens"], 3);
  const auto chat = request(c.port(), post(chat_body, "c-1", "/v1/chat/completions"));
  ASSERT_EQ(chat.status, 200) << chat.body;
  EXPECT_EQ(sse_data(chat.body).size(), 4u);  // role, 2 tokens, [DONE]
  const auto decoded = c.decode_servers()[0]->recorded(0);
  ASSERT_EQ(decoded.size(), 2u);
  EXPECT_EQ(decoded[1].target, "/v1/chat/completions");
  EXPECT_EQ(members_of(decoded[1].body, chat_body).size(), 3u);
  // Rooms are fresh per request.
  EXPECT_NE(members_of(decoded[0].body, whole_body)["bootstrap_room"],
            members_of(decoded[1].body, chat_body)["bootstrap_room"]);
  EXPECT_TRUE(idle_eventually(c));
}

TEST(proxy_sglang, batches_get_arrays_with_distinct_rooms) {
  cluster c({{sglang_engines(1, "prefill")}}, {{sglang_engines(1, "decode")}}, sglang());
  constexpr std::string_view list = R"({"model":"mock-model","prompt":["a","b","c"],"max_tokens":2})";
  ASSERT_EQ(request(c.port(), post(list, "b-1")).status, 200);
  constexpr std::string_view n3 =
      R"({"model":"mock-model","messages":[{"role":"user","content":"Hi"}],"n":3,"max_tokens":2})";
  ASSERT_EQ(request(c.port(), post(n3, "b-2", "/v1/chat/completions")).status, 200);
  const auto decoded = c.decode_servers()[0]->recorded(0);
  ASSERT_EQ(decoded.size(), 2u);
  for (const auto& [sent, client, count] :
       {std::tuple{decoded[0].body, list, 3u}, std::tuple{decoded[1].body, n3, 3u}}) {
    const json m = members_of(sent, client);
    ASSERT_TRUE(m["bootstrap_room"].is_array()) << sent;
    EXPECT_EQ(m["bootstrap_host"], json(std::vector<std::string>(count, "127.0.0.1")));
    EXPECT_EQ(m["bootstrap_port"].size(), count);
    const auto rooms = m["bootstrap_room"].get<std::vector<std::uint64_t>>();
    EXPECT_EQ(std::set<std::uint64_t>(rooms.begin(), rooms.end()).size(), count);
  }
  EXPECT_EQ(c.prefill_servers()[0]->recorded(0)[1].body, decoded[1].body);
}

TEST(proxy_sglang, exact_bytes_with_a_null_bootstrap_port) {
  // Scripted engines: what each received, byte for byte, when no bootstrap port is configured.
  std::atomic<int> calls{0};
  scripted_backend prefiller([&](const auto&) {
    ++calls;
    return scripted_answer{http_response(200, "application/json", R"({"choices":[{"text":"x"}]})")};
  });
  // As a real decode, the decoder answers once its prefill has the request.
  scripted_backend decoder([&](const auto&) {
    eventually([&] { return calls.load() == 1; });
    return scripted_answer{http_response(200, "application/json", R"({"choices":[{"text":"decoded"}]})")};
  });
  cluster c({ports(prefiller.port())}, {ports(decoder.port())},
            [](proxy_config& config) { config.pd_protocol = "sglang-bootstrap"; });
  constexpr std::string_view body = R"({ "model":"m", "prompt":"\u0048i","max_tokens":7, "stream":false })";
  const auto reply = request(c.port(), post(body));
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, R"({"choices":[{"text":"decoded"}]})");
  const auto p = prefiller.received();
  const auto d = decoder.received();
  ASSERT_EQ(p.size(), 1u);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(p[0].body(), d[0].body());
  const std::string prefix =
      R"({"model":"m", "prompt":"\u0048i","max_tokens":7, "stream":false,"bootstrap_host":"127.0.0.1",)"
      R"("bootstrap_port":null,"bootstrap_room":)";
  ASSERT_EQ(d[0].body().substr(0, prefix.size()), prefix);
  const std::string room = d[0].body().substr(prefix.size(), d[0].body().size() - prefix.size() - 1);
  EXPECT_LE(std::stoull(room), 0x7fff'ffff'ffff'ffffULL);
  EXPECT_EQ(d[0].body().back(), '}');
  EXPECT_EQ(d[0]["X-Request-Id"], "req-1");
  EXPECT_EQ(p[0]["X-Request-Id"], "req-1");
  EXPECT_TRUE(idle_eventually(c));
}

TEST(proxy_sglang, the_decode_stream_is_not_gated_on_the_prefill_body) {
  // The prefill answers a head and part of its body, then stalls: the decoder's whole stream still reaches
  // the client at once; the request ends when the prefill's answer times out.
  scripted_backend prefiller([](const auto&) {
    return scripted_answer{
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\"",
        /*hold_open=*/true};
  });
  // The decoder answers once the prefill's head and first bytes went out.
  scripted_backend decoder([&](const auto&) {
    eventually([&] { return prefiller.held_open() == 1; });
    return scripted_answer{http_response(200, "text/event-stream",
                                         "data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: [DONE]\n\n")};
  });
  cluster c({ports(prefiller.port())}, {ports(decoder.port())},
            sglang(1, [](proxy_config& config) { config.prefill_timeout = seconds_d{1.5}; }));
  const auto sent = std::chrono::steady_clock::now();
  const auto reply = request(c.port(), post(stream_body));
  ASSERT_TRUE(reply.complete);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(sse_data(reply.body).size(), 2u);
  // The prefill's body can never end (5 of its 100 bytes came, and its connection stays open), so the
  // client's whole answer could only come from a relay that does not wait for it, and well before the
  // prefill's deadline (1.5 s) would have failed the request.
  EXPECT_LT(std::chrono::steady_clock::now() - sent, std::chrono::milliseconds(1000));
  EXPECT_EQ(prefiller.received().size(), 1u);
  // This client closes its connection once it has its answer, which ends the request (the driver's client
  // abort): the prefill's connection goes and every hold is released.
  EXPECT_TRUE(eventually([&] { return prefiller.held_open() == 0; }));
  EXPECT_TRUE(idle_eventually(c));
}

TEST(proxy_sglang, a_kept_alive_client_lets_the_prefill_answer_be_read_to_its_end) {
  scripted_backend prefiller([](const auto&) {
    return scripted_answer{
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\"",
        /*hold_open=*/true};
  });
  scripted_backend decoder([&](const auto&) {
    eventually([&] { return prefiller.held_open() == 1; });
    return scripted_answer{http_response(200, "application/json", R"({"choices":[{"text":"a"}]})")};
  });
  cluster c({ports(prefiller.port())}, {ports(decoder.port())},
            sglang(1, [](proxy_config& config) { config.prefill_timeout = seconds_d{0.5}; }));
  const std::string body(whole_body);
  const std::string bytes =
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  // The client stays connected for 1.5 s: the decoder's answer reaches it at once, and the prefill's
  // unfinished answer is awaited until its deadline (0.5 s), not cut short by the relay's end.
  std::string got;
  std::thread client([&] { got = raw_exchange(c.port(), bytes, std::chrono::milliseconds(1500)); });
  EXPECT_TRUE(eventually([&] { return decoder.received().size() == 1; }));
  const auto sent = std::chrono::steady_clock::now();
  EXPECT_TRUE(eventually([&] { return prefiller.held_open() == 0; }));
  EXPECT_GE(std::chrono::steady_clock::now() - sent, std::chrono::milliseconds(400));
  EXPECT_TRUE(idle_eventually(c));
  client.join();
  EXPECT_NE(got.find(R"({"choices":[{"text":"a"}]})"), std::string::npos) << got;
}

TEST(proxy_sglang, a_refused_prefiller_closes_the_decode_and_answers_502) {
  cluster c({refused(1)}, {{sglang_engines(1, "decode")}}, sglang(1));
  const auto reply = request(c.port(), post(stream_body));
  EXPECT_EQ(reply.status, 502);
  EXPECT_EQ(json::parse(reply.body)["error"]["code"], 502) << reply.body;
  // The decoder, waiting for a prefill that never comes, lost its connection at once (if the request reached
  // it before the connect failed).
  EXPECT_TRUE(no_engine_waits(c, false));
  EXPECT_TRUE(idle_eventually(c));
}

TEST(proxy_sglang, a_failing_prefiller_is_retried_on_a_new_pair) {
  auto failing = sglang_engines(1, "prefill");
  failing.faults.fail_status = 503;
  cluster c({{failing}, {sglang_engines(1, "prefill")}}, {{sglang_engines(1, "decode")}}, sglang(3));
  for (int i = 0; i < 4; ++i) {
    const auto reply = request(c.port(), post(stream_body, "r-" + std::to_string(i)));
    ASSERT_EQ(reply.status, 200) << reply.body;
  }
  EXPECT_GE(c.prefill_servers()[0]->stats(0).failed.load(), 1u);
  EXPECT_EQ(c.prefill_servers()[1]->stats(0).prefill_requests.load(), 4u);
  EXPECT_TRUE(idle_eventually(c));
  EXPECT_GE(c.state().counters.prefill_retries.load(), 1u);
}

TEST(proxy_sglang, a_prefill_5xx_on_every_attempt_is_passed_through) {
  auto failing = sglang_engines(1, "prefill");
  failing.faults.fail_status = 500;
  cluster c({{failing}}, {{sglang_engines(1, "decode")}}, sglang(2));
  const auto reply = request(c.port(), post(stream_body));
  EXPECT_EQ(reply.status, 500);
  EXPECT_EQ(json::parse(reply.body)["object"], "error");
  EXPECT_EQ(c.prefill_servers()[0]->stats(0).failed.load(), 2u);  // two pairs
  EXPECT_TRUE(no_engine_waits(c, false));
  EXPECT_TRUE(idle_eventually(c));
}

TEST(proxy_sglang, a_decoder_reset_before_its_first_byte_answers_502) {
  auto dying = sglang_engines(1, "decode");
  dying.faults.die_after_chunks = 0;
  cluster c({{sglang_engines(1, "prefill")}}, {{dying}}, sglang(2));
  const auto reply = request(c.port(), post(stream_body));
  EXPECT_EQ(reply.status, 502);
  EXPECT_NE(json::parse(reply.body)["error"]["message"].get<std::string>().find("decode backend failed"),
            std::string::npos);
  EXPECT_EQ(c.decode_servers()[0]->stats(0).decode_requests.load(), 2u);
  EXPECT_TRUE(idle_eventually(c));
  EXPECT_EQ(c.state().counters.decode_retries.load(), 1u);
}

TEST(proxy_sglang, a_hanging_decoder_times_out_504_and_the_prefill_is_closed) {
  auto hanging = sglang_engines(1, "decode");
  hanging.faults.hang = true;
  cluster c({{sglang_engines(1, "prefill")}}, {{hanging}},
            sglang(1, [](proxy_config& config) { config.first_token_timeout = seconds_d{0.3}; }));
  const auto reply = request(c.port(), post(stream_body));
  EXPECT_EQ(reply.status, 504);
  EXPECT_EQ(json::parse(reply.body)["error"]["code"], 504);
  // The prefill, waiting for a decode that never claims its room, lost its connection at once.
  EXPECT_TRUE(eventually([&] { return c.total(true, &mock::engine_stats::aborted) == 1; }));
  EXPECT_TRUE(idle_eventually(c));
}

TEST(proxy_sglang, a_hanging_prefiller_times_out_504_and_the_decode_is_closed) {
  auto hanging = sglang_engines(1, "prefill");
  hanging.faults.hang = true;
  cluster c({{hanging}}, {{sglang_engines(1, "decode")}},
            sglang(1, [](proxy_config& config) { config.prefill_timeout = seconds_d{0.3}; }));
  const auto reply = request(c.port(), post(stream_body));
  EXPECT_EQ(reply.status, 504);
  EXPECT_TRUE(eventually([&] { return c.total(false, &mock::engine_stats::aborted) == 1; }));
  EXPECT_TRUE(idle_eventually(c));
}

TEST(proxy_sglang, a_client_abort_closes_both_legs) {
  scripted_backend prefiller([](const auto&) { return scripted_answer{"", /*hold_open=*/true}; });
  scripted_backend decoder([](const auto&) { return scripted_answer{"", /*hold_open=*/true}; });
  cluster c({ports(prefiller.port())}, {ports(decoder.port())}, sglang());
  auto spec = post(stream_body);
  spec.timeout = std::chrono::milliseconds(300);
  std::thread client([&] { request(c.port(), spec); });
  EXPECT_TRUE(eventually([&] { return prefiller.held_open() == 1 && decoder.held_open() == 1; }));
  client.join();  // the client gave up
  EXPECT_TRUE(eventually([&] { return prefiller.held_open() == 0 && decoder.held_open() == 0; }));
  EXPECT_TRUE(idle_eventually(c));
}

//------------------------------------------------------------------------------ pd-mock's SGLang roles

TEST(mock_sglang, a_request_without_a_room_is_refused_as_sglang_does) {
  mock::mock_server decode(sglang_engines(1, "decode"));
  decode.start();
  const auto reply =
      request(decode.port(0), post(R"({"model":"m","prompt":"x","bootstrap_host":"127.0.0.1"})"));
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(json::parse(reply.body)["message"],
            "Invalid request: Disaggregated request received without bootstrap room id");
}

TEST(mock_sglang, the_decode_waits_for_its_prefill_and_times_out_without_it) {
  mock::mock_server prefill(sglang_engines(1, "prefill", 5.0));
  mock::mock_server decode(sglang_engines(1, "decode", 0.3));
  prefill.start();
  decode.start();
  const std::string members = R"(,"bootstrap_host":"127.0.0.1","bootstrap_port":)" +
                              std::to_string(prefill.port(0)) + R"(,"bootstrap_room":77})";
  const std::string body = R"({"model":"m","prompt":"x","max_tokens":2)" + members;
  // Alone, the decode waits for the room, then gives up.
  const auto started = std::chrono::steady_clock::now();
  const auto alone = request(decode.port(0), post(body, "alone"));
  EXPECT_EQ(alone.status, 500);
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(300));
  EXPECT_EQ(decode.stats(0).kv_pull_failures.load(), 1u);
  // With its prefill (sent after it), both answer: the prefill one token, the decode its tokens.
  mock::mock_server patient(sglang_engines(1, "decode", 5.0));
  patient.start();
  http_reply decoded;
  std::thread waiting([&] { decoded = request(patient.port(0), post(body, "paired")); });
  EXPECT_TRUE(eventually([&] { return patient.stats(0).decode_requests.load() == 1; }));
  const auto prefilled = request(prefill.port(0), post(body, "paired"));
  waiting.join();
  EXPECT_EQ(prefilled.status, 200);
  EXPECT_EQ(json::parse(prefilled.body)["usage"]["completion_tokens"], 1);
  EXPECT_EQ(decoded.status, 200);
  EXPECT_EQ(json::parse(decoded.body)["usage"]["completion_tokens"], 2);
}

TEST(mock_sglang, the_prefill_waits_for_its_decode_and_times_out_without_it) {
  mock::mock_server prefill(sglang_engines(1, "prefill", 0.2));
  prefill.start();
  const std::string body = R"({"model":"m","prompt":"x","bootstrap_host":"127.0.0.1","bootstrap_port":1,)"
                           R"("bootstrap_room":5})";
  const auto reply = request(prefill.port(0), post(body));
  EXPECT_EQ(reply.status, 500);
}

}  // namespace
}  // namespace pd_proxy::test
