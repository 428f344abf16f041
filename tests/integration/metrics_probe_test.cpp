// metrics_probe against raw sockets: the answers a real engine (or something else on its port) gives to GET
// /metrics.
#include "pd_proxy/net/health/metrics_probe.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "pd_proxy/core/http/http_wire.hpp"

namespace pd_proxy {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

constexpr std::string_view engine_text =
    "# HELP vllm:num_requests_running Number of requests in model execution batches.\n"
    "# TYPE vllm:num_requests_running gauge\n"
    "vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 3.0\n"
    "vllm:num_requests_waiting{engine=\"0\",model_name=\"m\"} 2.0\n"
    "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} 0.5\n";

std::string with_length(std::string_view body, std::string_view head = "HTTP/1.1 200 OK\r\n") {
  return std::string(head) +
         "Content-Type: text/plain; version=0.0.4\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + std::string(body);
}

// A server on 127.0.0.1:0 that answers each request read on a connection with `answer`, then keeps the
// connection (close_after_answer false) or closes it. An empty answer: never answers.
struct answering_server {
  answering_server(net::io_context& io, std::string answer_text, bool close_after)
      : acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)),
        answer(std::move(answer_text)),
        close_after_answer(close_after) {
    net::co_spawn(io, accept_loop(), net::detached);
  }

  net::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_nothrow);
      if (ec) co_return;
      ++connections;
      net::co_spawn(acceptor.get_executor(), serve(std::move(socket)), net::detached);
    }
  }

  net::awaitable<void> serve(tcp::socket socket) {
    std::string received;
    char buffer[1024];
    for (;;) {
      auto [ec, n] = co_await socket.async_read_some(net::buffer(buffer), use_nothrow);
      if (ec) co_return;
      received.append(buffer, n);
      if (received.find("\r\n\r\n") == std::string::npos) continue;
      ++requests;
      last_request = received;
      received.clear();
      if (answer.empty()) continue;
      auto [write_ec, written] = co_await net::async_write(socket, net::buffer(answer), use_nothrow);
      if (write_ec || close_after_answer) co_return;
    }
  }

  std::uint16_t port() const { return acceptor.local_endpoint().port(); }

  tcp::acceptor acceptor;
  std::string answer;
  bool close_after_answer;
  int connections = 0;
  int requests = 0;
  std::string last_request;
};

// A server and a probe on one io_context.
struct probe_on_server {
  probe_on_server(std::string answer, bool close_after_answer = false)
      : server(io, std::move(answer), close_after_answer) {
    auto target =
        std::make_shared<backend>(1, backend_role::decode, backend_address{"127.0.0.1", server.port()});
    std::string request = format_backend_request_head({.method = "GET",
                                                       .target = "/metrics",
                                                       .authority = target->authority(),
                                                       .request_id = {},
                                                       .api_key = "secret",
                                                       .content_length = std::nullopt});
    probe = std::make_shared<metrics_probe>(io.get_executor(), target, std::move(request));
  }

  scrape_outcome scrape(clock::duration timeout = 2s) {
    std::optional<scrape_outcome> outcome;
    net::co_spawn(io, probe->scrape(clock::now() + timeout, buffers),
                  [&](std::exception_ptr, scrape_outcome o) { outcome = std::move(o); });
    const auto give_up = clock::now() + 10s;
    while (!outcome && clock::now() < give_up) io.run_for(10ms);
    io.restart();
    return outcome.value_or(scrape_outcome{.load = std::nullopt, .reason = "no outcome"});
  }

  net::io_context io;
  answering_server server;
  std::shared_ptr<metrics_probe> probe;
  scrape_buffers buffers;
};

TEST(metrics_probe, reads_the_engine_load_and_keeps_its_connection) {
  probe_on_server p(with_length(engine_text));
  for (int i = 0; i < 3; ++i) {
    const auto outcome = p.scrape();
    ASSERT_TRUE(outcome.load) << outcome.reason;
    EXPECT_DOUBLE_EQ(outcome.load->running, 3);
    EXPECT_DOUBLE_EQ(outcome.load->waiting, 2);
    EXPECT_DOUBLE_EQ(outcome.load->kv_cache_usage, 0.5);
    EXPECT_FALSE(p.probe->failing());
  }
  EXPECT_EQ(p.server.connections, 1);
  EXPECT_EQ(p.server.requests, 3);
  EXPECT_TRUE(p.server.last_request.starts_with("GET /metrics HTTP/1.1\r\n")) << p.server.last_request;
  EXPECT_NE(p.server.last_request.find("Authorization: Bearer secret\r\n"), std::string::npos);
}

TEST(metrics_probe, reads_a_chunked_answer_and_keeps_the_connection) {
  const std::string body(engine_text);
  const std::string half = body.substr(0, 40);
  const std::string rest = body.substr(40);
  char size1[16];
  char size2[16];
  std::snprintf(size1, sizeof size1, "%zx", half.size());
  std::snprintf(size2, sizeof size2, "%zx", rest.size());
  probe_on_server p("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(size1) + "\r\n" +
                    half + "\r\n" + std::string(size2) + "\r\n" + rest + "\r\n0\r\n\r\n");
  for (int i = 0; i < 2; ++i) {
    const auto outcome = p.scrape();
    ASSERT_TRUE(outcome.load) << outcome.reason;
    EXPECT_DOUBLE_EQ(outcome.load->running, 3);
  }
  EXPECT_EQ(p.server.connections, 1);
}

TEST(metrics_probe, reads_an_answer_ended_by_the_close_of_its_connection) {
  probe_on_server p("HTTP/1.0 200 OK\r\n\r\n" + std::string(engine_text), /*close_after_answer=*/true);
  for (int i = 0; i < 2; ++i) {
    const auto outcome = p.scrape();
    ASSERT_TRUE(outcome.load) << outcome.reason;
    EXPECT_DOUBLE_EQ(outcome.load->waiting, 2);
  }
  EXPECT_EQ(p.server.connections, 2);  // not kept
}

TEST(metrics_probe, a_kept_connection_closed_by_the_engine_is_replaced_within_the_scrape) {
  // Keep-alive by its head, yet the server closes after each answer (an engine's idle timeout): the next
  // scrape finds the kept connection dead and succeeds on a new one.
  probe_on_server p(with_length(engine_text), /*close_after_answer=*/true);
  for (int i = 0; i < 3; ++i) {
    const auto outcome = p.scrape();
    EXPECT_TRUE(outcome.load) << outcome.reason;
  }
  EXPECT_EQ(p.server.connections, 3);
}

TEST(metrics_probe, fails_on_an_answer_other_than_200) {
  probe_on_server p(with_length("{\"detail\":\"Not Found\"}", "HTTP/1.1 404 Not Found\r\n"));
  auto outcome = p.scrape();
  EXPECT_FALSE(outcome.load);
  EXPECT_EQ(outcome.reason, "HTTP 404");
  EXPECT_TRUE(p.probe->failing());
  outcome = p.scrape();
  EXPECT_EQ(outcome.reason, "HTTP 404");
  EXPECT_EQ(p.server.connections, 1);  // a 404 read whole keeps the connection
}

TEST(metrics_probe, fails_on_a_text_that_is_not_an_engines) {
  const auto outcome = probe_on_server(with_length("# HELP up\nup 1\n")).scrape();
  EXPECT_FALSE(outcome.load);
  EXPECT_EQ(outcome.reason, "not a vLLM metrics text");
  const auto garbage = probe_on_server("SSH-2.0-OpenSSH_9.2\r\n\r\n").scrape();
  EXPECT_FALSE(garbage.load);
  EXPECT_NE(garbage.reason.find("receive"), std::string::npos) << garbage.reason;
}

TEST(metrics_probe, fails_on_an_answer_larger_than_one_mib) {
  std::string big(engine_text);
  const std::string filler = "vllm:time_to_first_token_seconds_bucket{le=\"1\"} 1\n";
  while (big.size() <= metrics_probe::max_answer_bytes) big += filler;
  const auto outcome = probe_on_server(with_length(big)).scrape(5s);
  EXPECT_FALSE(outcome.load);
  EXPECT_EQ(outcome.reason, "answer larger than 1 MiB");
  // Just below the bound is read.
  big.resize(metrics_probe::max_answer_bytes - 100);
  big.resize(big.rfind('\n') + 1);
  const auto fits = probe_on_server(with_length(big)).scrape(5s);
  EXPECT_TRUE(fits.load) << fits.reason;
}

TEST(metrics_probe, a_silent_engine_times_out) {
  probe_on_server p("");  // reads the request, never answers
  const auto started = clock::now();
  const auto outcome = p.scrape(100ms);
  EXPECT_FALSE(outcome.load);
  EXPECT_EQ(outcome.reason, "timed out");
  EXPECT_LT(clock::now() - started, 5s);
  EXPECT_TRUE(p.probe->failing());
}

TEST(metrics_probe, a_refused_connection_fails) {
  probe_on_server p(with_length(engine_text));
  p.server.acceptor.close();
  const auto outcome = p.scrape();
  EXPECT_FALSE(outcome.load);
  EXPECT_NE(outcome.reason.find("connect"), std::string::npos) << outcome.reason;
}

}  // namespace
}  // namespace pd_proxy
