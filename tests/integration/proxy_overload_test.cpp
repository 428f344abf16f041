// --max-inflight: the excess waits in a FIFO queue, a full queue or a wait past --queue-timeout is a 429
// with Retry-After, and a client that leaves the queue costs nothing.
#include <gtest/gtest.h>

#include <future>

#include "proxy_fixture.hpp"

namespace pd_proxy::test {
namespace {

using namespace std::chrono_literals;

// 20 tokens at 25 ms each: a request that holds its slot for about half a second.
const std::string slow_body = R"({"model":"m","prompt":"hello","max_tokens":20,"stream":true})";
const std::string quick_body = R"({"model":"m","prompt":"hello","max_tokens":1})";

mock::mock_options slow_engines() {
  auto o = fast_engines(1);
  o.timing.decode_ms_per_token = 25;
  return o;
}

request_spec post(std::string body) {
  request_spec spec;
  spec.body = std::move(body);
  return spec;
}

void limit_to_one(proxy_config& c, std::size_t queue, double queue_timeout) {
  c.max_inflight = 1;
  c.max_queue = queue;
  c.queue_timeout = seconds_d{queue_timeout};
}

TEST(proxy_overload, a_queued_request_is_served_when_the_slot_frees) {
  cluster c({{fast_engines(1)}}, {{slow_engines()}},
            [](proxy_config& config) { limit_to_one(config, 4, 30); });
  auto first = std::async(std::launch::async, [&] { return request(c.port(), post(slow_body)); });
  ASSERT_TRUE(eventually([&] { return c.state().request_num.load() == 1; }));
  auto second = std::async(std::launch::async, [&] { return request(c.port(), post(quick_body)); });
  ASSERT_TRUE(eventually([&] { return c.state().admission.queued() == 1; }));
  EXPECT_EQ(c.state().request_num.load(), 1);  // the queued one is not in the PD flow
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(second.get().status, 200);
  EXPECT_TRUE(eventually([&] { return c.idle() && c.state().admission.inflight() == 0; }));
}

TEST(proxy_overload, a_full_queue_answers_429_at_once_and_a_wait_past_the_timeout_429_too) {
  cluster c({{fast_engines(1)}}, {{slow_engines()}},
            [](proxy_config& config) { limit_to_one(config, 1, 0.2); });
  auto first = std::async(std::launch::async, [&] { return request(c.port(), post(slow_body)); });
  ASSERT_TRUE(eventually([&] { return c.state().request_num.load() == 1; }));
  auto queued = std::async(std::launch::async, [&] { return request(c.port(), post(quick_body)); });
  ASSERT_TRUE(eventually([&] { return c.state().admission.queued() == 1; }));

  const auto full = request(c.port(), post(quick_body));
  EXPECT_EQ(full.status, 429);
  EXPECT_EQ(full.headers["Retry-After"], "1");
  EXPECT_NE(full.body.find("the queue is full"), std::string::npos) << full.body;
  EXPECT_NE(full.body.find("\"code\":429"), std::string::npos) << full.body;

  const auto timed_out = queued.get();
  EXPECT_EQ(timed_out.status, 429);
  EXPECT_EQ(timed_out.headers["Retry-After"], "1");
  EXPECT_NE(timed_out.body.find("timed out in the queue"), std::string::npos) << timed_out.body;
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(c.total(true, &mock::engine_stats::requests), 1u);  // the rejected ones reached no backend
}

TEST(proxy_overload, a_client_that_leaves_the_queue_leaves_it_at_once_and_costs_nothing) {
  cluster c({{fast_engines(1)}}, {{slow_engines()}},
            [](proxy_config& config) { limit_to_one(config, 4, 30); });
  auto first = std::async(std::launch::async, [&] { return request(c.port(), post(slow_body)); });
  ASSERT_TRUE(eventually([&] { return c.state().request_num.load() == 1; }));
  {
    // A raw connection that sends a request, waits until it is queued, then closes.
    net::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), c.port()));
    const std::string raw =
        "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(quick_body.size()) + "\r\n\r\n" + quick_body;
    net::write(socket, net::buffer(raw));
    ASSERT_TRUE(eventually([&] { return c.state().admission.queued() == 1; }));
  }
  EXPECT_TRUE(eventually([&] { return c.state().admission.queued() == 0; }));
  EXPECT_EQ(c.state().request_num.load(), 1) << "inflight " << c.state().admission.inflight();
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(request(c.port(), post(quick_body)).status, 200);  // the slot was not lost
  EXPECT_EQ(c.total(true, &mock::engine_stats::requests), 2u);
  EXPECT_TRUE(eventually([&] { return c.idle() && c.state().admission.inflight() == 0; }));
}

TEST(proxy_overload, a_drain_answers_queued_requests_503_at_once_and_never_admits_them) {
  auto slow = fast_engines(1);
  slow.timing.decode_ms_per_token =
      40;  // 12 tokens: the running streams outlive the queued requests' answers
  cluster c({{fast_engines(1)}}, {{slow}}, [](proxy_config& config) {
    config.max_inflight = 2;
    config.max_queue = 8;
    config.queue_timeout = seconds_d{60};
  });
  const std::string stream_body = R"({"model":"m","prompt":"hello","max_tokens":12,"stream":true})";
  std::vector<std::future<http_reply>> running;
  for (int i = 0; i < 2; ++i)
    running.push_back(std::async(std::launch::async, [&] { return request(c.port(), post(stream_body)); }));
  ASSERT_TRUE(eventually([&] { return c.state().request_num.load() == 2; }));
  std::vector<std::future<http_reply>> queued;
  for (int i = 0; i < 4; ++i)
    queued.push_back(std::async(std::launch::async, [&] { return request(c.port(), post(stream_body)); }));
  ASSERT_TRUE(eventually([&] { return c.state().admission.queued() == 4; }));

  auto stopped = std::async(std::launch::async, [&] { c.proxy().stop(seconds_d{0}); });  // no deadline
  for (auto& q : queued) {
    const auto answer = q.get();
    EXPECT_EQ(answer.status, 503) << answer.body;
    EXPECT_EQ(answer.headers["Retry-After"], "1");
    EXPECT_NE(answer.body.find("proxy shutting down"), std::string::npos) << answer.body;
    EXPECT_NE(answer.body.find("\"code\":503"), std::string::npos) << answer.body;
  }
  for (auto& r : running) {
    const auto answer = r.get();
    EXPECT_EQ(answer.status, 200);
    ASSERT_TRUE(answer.complete) << answer.ec.message();
    EXPECT_EQ(sse_data(answer.body).back(), "[DONE]");  // the running ones finished undisturbed
  }
  stopped.get();
  EXPECT_EQ(c.total(false, &mock::engine_stats::decode_requests), 2u);  // the queued ones reached no backend
  EXPECT_EQ(c.state().counters.pd_requests.load(), 2u);
}

}  // namespace
}  // namespace pd_proxy::test
