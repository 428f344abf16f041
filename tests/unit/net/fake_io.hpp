// A scripted transport for basic_pd_driver (net/flow/basic_pd_driver.hpp): backends whose answers the test
// writes and whose every operation completes when the test lets it, a client that records what it was sent,
// and manual_clock. No socket, no real timer, no sleep: a test runs its io_context with poll() and moves the
// script forward between two polls.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "pd_proxy/core/backends/backend.hpp"
#include "pd_proxy/core/backends/backend_failure.hpp"
#include "pd_proxy/core/http/error.hpp"
#include "pd_proxy/core/time/duration.hpp"
#include "pd_proxy/core/time/manual_clock.hpp"
#include "pd_proxy/net/net.hpp"
#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy::fake {

/// One backend exchange: what the test scripts it to answer, and what the driver did with it.
struct exchange {
  // The script.
  backend_failure open_failure = backend_failure::none;  // open() fails so (after the request was written
                                                         // when `sent_before_failure`)
  bool sent_before_failure = false;
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::string> body{};                       // one piece per read_some
  backend_failure body_failure = backend_failure::none;  // the read after the pieces fails so
  bool held = false;  // each operation (open, a read) waits for allow(); else it completes at once
  // What an operation waiting when the stream is aborted completes with: none means "as backend_stream's
  // reads": cancelled when its coroutine was cancelled, else transport. backend_stream's open answers
  // transport when aborted while connecting, whatever the cancellation (set it to transport for that).
  backend_failure abort_failure = backend_failure::none;

  // The record.
  std::string head{};  // the request head and body as sent
  std::string sent{};
  seconds_d connect_timeout{-1};
  seconds_d head_timeout{-1};
  std::vector<seconds_d> read_timeouts{};  // of every read_some / read_all, in order
  int aborts = 0;
  bool opened = false;
  bool closed = false;     // close() was called
  bool destroyed = false;  // the driver dropped its stream

  // The stream's side of `held` (public so that an exchange is an aggregate; tests use allow()).
  std::size_t allowed = 0;
  std::size_t used = 0;
  net::steady_timer* waiter = nullptr;

  /// Lets `steps` more operations of a held exchange complete (the waiting one first).
  void allow(std::size_t steps = 1) {
    allowed += steps;
    if (waiter != nullptr) waiter->cancel();
  }
  /// An operation is waiting for allow() (or an abort).
  bool waiting() const { return waiter != nullptr; }
};

/// The backends as the test scripts them: per authority ("127.0.0.1:9000"), the exchanges of the streams
/// opened to it, in order. A stream to a backend without a script left is a test failure (and answers
/// transport failures).
class backends {
 public:
  std::shared_ptr<exchange> script(std::string_view authority, exchange e = {}) {
    auto shared = std::make_shared<exchange>(std::move(e));
    scripts_[std::string(authority)].push_back(shared);
    return shared;
  }
  std::shared_ptr<exchange> next(std::string_view authority) {
    auto& queue = scripts_[std::string(authority)];
    if (queue.empty()) {
      ADD_FAILURE() << "no exchange scripted for " << authority;
      auto failing = std::make_shared<exchange>();
      failing->open_failure = backend_failure::transport;
      return failing;
    }
    auto next = queue.front();
    queue.pop_front();
    return next;
  }
  std::size_t unused() const {
    std::size_t n = 0;
    for (const auto& [authority, queue] : scripts_) n += queue.size();
    return n;
  }

 private:
  std::map<std::string, std::deque<std::shared_ptr<exchange>>, std::less<>> scripts_;
};

/// Io::stream: plays its exchange, as backend_stream would.
class stream {
 public:
  stream(backends& from, const backend& target) : ex_(from.next(target.authority())) {}
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;
  ~stream() { ex_->destroyed = true; }

  net::awaitable<backend_failure> open(std::string_view head, std::span<const std::string_view> body,
                                       seconds_d connect_timeout, seconds_d head_timeout) {
    ex_->opened = true;
    ex_->head.assign(head);
    for (const std::string_view piece : body) ex_->sent.append(piece);
    ex_->connect_timeout = connect_timeout;
    ex_->head_timeout = head_timeout;
    if (const auto failure = co_await step(); failure != backend_failure::none) co_return failure;
    request_sent_ = ex_->open_failure == backend_failure::none || ex_->sent_before_failure;
    co_return ex_->open_failure;
  }

  int status() const { return ex_->status; }
  std::string_view content_type() const { return ex_->content_type; }

  net::awaitable<std::tuple<backend_failure, std::size_t>> read_some(char* buffer, std::size_t capacity,
                                                                     seconds_d timeout) {
    ex_->read_timeouts.push_back(timeout);
    if (const auto failure = co_await step(); failure != backend_failure::none) {
      co_return std::make_tuple(failure, std::size_t{0});
    }
    if (next_ < ex_->body.size()) {
      const std::string& piece = ex_->body[next_++];
      EXPECT_LE(piece.size(), capacity);
      const std::size_t n = std::min(piece.size(), capacity);
      std::copy_n(piece.data(), n, buffer);
      co_return std::make_tuple(backend_failure::none, n);
    }
    co_return std::make_tuple(ex_->body_failure, std::size_t{0});
  }

  net::awaitable<backend_failure> read_all(std::string& out, std::size_t limit, seconds_d timeout) {
    ex_->read_timeouts.push_back(timeout);
    if (const auto failure = co_await step(); failure != backend_failure::none) co_return failure;
    for (; next_ < ex_->body.size(); ++next_) out += ex_->body[next_];
    if (out.size() > limit) co_return backend_failure::too_large;
    co_return ex_->body_failure;
  }

  bool done() const { return next_ == ex_->body.size() && ex_->body_failure == backend_failure::none; }
  bool request_sent() const { return request_sent_; }
  void close() { ex_->closed = true; }

  /// The operation waiting completes with an error at once; later ones fail at once.
  void abort() {
    aborted_ = true;
    ++ex_->aborts;
    if (ex_->waiter != nullptr) ex_->waiter->cancel();
  }

 private:
  // Waits until the script lets the operation through: none, or the failure of an abort or cancellation.
  net::awaitable<backend_failure> step() {
    if (!aborted_ && ex_->held) {
      net::steady_timer timer(co_await net::this_coro::executor,
                              std::chrono::steady_clock::time_point::max());
      while (ex_->allowed <= ex_->used && !aborted_) {
        ex_->waiter = &timer;
        co_await timer.async_wait(use_nothrow);
        ex_->waiter = nullptr;
        if (!aborted_ && co_await cancelled()) co_return backend_failure::cancelled;
      }
      if (!aborted_) ++ex_->used;
    }
    if (!aborted_) co_return backend_failure::none;
    if (ex_->abort_failure != backend_failure::none) co_return ex_->abort_failure;
    co_return co_await cancelled() ? backend_failure::cancelled : backend_failure::transport;
  }

  std::shared_ptr<exchange> ex_;
  std::size_t next_ = 0;  // the next body piece
  bool request_sent_ = false;
  bool aborted_ = false;
};

/// Io::client: records the response. Writes complete at once; `gone` makes them fail (the client left).
class client {
 public:
  int status = 0;            // 0 until a response started
  std::string content_type;  // of a whole or streamed answer
  std::string body;          // a whole answer's body, or the streamed chunks concatenated
  std::vector<std::string> chunks;
  errc code = errc::internal;  // send_error's
  std::string message;         // send_error's
  std::string extra_headers;   // send_error's
  bool error_sent = false;
  bool ended = false;     // the response ended (whole, or the stream's last chunk / end_stream)
  bool complete = false;  // end_stream's `complete`
  bool close_after = false;
  bool gone = false;

  net::awaitable<error_code> send_whole(int s, std::string_view type, std::string_view text,
                                        std::string_view extra = {}) {
    status = s;
    content_type.assign(type);
    body.assign(text);
    extra_headers.assign(extra);
    ended = true;
    co_return result();
  }
  net::awaitable<error_code> send_error(errc c, std::string_view text, std::string_view extra = {}) {
    status = http_status(c);
    error_sent = true;
    code = c;
    message.assign(text);
    extra_headers.assign(extra);
    ended = true;
    co_return result();
  }
  void start_stream(int s, std::string_view type) {
    status = s;
    content_type.assign(type);
  }
  net::awaitable<error_code> write_chunk(std::string_view first, std::string_view second = {},
                                         bool last = false) {
    std::string chunk(first);
    chunk += second;
    body += chunk;
    chunks.push_back(std::move(chunk));
    if (last) ended = complete = true;
    co_return result();
  }
  net::awaitable<error_code> end_stream(bool whole) {
    ended = true;
    complete = whole;
    co_return result();
  }
  void close_after_response() { close_after = true; }

 private:
  error_code result() const { return gone ? net::error::broken_pipe : error_code(); }
};

/// The driver's transport in the tests.
struct io {
  using clock = manual_clock;
  using connections = backends;
  using stream = fake::stream;
  using client = fake::client;
};

}  // namespace pd_proxy::fake
