// One HTTP request to one backend, with its response read as a stream or whole.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pd_proxy/core/backends/backend.hpp"
#include "pd_proxy/core/backends/backend_failure.hpp"
#include "pd_proxy/core/config/config.hpp"
#include "pd_proxy/net/backend/backend_connection.hpp"
#include "pd_proxy/net/backend/connection_pool.hpp"
#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy {

/// Sends one request on a pooled (or new) connection and reads the response head, then the body in pieces.
/// A reused connection that fails before any response byte is retried once on a fresh connection (the
/// backend may have closed it while idle). The connection returns to the pool only when the whole response
/// was read and allowed keep-alive. Not thread-safe; lives in one coroutine.
class backend_stream {
 public:
  /// `target` must outlive the stream (the request's reservation on it keeps it alive).
  backend_stream(connection_pool& pool, const backend& target) : pool_(pool), target_(target) {}

  /// Connects (within `connect_timeout`), writes `head` and `body`, and reads the head of the final response
  /// (interim 1xx responses are read and dropped; a 101 or more than 8 of them is a transport failure); the
  /// whole of it must happen within `head_timeout` (zero: no limit).
  /// `body` is written as the concatenation of its pieces (one gather write; they must live until open ends).
  net::awaitable<backend_failure> open(std::string_view head, std::span<const std::string_view> body,
                                       seconds_d connect_timeout, seconds_d head_timeout);

  /// The final response's status; interim 1xx responses are skipped by open().
  int status() const { return status_; }

  /// The final response's Content-Type, empty when it sent none.
  std::string_view content_type() const {
    if (!parser_) return {};
    const auto value = parser_->get()[http::field::content_type];
    return {value.data(), value.size()};
  }

  /// Reads the next piece of the body into `buffer` within `timeout`. Returns the byte count; zero bytes
  /// with `none` means the body is complete.
  net::awaitable<std::tuple<backend_failure, std::size_t>> read_some(char* buffer, std::size_t capacity,
                                                                     seconds_d timeout);

  /// Reads the rest of the body into `out` within `timeout` in total, failing with too_large past `limit`.
  net::awaitable<backend_failure> read_all(std::string& out, std::size_t limit, seconds_d timeout);

  bool done() const { return parser_ && parser_->is_done(); }

  /// Closes the connection now (or returns it to the pool if the response was read whole).
  void close() { lease_.finish(); }

  /// True once the request was written whole: the backend may have acted on it (a decoder may have pulled
  /// the KV), whatever happened next.
  bool request_sent() const { return request_sent_; }

  /// Gives the exchange up without resuming anyone: the operation in progress (resolve, connect, write or
  /// read) completes with an error, later ones fail at once, and the connection is never pooled. For the
  /// drain deadline.
  void abort();

 private:
  net::awaitable<backend_failure> open_once(std::string_view head, std::span<const std::string_view> body,
                                            seconds_d connect_timeout,
                                            std::chrono::steady_clock::time_point deadline, bool allow_reuse,
                                            bool& retry_fresh);

  // Resolves the target's address unless the pool has it, then connects within `limit`.
  net::awaitable<std::tuple<error_code, std::unique_ptr<backend_connection>>> connect(seconds_d limit);

  connection_pool& pool_;
  const backend& target_;
  backend_lease lease_;
  std::optional<http::response_parser<http::buffer_body>> parser_;
  operation_timer timer_;  // bounds the connect, the request write and every response read
  int status_ = 0;
  bool request_sent_ = false;
  bool aborted_ = false;
};

/// Classifies an I/O error: timeout, cancelled (operation_aborted while the coroutine is cancelled) or
/// transport.
backend_failure classify_io_error(const error_code& ec, bool coroutine_cancelled);

}  // namespace pd_proxy
