// Failure semantics: passthrough, failover, timeouts, mid-stream failures, client aborts, concurrency.
#include <gtest/gtest.h>

#include "pd_proxy/core/flow/request_rewrite.hpp"
#include "proxy_fixture.hpp"

namespace pd_proxy::test {
namespace {

const std::string stream_body = R"({"model":"m","prompt":"hello","max_tokens":6,"stream":true})";

request_spec post(std::string body, std::string target = "/v1/completions") {
  request_spec spec;
  spec.target = std::move(target);
  spec.body = std::move(body);
  return spec;
}

json error_of(const http_reply& reply) {
  auto body = parse_json_object(reply.body);
  EXPECT_TRUE(body) << reply.body;
  return body ? (*body)["error"] : json();
}

TEST(proxy_failure, prefill_400_is_passed_through_and_not_retried) {
  auto rejecting = fast_engines(2);
  rejecting.faults.reject_prefill_400 = true;
  cluster c({{rejecting}}, {{fast_engines(1)}});
  const auto reply = request(c.port(), post(stream_body));
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(reply.body.find("maximum context length"), std::string::npos);
  EXPECT_EQ(c.total(true, &mock::engine_stats::requests), 1u);
  EXPECT_EQ(c.total(false, &mock::engine_stats::requests), 0u);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_failure, prefill_5xx_fails_over_to_another_prefiller) {
  auto failing = fast_engines(1);
  failing.faults.fail_status = 503;
  cluster c({{failing}, {fast_engines(1)}}, {{fast_engines(1)}});
  for (int i = 0; i < 4; ++i) EXPECT_EQ(request(c.port(), post(stream_body)).status, 200);
  EXPECT_GE(c.state().counters.prefill_retries.load(), 1u);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_failure, decoder_down_fails_over) {
  cluster c({{fast_engines(1)}}, {{{}, 2}, {fast_engines(1)}});
  for (int i = 0; i < 6; ++i) {
    const auto reply = request(c.port(), post(stream_body));
    ASSERT_EQ(reply.status, 200);
    EXPECT_EQ(sse_data(reply.body).back(), "[DONE]");
  }
  EXPECT_EQ(c.total(false, &mock::engine_stats::decode_requests), 6u);
  EXPECT_GE(c.state().counters.decode_retries.load(), 1u);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_failure, decoder_5xx_fails_over_reusing_the_same_kv_params) {
  auto failing = fast_engines(1);
  failing.faults.fail_status = 500;
  cluster c({{fast_engines(1)}}, {{failing}, {fast_engines(1)}});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(request(c.port(), post(stream_body)).status, 200);
  EXPECT_EQ(c.total(true, &mock::engine_stats::prefill_requests), 3u);  // prefill ran once per request
  EXPECT_EQ(c.total(false, &mock::engine_stats::kv_pulls), 3u);
}

TEST(proxy_failure, all_decoders_down_is_a_502_json_error_never_an_empty_200) {
  cluster c({{fast_engines(1)}}, {{{}, 3}});
  const auto reply = request(c.port(), post(stream_body));
  EXPECT_EQ(reply.status, 502);
  EXPECT_EQ(error_of(reply)["code"], 502);
  EXPECT_EQ(reply.headers[http::field::content_type], "application/json");
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_failure, all_prefillers_down_is_a_502) {
  cluster c({{{}, 2}}, {{fast_engines(1)}});
  const auto reply = request(c.port(), post(stream_body));
  EXPECT_EQ(reply.status, 502);
  EXPECT_NE(error_of(reply)["message"].get<std::string>().find("prefill"), std::string::npos);
}

TEST(proxy_failure, empty_pool_is_a_503) {
  cluster c({}, {{fast_engines(1)}});
  EXPECT_EQ(request(c.port(), post(stream_body)).status, 503);
}

TEST(proxy_failure, decoder_dies_mid_stream_gives_an_sse_error_and_no_duplicate) {
  auto dying = fast_engines(2);
  dying.faults.die_after_chunks = 3;
  cluster c({{fast_engines(1)}}, {{dying}});
  const auto reply = request(c.port(), post(stream_body));
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(reply.complete);  // the proxy ends the stream properly
  const auto events = sse_data(reply.body);
  ASSERT_EQ(events.size(), 4u);  // 3 tokens, then the error; never replayed, no [DONE]
  EXPECT_NE(events.back().find("\"error\""), std::string::npos);
  EXPECT_EQ(c.total(false, &mock::engine_stats::requests), 1u);
  EXPECT_EQ(c.state().counters.midstream_failures.load(), 1u);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_failure, decoder_dies_mid_json_gives_a_truncated_body) {
  auto dying = fast_engines(1);
  dying.faults.die_after_chunks = 0;
  cluster c({{fast_engines(1)}}, {{dying}});
  const auto reply = request(c.port(), post(R"({"prompt":"x","max_tokens":50})"));
  EXPECT_EQ(reply.status, 200);
  EXPECT_FALSE(reply.complete);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_failure, prefill_timeout_is_a_504) {
  auto hanging = fast_engines(1);
  hanging.faults.hang = true;
  cluster c({{hanging}}, {{fast_engines(1)}}, [](proxy_config& config) {
    config.prefill_timeout = seconds_d{0.2};
    config.max_retries = 1;
  });
  const auto reply = request(c.port(), post(stream_body));
  EXPECT_EQ(reply.status, 504);
  EXPECT_EQ(error_of(reply)["code"], 504);
  // The hung prefill connection was closed, so the engine saw an abort.
  EXPECT_TRUE(eventually([&] { return c.total(true, &mock::engine_stats::aborted) == 1; }));
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_failure, first_token_timeout_is_a_504) {
  auto slow = fast_engines(1);
  slow.timing.slow_first_token_ms = 60000;
  cluster c({{fast_engines(1)}}, {{slow}}, [](proxy_config& config) {
    config.first_token_timeout = seconds_d{0.2};
    config.max_retries = 1;
  });
  EXPECT_EQ(request(c.port(), post(stream_body)).status, 504);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_failure, stalled_stream_gives_an_sse_timeout_error) {
  auto slow = fast_engines(1);
  slow.timing.decode_ms_per_token = 400;
  cluster c({{fast_engines(1)}}, {{slow}},
            [](proxy_config& config) { config.stream_idle_timeout = seconds_d{0.1}; });
  const auto reply = request(c.port(), post(stream_body));
  EXPECT_EQ(reply.status, 200);
  const auto events = sse_data(reply.body);
  ASSERT_EQ(events.size(), 2u);  // the first token, then the timeout error
  EXPECT_NE(events.back().find("\"code\":504"), std::string::npos);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

// Sends a request, waits until `ready()` holds and `bytes_before_close` response bytes arrived, then closes
// the connection.
void abort_after(std::uint16_t port, const std::string& body, std::size_t bytes_before_close,
                 const std::function<bool()>& ready) {
  net::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{http::verb::post, "/v1/completions", 11};
  req.set(http::field::host, "x");
  req.body() = body;
  req.prepare_payload();
  http::write(socket, req);
  EXPECT_TRUE(eventually(ready));
  std::string got;
  char buf[4096];
  while (got.size() < bytes_before_close) {
    error_code ec;
    const auto n = socket.read_some(net::buffer(buf), ec);
    if (ec) break;
    got.append(buf, n);
  }
  socket.close();
}

TEST(proxy_failure, client_abort_mid_stream_closes_the_decode_leg_and_releases_everything) {
  auto slow = fast_engines(1);
  slow.timing.decode_ms_per_token = 20;
  cluster c({{fast_engines(1)}}, {{slow}});
  abort_after(c.port(), R"({"prompt":"x","max_tokens":100000,"stream":true})", 1, [] { return true; });
  EXPECT_TRUE(eventually([&] { return c.total(false, &mock::engine_stats::aborted) == 1; }));
  EXPECT_TRUE(eventually([&] { return c.idle() && c.state().counters.client_disconnects.load() == 1; }));
  EXPECT_TRUE(eventually([&] { return c.decode_servers()[0]->stats(0).open_connections.load() == 0; }));
}

TEST(proxy_failure, client_abort_during_prefill_closes_the_prefill_leg) {
  auto slow = fast_engines(1);
  slow.timing.prefill_us_per_token = 1e6;  // seconds per token: the prefill never ends in time
  cluster c({{slow}}, {{fast_engines(1)}});
  abort_after(c.port(), stream_body, 0,
              [&] { return c.total(true, &mock::engine_stats::prefill_requests) == 1; });
  EXPECT_TRUE(eventually([&] { return c.total(true, &mock::engine_stats::aborted) == 1; }));
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
  EXPECT_EQ(c.total(false, &mock::engine_stats::requests), 0u);
}

TEST(proxy_failure, three_hundred_concurrent_streams_all_complete) {
  auto decoders = fast_engines(4);
  decoders.timing.decode_ms_per_token = 2;
  cluster c({{fast_engines(2)}}, {{decoders}});
  net::io_context io;
  constexpr int streams = 300;
  int good = 0;
  for (int i = 0; i < streams; ++i) {
    request_spec spec = post(R"({"prompt":"p)" + std::to_string(i) + R"(","max_tokens":8,"stream":true})");
    std::string id = std::to_string(i);
    id.insert(id.begin(), 'r');
    spec.headers.push_back({"X-Request-Id", std::move(id)});
    net::co_spawn(io, async_request(c.port(), spec), [&good, i](std::exception_ptr, http_reply reply) {
      const auto events = sse_data(reply.body);
      if (reply.complete && reply.status == 200 && events.size() == 9 && events.back() == "[DONE]" &&
          events[0].find("cmpl-r" + std::to_string(i) + "\"") != std::string::npos) {
        ++good;
      }
    });
  }
  io.run_for(std::chrono::seconds(60));
  EXPECT_EQ(good, streams);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
  EXPECT_EQ(c.total(false, &mock::engine_stats::kv_pulls), static_cast<std::uint64_t>(streams));
}

}  // namespace
}  // namespace pd_proxy::test
