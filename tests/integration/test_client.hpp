// A small HTTP/1.1 client for tests: whole responses (chunked decoding included), or raw socket control.
#pragma once

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "pd_proxy/net/net.hpp"

namespace pd_proxy::test {

struct http_reply {
  error_code ec;  // transport error; the body holds what arrived before it
  int status = 0;
  std::string body;  // de-chunked
  http::fields headers;
  bool complete = false;  // the whole message arrived
};

struct request_spec {
  http::verb method = http::verb::post;
  std::string target = "/v1/completions";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds timeout{30000};
};

/// Sends one request on a new connection to 127.0.0.1:port and reads the response.
net::awaitable<http_reply> async_request(std::uint16_t port, request_spec spec);

/// The same, blocking, on its own io_context.
http_reply request(std::uint16_t port, request_spec spec);

/// The `data:` payloads of an SSE body, in order.
std::vector<std::string> sse_data(const std::string& body);

/// Polls `condition` every millisecond until it holds or `limit` passes; returns its last value.
template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

/// A port on 127.0.0.1 that refuses connections (bound, then closed).
std::uint16_t refused_port();

}  // namespace pd_proxy::test
