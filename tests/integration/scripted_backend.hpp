// A backend that answers with bytes a test writes: for misbehaviour pd-mock cannot produce (interim 1xx
// answers, foreign content types, redirects, endless events, a stream that stops without ending).
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pd_proxy/net/net.hpp"

namespace pd_proxy::test {

struct scripted_answer {
  std::string bytes;        // written as they are, status line included
  bool hold_open = false;   // then keep the connection open until the peer closes it (a stalled backend)
  bool keep_alive = false;  // then serve the next request on the same connection
  bool drop = false;        // close the connection at once, writing nothing (a keep-alive race lost)
};

/// Listens on 127.0.0.1 (port 0) in its own thread. Each request is read whole, the script's answer written,
/// and the connection closed (or held open, or kept for the next request). Thread-safe accessors.
class scripted_backend {
 public:
  using script = std::function<scripted_answer(const http::request<http::string_body>&)>;

  explicit scripted_backend(script answer);
  ~scripted_backend();
  scripted_backend(const scripted_backend&) = delete;
  scripted_backend& operator=(const scripted_backend&) = delete;

  std::uint16_t port() const { return port_; }
  /// Requests received so far, whole.
  std::vector<http::request<http::string_body>> received() const;
  /// Connections currently held open by a `hold_open` answer.
  int held_open() const { return held_.load(); }

 private:
  net::awaitable<void> accept_loop();
  net::awaitable<void> serve(tcp::socket socket);

  script answer_;
  net::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::vector<http::request<http::string_body>> received_;
  std::atomic<int> held_{0};
  std::thread thread_;
};

/// An HTTP/1.1 response with a Content-Length body.
std::string http_response(int status, std::string_view content_type, std::string_view body,
                          std::string_view extra_headers = {});

/// A vLLM-like prefill answer carrying kv_transfer_params; `keep_alive` leaves out `Connection: close`.
std::string prefill_answer_bytes(bool keep_alive = false);

/// Sends `bytes` on a new connection to 127.0.0.1:port, then shuts down its sending side when `half_close`
/// (a refused request's connection then closes at once instead of lingering), and returns everything read
/// until the proxy closes the connection or `limit` passes.
std::string raw_exchange(std::uint16_t port, std::string_view bytes, std::chrono::milliseconds limit,
                         bool half_close = false);

}  // namespace pd_proxy::test
