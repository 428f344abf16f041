// Regression tests for the defects of issue 8: each reproduces one misbehaviour of a client or a backend.
#include <gtest/gtest.h>

#include <future>

#include "pd_proxy/core/flow/request_rewrite.hpp"
#include "proxy_fixture.hpp"
#include "scripted_backend.hpp"

namespace pd_proxy::test {
namespace {

using namespace std::chrono_literals;

const std::string stream_body = R"({"model":"m","prompt":"hello","max_tokens":4,"stream":true})";
const std::string json_body = R"({"model":"m","prompt":"hello","max_tokens":4})";

request_spec post(std::string body, std::string target = "/v1/completions") {
  request_spec spec;
  spec.target = std::move(target);
  spec.body = std::move(body);
  return spec;
}

std::string sse_response_head(std::string_view interim = {}) {
  return std::string(interim) +
         "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
}

std::string chunk(std::string_view data) {
  char size[24];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return std::string(size) + std::string(data) + "\r\n";
}

const std::string token_event = R"(data: {"choices":[{"index":0,"text":"a"}]})"
                                "\n\n";

// A decoder that streams one event, then stalls with the connection open.
scripted_backend::script stalling_decoder() {
  return [](const auto&) { return scripted_answer{sse_response_head() + chunk(token_event), true}; };
}

scripted_backend::script fixed(std::string bytes) {
  return [bytes](const auto&) { return scripted_answer{bytes, false}; };
}

// A keep-alive client on one connection, blocking.
class keep_alive_client {
 public:
  explicit keep_alive_client(std::uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }
  http::response<http::string_body> send(http::verb method, std::string target, std::string body = {}) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = std::move(body);
    }
    req.prepare_payload();
    http::write(socket_, req);
    http::response<http::string_body> res;
    http::read(socket_, buffer_, res);
    return res;
  }
  tcp::socket& socket() { return socket_; }

 private:
  net::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

//------------------------------------------------------------------------------
// 1. Interim 1xx answers are skipped on both legs.

TEST(proxy_defects, interim_1xx_answers_of_both_legs_are_skipped) {
  scripted_backend prefiller(
      fixed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" +
            prefill_answer_bytes()));
  scripted_backend decoder(fixed(sse_response_head("HTTP/1.1 103 Early Hints\r\n\r\n") + chunk(token_event) +
                                 chunk("data: [DONE]\n\n") + "0\r\n\r\n"));
  cluster c({{{}, 0, {prefiller.port()}}}, {{{}, 0, {decoder.port()}}});
  const auto reply = request(c.port(), post(stream_body));
  ASSERT_TRUE(reply.complete) << reply.ec.message();
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, token_event + "data: [DONE]\n\n");
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_defects, a_101_answer_is_a_failed_attempt) {
  scripted_backend decoder(fixed("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"));
  scripted_backend prefiller(fixed(prefill_answer_bytes()));
  cluster c({{{}, 0, {prefiller.port()}}}, {{{}, 0, {decoder.port()}}},
            [](proxy_config& config) { config.max_retries = 1; });
  const auto reply = request(c.port(), post(stream_body));
  EXPECT_EQ(reply.status, 502);
}

//------------------------------------------------------------------------------
// 3. Request smuggling through Transfer-Encoding.

TEST(proxy_defects, a_transfer_encoding_other_than_chunked_is_refused_and_the_connection_closed) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  const std::string smuggled = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  for (const std::string coding : {"gzip", "xchunked", "chunked, gzip", "identity"}) {
    const std::string out = raw_exchange(
        c.port(),
        "POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + coding + "\r\n\r\n" + smuggled,
        5000ms, /*half_close=*/true);
    EXPECT_TRUE(out.starts_with("HTTP/1.1 501 ")) << coding << ": " << out;
    EXPECT_NE(out.find("X-Request-Id: "), std::string::npos) << out;
    EXPECT_EQ(out.find("HTTP/1.1", 1), std::string::npos) << "a second response: " << out;
    EXPECT_NE(out.find("Connection: close"), std::string::npos);
  }
  const std::string two_lines =
      raw_exchange(c.port(),
                   "POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
                       smuggled,
                   5000ms, /*half_close=*/true);
  EXPECT_TRUE(two_lines.starts_with("HTTP/1.1 501 ") || two_lines.starts_with("HTTP/1.1 400 ")) << two_lines;
  EXPECT_EQ(two_lines.find("HTTP/1.1", 1), std::string::npos);
  const std::string with_length = raw_exchange(
      c.port(),
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
      "\r\n0\r\n\r\n" +
          smuggled,
      5000ms, /*half_close=*/true);
  EXPECT_TRUE(with_length.starts_with("HTTP/1.1 400 ")) << with_length;
  EXPECT_EQ(with_length.find("HTTP/1.1", 1), std::string::npos);
  EXPECT_EQ(c.total(true, &mock::engine_stats::requests), 0u);
}

TEST(proxy_defects, chunked_trailer_fields_do_not_count_as_headers) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  const std::string out =
      raw_exchange(c.port(),
                   "POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   "X-Request-Id: from-head\r\nTransfer-Encoding: chunked\r\n\r\n" +
                       chunk(json_body) + "0\r\nHost: b\r\nX-Request-Id: from-trailer\r\n\r\n",
                   10000ms);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 200 OK")) << out;
  EXPECT_NE(out.find("X-Request-Id: from-head\r\n"), std::string::npos) << out;
  EXPECT_EQ(c.prefill_servers()[0]->recorded(0).at(0).request_id, "from-head");
}

TEST(proxy_defects, a_trailer_field_named_as_a_header_field_drops_only_itself) {
  // Beast files a trailer's Host next to the header's Host: dropping "the last N fields" removed the
  // header's Connection: close instead (found by the client_request fuzzer).
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  const std::string out =
      raw_exchange(c.port(),
                   "POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Request-Id: from-head\r\n"
                   "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                       chunk(json_body) + "0\r\nHost: evil\r\n\r\n",
                   10000ms);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 200 OK")) << out;
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("X-Request-Id: from-head\r\n"), std::string::npos) << out;
}

TEST(proxy_defects, a_chunked_body_is_still_accepted) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  const std::string out = raw_exchange(c.port(),
                                       "POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                       "Transfer-Encoding: chunked\r\n\r\n" +
                                           chunk(json_body) + "0\r\n\r\n",
                                       10000ms);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 200 OK")) << out;
}

//------------------------------------------------------------------------------
// 4. `stream` values that vLLM would coerce.

TEST(proxy_defects, a_stream_value_that_is_not_a_boolean_is_a_400_without_a_backend_round_trip) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  for (const std::string value : {"1", R"("yes")", R"("true")", R"("on")", "0", "{}", "[]"}) {
    const auto reply = request(c.port(), post(R"({"prompt":"p","stream":)" + value + "}"));
    EXPECT_EQ(reply.status, 400) << value;
    EXPECT_NE(reply.body.find("stream"), std::string::npos) << reply.body;
  }
  EXPECT_EQ(request(c.port(), post(R"({"prompt":"p","max_tokens":2,"stream":null})")).status, 200);
  EXPECT_EQ(c.total(true, &mock::engine_stats::requests), 1u);
}

//------------------------------------------------------------------------------
// 5. A client that leaves with more than 64 KiB pipelined is still noticed.

TEST(proxy_defects, an_abort_is_noticed_however_much_the_client_pipelined) {
  auto hanging = fast_engines(1);
  hanging.faults.hang = true;
  cluster c({{fast_engines(1)}}, {{hanging}});
  {
    net::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), c.port()));
    const std::string head =
        "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(stream_body.size()) + "\r\n\r\n" + stream_body;
    net::write(socket, net::buffer(head));
    ASSERT_TRUE(eventually([&] { return c.state().request_num.load() == 1; }));
    const std::string pipelined(256 * 1024, 'x');
    net::write(socket, net::buffer(pipelined));
    // Closed with unread bytes: the kernel resets the connection.
  }
  // The disconnect is counted just after the request's reservations are released: wait for both.
  EXPECT_TRUE(eventually([&] { return c.idle() && c.state().counters.client_disconnects.load() == 1; }));
}

TEST(proxy_defects, a_half_closed_client_is_gone_unless_told_otherwise) {
  auto slow = fast_engines(1);
  slow.timing.decode_ms_per_token = 50;  // a stream long enough to still run when the client half-closes
  const std::string head =
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(stream_body.size()) + "\r\n\r\n" + stream_body;
  {
    cluster c({{fast_engines(1)}}, {{slow}});
    const std::string out = raw_exchange(c.port(), head, 10000ms, /*half_close=*/true);
    EXPECT_EQ(out.find("[DONE]"), std::string::npos) << out;
    EXPECT_TRUE(eventually([&] { return c.idle() && c.state().counters.client_disconnects.load() == 1; }));
  }
  {
    cluster c({{fast_engines(1)}}, {{slow}},
              [](proxy_config& config) { config.ignore_client_half_close = true; });
    const std::string out = raw_exchange(c.port(), head, 10000ms, /*half_close=*/true);
    EXPECT_NE(out.find("data: [DONE]"), std::string::npos) << out;
    EXPECT_TRUE(eventually([&] { return c.idle(); }));
    EXPECT_EQ(c.state().counters.client_disconnects.load(), 0u);
  }
}

//------------------------------------------------------------------------------
// 6. Drain.

TEST(proxy_defects, during_a_drain_a_request_on_a_kept_alive_connection_gets_503_and_close) {
  scripted_backend prefiller(fixed(prefill_answer_bytes()));
  scripted_backend decoder(stalling_decoder());
  cluster c({{{}, 0, {prefiller.port()}}}, {{{}, 0, {decoder.port()}}});
  keep_alive_client client(c.port());
  ASSERT_EQ(client.send(http::verb::get, "/health").result_int(), 200);
  // A stream in flight keeps the drain waiting.
  auto stream = std::async(std::launch::async, [&] { return request(c.port(), post(stream_body)); });
  ASSERT_TRUE(eventually([&] { return decoder.held_open() == 1; }));
  auto stopped = std::async(std::launch::async, [&] { c.proxy().stop(seconds_d{60}); });
  ASSERT_TRUE(eventually([&] { return c.state().draining.load(); }));
  const auto during = client.send(http::verb::get, "/health");
  EXPECT_EQ(during.result_int(), 503);
  EXPECT_FALSE(during.keep_alive());
  EXPECT_NE(during.body().find("shutting down"), std::string::npos);
  EXPECT_EQ(during[http::field::retry_after], "1");
  c.proxy().hurry();
  stopped.get();
  const auto reply = stream.get();
  EXPECT_EQ(reply.status, 200);
}

TEST(proxy_defects, streams_still_running_at_the_drain_deadline_end_with_an_error_event) {
  scripted_backend prefiller(fixed(prefill_answer_bytes()));
  scripted_backend decoder(stalling_decoder());
  cluster c({{{}, 0, {prefiller.port()}}}, {{{}, 0, {decoder.port()}}});
  auto stream = std::async(std::launch::async, [&] { return request(c.port(), post(stream_body)); });
  ASSERT_TRUE(eventually([&] { return decoder.held_open() == 1; }));
  c.proxy().stop(seconds_d{0.2});
  const auto reply = stream.get();
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(reply.complete) << "the stream must end cleanly: " << reply.ec.message();
  const auto events = sse_data(reply.body);
  ASSERT_EQ(events.size(), 2u) << reply.body;
  EXPECT_NE(events[1].find("\"code\":503"), std::string::npos) << events[1];
  EXPECT_NE(events[1].find("proxy shutting down"), std::string::npos) << events[1];
}

TEST(proxy_defects, a_drain_without_a_limit_lets_a_stream_finish) {
  auto slow = fast_engines(1);
  slow.timing.decode_ms_per_token = 40;  // 12 tokens: the stream is still running when the drain starts
  cluster c({{fast_engines(1)}}, {{slow}});
  auto stream = std::async(std::launch::async, [&] {
    return request(c.port(), post(R"({"model":"m","prompt":"hello","max_tokens":12,"stream":true})"));
  });
  ASSERT_TRUE(eventually([&] { return c.total(false, &mock::engine_stats::decode_requests) == 1; }));
  c.proxy().stop(seconds_d{0});  // 0: no limit, wait for it
  const auto reply = stream.get();
  ASSERT_TRUE(reply.complete) << reply.ec.message();
  EXPECT_EQ(sse_data(reply.body).back(), "[DONE]");
  EXPECT_EQ(reply.body.find("shutting down"), std::string::npos);
}

TEST(proxy_defects, a_request_waiting_to_retry_at_the_drain_deadline_gets_a_503) {
  cluster c({{fast_engines(1)}}, {{{}, 1}},
            [](proxy_config& config) { config.retry_delay = seconds_d{600}; });
  auto pending = std::async(std::launch::async, [&] { return request(c.port(), post(stream_body)); });
  ASSERT_TRUE(eventually([&] { return c.state().counters.decode_retries.load() == 1; }));
  c.proxy().stop(seconds_d{0.1});
  const auto reply = pending.get();
  EXPECT_EQ(reply.status, 503);
  EXPECT_NE(reply.body.find("proxy shutting down"), std::string::npos);
}

TEST(proxy_defects, a_drain_during_an_unfinished_huge_event_ends_that_event_before_the_error) {
  const std::string unfinished = "data: {\"choices\":[{\"text\":\"" + std::string(300 * 1024, 'z');
  scripted_backend prefiller(fixed(prefill_answer_bytes()));
  scripted_backend decoder([&](const auto&) {
    return scripted_answer{sse_response_head() + chunk(token_event) + chunk(unfinished), true};
  });
  cluster c({{{}, 0, {prefiller.port()}}}, {{{}, 0, {decoder.port()}}});
  auto stream = std::async(std::launch::async, [&] { return request(c.port(), post(stream_body)); });
  ASSERT_TRUE(eventually([&] { return decoder.held_open() == 1; }));
  c.proxy().stop(seconds_d{0.2});
  const auto reply = stream.get();
  ASSERT_TRUE(reply.complete) << reply.ec.message();
  // More than 256 KiB of the unfinished event went out (it could not be held whole); the rest was held back.
  const std::size_t end = reply.body.find("\n\ndata: {\"error\"");
  ASSERT_NE(end, std::string::npos) << reply.body.substr(0, 200);
  EXPECT_GT(end, token_event.size() + 256 * 1024);
  EXPECT_TRUE((token_event + unfinished).starts_with(reply.body.substr(0, end)));
  EXPECT_NE(reply.body.find("proxy shutting down", end), std::string::npos);
}

TEST(proxy_defects, a_request_waiting_for_its_first_token_at_the_drain_deadline_gets_a_503) {
  auto hanging = fast_engines(1);
  hanging.faults.hang = true;
  cluster c({{fast_engines(1)}}, {{hanging}});
  auto pending = std::async(std::launch::async, [&] { return request(c.port(), post(stream_body)); });
  ASSERT_TRUE(eventually([&] { return c.total(false, &mock::engine_stats::requests) == 1; }));
  c.proxy().stop(seconds_d{0.1});
  const auto reply = pending.get();
  EXPECT_EQ(reply.status, 503);
  EXPECT_NE(reply.body.find("proxy shutting down"), std::string::npos);
}

//------------------------------------------------------------------------------
// 7. /v1/models asks every backend at once, within one deadline.

TEST(proxy_defects, models_asks_backends_concurrently) {
  std::vector<std::unique_ptr<scripted_backend>> silent;
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < 12; ++i) {
    silent.push_back(std::make_unique<scripted_backend>([](const auto&) {
      return scripted_answer{{}, true};
    }));
    ports.push_back(silent.back()->port());
  }
  cluster c({{{}, 0, ports}}, {{fast_engines(1)}});
  auto spec = post("");
  spec.method = http::verb::get;
  spec.target = "/v1/models";
  spec.timeout = 10000ms;  // asked one after another, 12 silent prefillers would take 36 s
  const auto reply = request(c.port(), spec);
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_NE(reply.body.find("\"object\":\"list\""), std::string::npos) << reply.body;
}

TEST(proxy_defects, models_relays_an_answer_with_a_body_and_its_own_status_and_type) {
  scripted_backend empty(fixed(http_response(200, "application/json", "")));
  scripted_backend no_content(fixed("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"));
  scripted_backend listing(fixed(http_response(203, "application/json; charset=utf-8", R"({"data":[]})")));
  {
    cluster c({{{}, 0, {empty.port(), no_content.port()}}}, {{{}, 0, {empty.port()}}});
    auto spec = post("");
    spec.method = http::verb::get;
    spec.target = "/v1/models";
    EXPECT_EQ(request(c.port(), spec).status, 503);
  }
  cluster c({{{}, 0, {empty.port(), no_content.port()}}}, {{{}, 0, {listing.port()}}});
  auto spec = post("");
  spec.method = http::verb::get;
  spec.target = "/v1/models";
  const auto reply = request(c.port(), spec);
  EXPECT_EQ(reply.status, 203);
  EXPECT_EQ(reply.headers[http::field::content_type], "application/json; charset=utf-8");
  EXPECT_EQ(reply.body, R"({"data":[]})");
}

TEST(proxy_defects, a_drain_waits_for_a_models_request) {
  scripted_backend silent([](const auto&) { return scripted_answer{{}, true}; });
  cluster c({{{}, 0, {silent.port()}}}, {{{}, 0, {silent.port()}}});
  auto models = std::async(std::launch::async, [&] {
    auto spec = post("");
    spec.method = http::verb::get;
    spec.target = "/v1/models";
    return request(c.port(), spec);
  });
  ASSERT_TRUE(eventually([&] { return silent.held_open() == 2; }));
  c.proxy().stop(seconds_d{60});  // returns once the models request ended (its own 3 s deadline)
  EXPECT_EQ(models.get().status, 503);
}

TEST(proxy_defects, models_with_no_answering_backend_is_a_503_after_one_deadline) {
  scripted_backend silent([](const auto&) { return scripted_answer{{}, true}; });
  cluster c({{{}, 0, {silent.port(), silent.port(), silent.port()}}}, {{{}, 2}});
  auto spec = post("");
  spec.method = http::verb::get;
  spec.target = "/v1/models";
  spec.timeout = 8000ms;
  EXPECT_EQ(request(c.port(), spec).status, 503);
}

//------------------------------------------------------------------------------
// 8. A global bound on buffered request bodies.

TEST(proxy_defects, bodies_beyond_the_buffered_bytes_bound_get_503_with_retry_after) {
  scripted_backend prefiller(fixed(prefill_answer_bytes()));
  scripted_backend decoder(stalling_decoder());
  auto hanging = fast_engines(1);
  hanging.faults.hang = true;
  cluster c({{hanging}}, {{{}, 0, {decoder.port()}}},
            [](proxy_config& config) { config.max_buffered_body_bytes = 1000; });
  const std::string big = R"({"prompt":")" + std::string(600, 'x') + R"(","stream":true})";
  auto held = std::async(std::launch::async, [&] { return request(c.port(), post(big)); });
  ASSERT_TRUE(eventually([&] { return c.state().bodies.used() == big.size(); }));
  const auto refused = request(c.port(), post(big));
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.headers[http::field::retry_after], "1");
  EXPECT_NE(refused.body.find("max-buffered-body-bytes"), std::string::npos);
  EXPECT_FALSE(refused.headers["X-Request-Id"].empty());
  // A body that could never fit is a 413, not a 503 to retry.
  const std::string too_big = R"({"prompt":")" + std::string(2000, 'x') + R"("})";
  EXPECT_EQ(request(c.port(), post(too_big)).status, 413);
  // A chunked body is counted as its chunks arrive.
  const std::string chunked = raw_exchange(c.port(),
                                           "POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Request-Id: "
                                           "chunky\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                               chunk(big) + "0\r\n\r\n",
                                           5000ms, /*half_close=*/true);
  EXPECT_TRUE(chunked.starts_with("HTTP/1.1 503 ")) << chunked;
  EXPECT_NE(chunked.find("X-Request-Id: chunky\r\n"), std::string::npos) << chunked;
  EXPECT_NE(chunked.find("Retry-After: 1\r\n"), std::string::npos) << chunked;
  c.proxy().stop(seconds_d{0.05});
  held.get();
  EXPECT_EQ(c.state().bodies.used(), 0u);
}

TEST(proxy_defects, an_announced_body_that_does_not_arrive_holds_no_budget) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}},
            [](proxy_config& config) { config.max_buffered_body_bytes = 1000; });
  net::io_context io;
  std::vector<tcp::socket> idle;
  for (int i = 0; i < 4; ++i) {
    idle.emplace_back(io);
    idle.back().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), c.port()));
    const std::string head = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\n{";
    net::write(idle.back(), net::buffer(head));
  }
  EXPECT_EQ(request(c.port(), post(json_body)).status, 200);
  EXPECT_LE(c.state().bodies.used(), 4u);
}

TEST(proxy_defects, the_body_is_given_back_once_the_decoder_answered) {
  scripted_backend prefiller(fixed(prefill_answer_bytes()));
  scripted_backend decoder(stalling_decoder());
  cluster c({{{}, 0, {prefiller.port()}}}, {{{}, 0, {decoder.port()}}});
  auto stream = std::async(std::launch::async, [&] { return request(c.port(), post(stream_body)); });
  ASSERT_TRUE(eventually([&] { return decoder.held_open() == 1; }));
  EXPECT_TRUE(eventually([&] { return c.state().bodies.used() == 0; }));
  EXPECT_EQ(c.state().request_num.load(), 1);
  c.proxy().stop(seconds_d{0.05});
  stream.get();
}

//------------------------------------------------------------------------------
// 9. Backends get the client's bytes, even with an escaped key.

TEST(proxy_defects, big_integers_and_key_order_survive_an_escaped_key) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  const std::string body =
      R"({"z":1,"pr\u006fmpt":"hi","seed":123456789012345678901234567890,"t":1.10,"max_tokens":2,"a":-0.0})";
  ASSERT_EQ(request(c.port(), post(body)).status, 200);
  const auto prefill = c.prefill_servers()[0]->recorded(0);
  const auto decode = c.decode_servers()[0]->recorded(0);
  ASSERT_EQ(prefill.size(), 1u);
  ASSERT_EQ(decode.size(), 1u);
  for (const auto& leg : {prefill[0].body, decode[0].body}) {
    EXPECT_NE(leg.find(R"("seed":123456789012345678901234567890,"t":1.10,)"), std::string::npos) << leg;
    EXPECT_TRUE(leg.starts_with(R"({"z":1,"pr\u006fmpt":"hi",)")) << leg;
    EXPECT_NE(leg.find(R"("a":-0.0)"), std::string::npos) << leg;
  }
}

//------------------------------------------------------------------------------
// 10, 11. Request ids on early rejections; HTTP conformance.

TEST(proxy_defects, early_rejections_carry_a_request_id) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}},
            [](proxy_config& config) { config.max_body_size = 100; });
  const std::string too_large = raw_exchange(
      c.port(),
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc-1\r\nContent-Length: 5000\r\n\r\n",
      5000ms, /*half_close=*/true);
  EXPECT_TRUE(too_large.starts_with("HTTP/1.1 413 ")) << too_large;
  EXPECT_NE(too_large.find("X-Request-Id: abc-1\r\n"), std::string::npos) << too_large;
  const std::string malformed =
      raw_exchange(c.port(), "NOT HTTP AT ALL\r\n\r\n", 5000ms, /*half_close=*/true);
  EXPECT_TRUE(malformed.starts_with("HTTP/1.1 400 ")) << malformed;
  EXPECT_NE(malformed.find("X-Request-Id: "), std::string::npos) << malformed;
}

TEST(proxy_defects, the_503_for_too_many_connections_carries_a_request_id) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}},
            [](proxy_config& config) { config.max_connections = 1; });
  keep_alive_client first(c.port());
  ASSERT_EQ(first.send(http::verb::get, "/health").result_int(), 200);
  const std::string refused = raw_exchange(c.port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 5000ms);
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 503 ")) << refused;
  EXPECT_NE(refused.find("X-Request-Id: "), std::string::npos) << refused;
}

// The route table (core/http/routes) gives every route's 405 its Allow header, the admin routes' too.
TEST(proxy_defects, every_routes_405_names_its_methods) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  keep_alive_client client(c.port());  // a loopback client: the admin routes serve it without a key
  for (const char* path : {"/v1/completions", "/v1/chat/completions", "/instances/add", "/instances/remove",
                           "/reset_prefix_cache"}) {
    const auto wrong = client.send(http::verb::get, path);
    EXPECT_EQ(wrong.result_int(), 405) << path;
    EXPECT_EQ(wrong[http::field::allow], "POST") << path;
  }
  for (const char* path : {"/health", "/healthcheck", "/ready", "/metrics", "/v1/models", "/instances"}) {
    const auto wrong = client.send(http::verb::post, path, "{}");
    EXPECT_EQ(wrong.result_int(), 405) << path;
    EXPECT_EQ(wrong[http::field::allow], "GET, HEAD") << path;
  }
  EXPECT_EQ(client.send(http::verb::get, "/instances/").result_int(), 404);
}

TEST(proxy_defects, http_conformance_allow_head_host) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}});
  keep_alive_client client(c.port());
  const auto wrong = client.send(http::verb::get, "/v1/completions");
  EXPECT_EQ(wrong.result_int(), 405);
  EXPECT_EQ(wrong[http::field::allow], "POST");
  const auto wrong_get = client.send(http::verb::post, "/health", "{}");
  EXPECT_EQ(wrong_get.result_int(), 405);
  EXPECT_EQ(wrong_get[http::field::allow], "GET, HEAD");

  const std::string head =
      raw_exchange(c.port(), "HEAD /healthcheck HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5000ms);
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n")) << head;
  EXPECT_NE(head.find("Content-Length: "), std::string::npos);
  EXPECT_TRUE(head.ends_with("\r\n\r\n")) << "no body after the head: " << head;

  const std::string head_models =
      raw_exchange(c.port(), "HEAD /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5000ms);
  EXPECT_TRUE(head_models.starts_with("HTTP/1.1 200 OK\r\n")) << head_models;
  EXPECT_TRUE(head_models.ends_with("\r\n\r\n")) << "no body after the head: " << head_models;

  const std::string no_host =
      raw_exchange(c.port(), "GET /health HTTP/1.1\r\n\r\n", 5000ms, /*half_close=*/true);
  EXPECT_TRUE(no_host.starts_with("HTTP/1.1 400 ")) << no_host;
  const std::string two_hosts =
      raw_exchange(c.port(), "GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 5000ms, true);
  EXPECT_TRUE(two_hosts.starts_with("HTTP/1.1 400 ")) << two_hosts;
  const std::string absolute = raw_exchange(
      c.port(), "GET http://127.0.0.1/health?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5000ms);
  EXPECT_TRUE(absolute.starts_with("HTTP/1.1 200 OK")) << absolute;

  const std::string http10 = raw_exchange(c.port(), "GET /health HTTP/1.0\r\n\r\n", 5000ms);
  EXPECT_TRUE(http10.starts_with("HTTP/1.1 200 OK")) << http10;
}

TEST(proxy_defects, a_backend_redirect_keeps_its_reason_phrase_and_a_4xx_its_content_type) {
  scripted_backend prefiller(fixed(prefill_answer_bytes()));
  scripted_backend redirecting(fixed(http_response(302, "text/html", "<a>moved</a>", "Location: /x\r\n")));
  scripted_backend plain_4xx(fixed(http_response(422, "text/plain; charset=utf-8", "no such model")));
  {
    cluster c({{{}, 0, {prefiller.port()}}}, {{{}, 0, {redirecting.port()}}});
    const std::string out = raw_exchange(c.port(),
                                         "POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                         "Content-Length: " +
                                             std::to_string(json_body.size()) + "\r\n\r\n" + json_body,
                                         5000ms);
    EXPECT_TRUE(out.starts_with("HTTP/1.1 302 Found\r\n")) << out;
    EXPECT_NE(out.find("Content-Type: text/html\r\n"), std::string::npos) << out;
  }
  {
    cluster c({{{}, 0, {prefiller.port()}}}, {{{}, 0, {plain_4xx.port()}}});
    const auto reply = request(c.port(), post(json_body));
    EXPECT_EQ(reply.status, 422);
    EXPECT_EQ(reply.headers[http::field::content_type], "text/plain; charset=utf-8");
    EXPECT_EQ(reply.body, "no such model");
  }
}

//------------------------------------------------------------------------------
// 13. An endless event is relayed without holding it whole.

TEST(proxy_defects, a_huge_event_is_relayed_unchanged) {
  const std::string huge =
      "data: {\"choices\":[{\"text\":\"" + std::string(24 * 1024 * 1024, 'y') + "\"}]}\n\n";
  std::string body;
  for (std::size_t at = 0; at < huge.size(); at += 64 * 1024)
    body += chunk(std::string_view(huge).substr(at, 64 * 1024));
  body += chunk("data: [DONE]\n\n") + "0\r\n\r\n";
  scripted_backend prefiller(fixed(prefill_answer_bytes()));
  scripted_backend decoder(fixed(sse_response_head() + body));
  cluster c({{{}, 0, {prefiller.port()}}}, {{{}, 0, {decoder.port()}}});
  const auto reply = request(c.port(), post(stream_body));
  ASSERT_TRUE(reply.complete) << reply.ec.message();
  EXPECT_EQ(reply.body.size(), huge.size() + 14);
  EXPECT_TRUE(reply.body == huge + "data: [DONE]\n\n");
}

//------------------------------------------------------------------------------
// 17. --decode-retry-kv.

TEST(proxy_defects, decode_retry_kv_reuse_or_reprefill) {
  for (const auto mode : {decode_retry_kv::reuse, decode_retry_kv::reprefill}) {
    auto failing = fast_engines(1);
    failing.faults.fail_status = 500;
    cluster c({{fast_engines(1)}}, {{failing}, {fast_engines(1)}}, [&](proxy_config& config) {
      config.decode_retry_kv = mode;
      config.decode_policy = "least-loaded";
    });
    int retried = 0;
    for (int i = 0; i < 4; ++i) {
      const auto before = c.state().counters.decode_retries.load();
      ASSERT_EQ(request(c.port(), post(stream_body)).status, 200);
      retried += c.state().counters.decode_retries.load() > before ? 1 : 0;
    }
    ASSERT_GE(retried, 1);
    const auto prefills = c.total(true, &mock::engine_stats::prefill_requests);
    if (mode == decode_retry_kv::reuse) {
      EXPECT_EQ(prefills, 4u);
    } else {
      EXPECT_EQ(prefills, 4u + static_cast<unsigned>(retried));
    }
    EXPECT_EQ(c.total(false, &mock::engine_stats::local_prefills), 0u);
    EXPECT_TRUE(eventually([&] { return c.idle(); }));
    if (mode == decode_retry_kv::reprefill) {
      // The new prefill and its decode carry their own id; the client still sees its own.
      int suffixed = 0;
      for (const auto& r : c.prefill_servers()[0]->recorded(0))
        suffixed += r.request_id.ends_with("-reprefill1");
      EXPECT_EQ(suffixed, retried);
    }
  }
}

TEST(proxy_defects, a_decoder_that_was_never_reached_is_retried_with_the_same_kv_even_with_reprefill) {
  cluster c({{fast_engines(1)}}, {{{}, 1}, {fast_engines(1)}},
            [](proxy_config& config) { config.decode_retry_kv = decode_retry_kv::reprefill; });
  for (int i = 0; i < 4; ++i) ASSERT_EQ(request(c.port(), post(stream_body)).status, 200);
  EXPECT_GE(c.state().counters.decode_retries.load(), 1u);
  EXPECT_EQ(c.total(true, &mock::engine_stats::prefill_requests), 4u);
}

TEST(proxy_defects, a_prefill_4xx_keeps_its_content_type) {
  scripted_backend prefiller(fixed(http_response(400, "text/plain", "prompt too long")));
  cluster c({{{}, 0, {prefiller.port()}}}, {{fast_engines(1)}});
  const auto reply = request(c.port(), post(json_body));
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.headers[http::field::content_type], "text/plain");
  EXPECT_EQ(reply.body, "prompt too long");
}

}  // namespace
}  // namespace pd_proxy::test
