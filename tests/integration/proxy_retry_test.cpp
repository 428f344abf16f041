// Retries end to end, through the real proxy: the decisions are unit-tested in pd_flow_test; these check that
// the driver and the backend connections carry them out.
#include <gtest/gtest.h>

#include <atomic>

#include "proxy_fixture.hpp"
#include "scripted_backend.hpp"

namespace pd_proxy::test {
namespace {

const std::string stream_body = R"({"model":"m","prompt":"hello","max_tokens":4,"stream":true})";

request_spec post(std::string body) {
  request_spec spec;
  spec.body = std::move(body);
  return spec;
}

std::string sse_answer() {
  return http_response(200, "text/event-stream",
                       "data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: [DONE]\n\n");
}

TEST(proxy_retry, a_decoders_429_is_retried_and_the_client_never_sees_it) {
  scripted_backend prefiller([](const auto&) { return scripted_answer{prefill_answer_bytes()}; });
  std::atomic<int> decodes{0};
  scripted_backend decoder([&](const auto&) {
    if (decodes++ == 0) return scripted_answer{http_response(429, "application/json", R"({"error":"busy"})")};
    return scripted_answer{sse_answer()};
  });
  cluster c({{{}, 0, {prefiller.port()}}}, {{{}, 0, {decoder.port()}}},
            [](proxy_config& config) { config.retry_delay = seconds_d{0.001}; });
  const auto reply = request(c.port(), post(stream_body));
  EXPECT_EQ(reply.status, 200);
  EXPECT_NE(reply.body.find("[DONE]"), std::string::npos);
  EXPECT_EQ(decoder.received().size(), 2u);
  EXPECT_EQ(c.state().counters.decode_retries.load(), 1u);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_retry, a_pooled_connection_the_backend_closed_is_retried_once_on_a_fresh_one) {
  // Request 1 leaves a kept-alive connection in the pool; the prefiller drops request 2 when it arrives on
  // it (as when a backend's idle timeout and the proxy's reuse cross); the proxy sends it again on a new
  // connection, without spending a retry attempt (there is only one).
  std::atomic<int> prefills{0};
  scripted_backend prefiller([&](const auto&) {
    const int n = prefills++;
    scripted_answer answer{prefill_answer_bytes(/*keep_alive=*/true)};
    answer.keep_alive = true;
    answer.drop = n == 1;
    return answer;
  });
  scripted_backend decoder([](const auto&) { return scripted_answer{sse_answer()}; });
  cluster c({{{}, 0, {prefiller.port()}}}, {{{}, 0, {decoder.port()}}}, [](proxy_config& config) {
    config.workers = 1;  // both requests on one worker, so the second finds the first's connection
    config.max_retries = 1;
  });
  EXPECT_EQ(request(c.port(), post(stream_body)).status, 200);
  EXPECT_EQ(request(c.port(), post(stream_body)).status, 200);
  EXPECT_EQ(prefiller.received().size(), 3u);  // request 2 twice: on the stale connection, then on a new one
  EXPECT_EQ(c.state().counters.prefill_retries.load(), 0u);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
}

TEST(proxy_backends, a_removed_backend_takes_no_new_request_and_gets_its_load_back) {
  cluster c({{fast_engines(1)}}, {{fast_engines(1)}, {fast_engines(1)}});
  const auto decoders = c.state().backends.snapshot()->decoders;
  ASSERT_EQ(decoders.size(), 2u);
  ASSERT_TRUE(c.state().remove_backend(decoders[0]->id()));
  EXPECT_FALSE(c.state().remove_backend(decoders[0]->id()));  // once
  for (int i = 0; i < 4; ++i) EXPECT_EQ(request(c.port(), post(stream_body)).status, 200);
  EXPECT_EQ(c.decode_servers()[0]->stats(0).requests.load(), 0u);
  EXPECT_EQ(c.decode_servers()[1]->stats(0).requests.load(), 4u);
  EXPECT_EQ(c.state().backends.snapshot()->decoders.size(), 1u);
  EXPECT_TRUE(eventually([&] { return c.idle(); }));
  const auto load = c.state().sched.load(*decoders[0]);
  EXPECT_EQ(load.inflight, 0u);
  EXPECT_EQ(load.active_tokens, 0.0);
}

}  // namespace
}  // namespace pd_proxy::test
