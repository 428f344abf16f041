// health_probe against raw sockets: the answers a real engine (or something else on its port) gives.
#include "pd_proxy/net/health/health_probe.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "pd_proxy/core/http/http_wire.hpp"

namespace pd_proxy {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

// A server on 127.0.0.1:0 that answers each request read on a connection with `answer`, then keeps the
// connection (close_after_answer false) or closes it.
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
      received.clear();
      auto [write_ec, written] = co_await net::async_write(socket, net::buffer(answer), use_nothrow);
      if (write_ec || close_after_answer) co_return;
    }
  }

  std::uint16_t port() const { return acceptor.local_endpoint().port(); }

  tcp::acceptor acceptor;
  std::string answer;
  bool close_after_answer;
  int connections = 0;
};

std::string health_request(const backend& target) {
  return format_backend_request_head({.method = "GET",
                                      .target = "/health",
                                      .authority = target.authority(),
                                      .request_id = {},
                                      .api_key = {},
                                      .content_length = std::nullopt});
}

// A server and a probe on one io_context.
struct probe_on_server {
  probe_on_server(std::string answer, bool close_after_answer)
      : server(io, std::move(answer), close_after_answer) {
    auto target =
        std::make_shared<backend>(1, backend_role::decode, backend_address{"127.0.0.1", server.port()});
    probe =
        std::make_shared<health_probe>(io.get_executor(), target, health_request(*target),
                                       [this](health_probe&, check_outcome o) { outcome = std::move(o); });
  }

  check_outcome check(clock::duration timeout = 2s) {
    outcome.reset();
    probe->start(clock::now() + timeout);
    const auto give_up = clock::now() + 5s;
    while (!outcome && clock::now() < give_up) {
      io.run_for(10ms);
      if (!outcome && clock::now() >= probe->deadline()) probe->expire();
    }
    io.restart();
    return outcome.value_or(check_outcome{.passed = false, .reason = "no outcome"});
  }

  net::io_context io;
  answering_server server;
  std::shared_ptr<health_probe> probe;
  std::optional<check_outcome> outcome;
};

TEST(health_probe, KeepsItsConnectionAcrossChecks) {
  probe_on_server p("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false);
  for (int i = 0; i < 3; ++i) {
    const auto outcome = p.check();
    EXPECT_TRUE(outcome.passed) << outcome.reason;
  }
  EXPECT_EQ(p.server.connections, 1);
}

TEST(health_probe, ConnectionClosedByTheBackendIsReplacedWithinTheCheck) {
  // No Connection: close, yet the server closes after each answer: the next check finds the kept
  // connection dead and passes on a new one.
  probe_on_server p("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true);
  for (int i = 0; i < 3; ++i) {
    const auto outcome = p.check();
    EXPECT_TRUE(outcome.passed) << outcome.reason;
  }
  EXPECT_EQ(p.server.connections, 3);
}

TEST(health_probe, FailsOn5xxAndOnGarbagePassesOn404) {
  EXPECT_FALSE(probe_on_server("HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n", false).check().passed);
  const auto garbage = probe_on_server("SSH-2.0-OpenSSH_9.2\r\n", false).check();
  EXPECT_FALSE(garbage.passed);
  EXPECT_EQ(garbage.reason, "not an HTTP/1.x answer");
  EXPECT_TRUE(probe_on_server("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false).check().passed);
}

TEST(health_probe, ASilentBackendTimesOut) {
  probe_on_server p("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n", false);  // the head never ends
  const auto outcome = p.check(100ms);
  EXPECT_FALSE(outcome.passed);
  EXPECT_EQ(outcome.reason, "timed out");
}

TEST(health_probe, RefusedConnectionFails) {
  probe_on_server p("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false);
  p.server.acceptor.close();
  const auto outcome = p.check();
  EXPECT_FALSE(outcome.passed);
  EXPECT_NE(outcome.reason.find("connect"), std::string::npos) << outcome.reason;
}

}  // namespace
}  // namespace pd_proxy
