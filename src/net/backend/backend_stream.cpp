#include "pd_proxy/net/backend/backend_stream.hpp"

#include <array>
#include <boost/container/small_vector.hpp>

#include "pd_proxy/core/backends/fresh_connection.hpp"
#include "pd_proxy/core/time/deadline.hpp"
#include "pd_proxy/net/write_all.hpp"

namespace pd_proxy {
namespace {

using clock = std::chrono::steady_clock;

seconds_d remaining(clock::time_point deadline) {
  return time_left<clock>(deadline, clock::now());
}

clock::time_point deadline_in(seconds_d limit) {
  return deadline_after<clock>(limit, clock::now());
}

// A backend may send this many interim (1xx) responses before its final one.
constexpr int max_interim_responses = 8;

bool is_stale_connection_error(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe || ec == http::error::partial_message;
}

}  // namespace

backend_failure classify_io_error(const error_code& ec, bool coroutine_cancelled) {
  if (coroutine_cancelled) return backend_failure::cancelled;
  if (ec == beast::error::timeout) return backend_failure::timeout;
  return backend_failure::transport;
}

net::awaitable<backend_failure> backend_stream::open(std::string_view head,
                                                     std::span<const std::string_view> body,
                                                     seconds_d connect_timeout, seconds_d head_timeout) {
  const auto deadline = deadline_in(head_timeout);
  bool retry_fresh = false;
  auto failure = co_await open_once(head, body, connect_timeout, deadline, /*allow_reuse=*/true, retry_fresh);
  if (failure != backend_failure::none && retry_fresh && !aborted_ && !co_await cancelled()) {
    failure = co_await open_once(head, body, connect_timeout, deadline, /*allow_reuse=*/false, retry_fresh);
  }
  co_return failure;
}

net::awaitable<backend_failure> backend_stream::open_once(std::string_view head,
                                                          std::span<const std::string_view> body,
                                                          seconds_d connect_timeout,
                                                          clock::time_point deadline, bool allow_reuse,
                                                          bool& retry_fresh) {
  retry_fresh = false;
  lease_ = backend_lease();
  parser_.reset();
  if (aborted_) co_return backend_failure::transport;
  std::unique_ptr<backend_connection> connection;
  if (allow_reuse) connection = pool_.take_idle(target_.id());
  const bool reused = connection != nullptr;
  if (!connection) {
    const auto limit = deadline == clock::time_point::max()
                           ? connect_timeout
                           : (connect_timeout.count() <= 0 ? remaining(deadline)
                                                           : std::min(connect_timeout, remaining(deadline)));
    auto [ec, fresh] = co_await connect(limit);
    if (ec) {
      if (co_await cancelled()) co_return backend_failure::cancelled;
      const bool head_deadline_passed = deadline != clock::time_point::max() && clock::now() >= deadline;
      co_return (ec == beast::error::timeout && head_deadline_passed) ? backend_failure::timeout
                                                                      : backend_failure::connect;
    }
    connection = std::move(fresh);
  }
  lease_ = backend_lease(pool_, target_.id(), std::move(connection));
  auto& socket = lease_.connection().socket;
  if (aborted_) {  // aborted while connecting: the connection is not used
    lease_.mark_broken();
    lease_.finish();
    co_return backend_failure::transport;
  }

  boost::container::small_vector<net::const_buffer, 8> request{net::buffer(head)};
  for (const std::string_view piece : body) {
    if (!piece.empty()) request.push_back(net::buffer(piece));
  }
  auto [write_ec, written] = co_await write_all(socket, request, timer_, deadline);
  request_sent_ = !write_ec;
  if (write_ec) {
    const bool is_cancelled = co_await cancelled();
    retry_fresh = retry_on_fresh_connection(reused, is_cancelled, is_stale_connection_error(write_ec), false);
    lease_.finish();
    co_return classify_io_error(write_ec, is_cancelled);
  }

  // Interim 1xx answers (100 Continue, 103 Early Hints) are skipped: the final response follows them on the
  // same connection. 101 would switch protocols, which no backend request asks for: a transport failure.
  std::size_t head_bytes = 0;
  for (int interim = 0;; ++interim) {
    parser_.emplace();
    parser_->body_limit(boost::none);  // bodies are streamed or bounded by read_all
    auto [read_ec, read] = co_await timer_.run_until(
        [&](auto token) {
          return http::async_read_header(socket, lease_.connection().buffer, *parser_, token);
        },
        deadline);
    head_bytes += read;
    if (read_ec) {
      const bool is_cancelled = co_await cancelled();
      retry_fresh =
          retry_on_fresh_connection(reused, is_cancelled, is_stale_connection_error(read_ec), head_bytes > 0);
      lease_.finish();
      co_return classify_io_error(read_ec, is_cancelled);
    }
    status_ = parser_->get().result_int();
    if (status_ >= 200 || status_ < 100) break;
    if (status_ == 101 || interim == max_interim_responses) {
      lease_.finish();
      co_return backend_failure::transport;
    }
  }
  if (parser_->is_done() && parser_->get().keep_alive()) lease_.mark_reusable();
  co_return backend_failure::none;
}

net::awaitable<std::tuple<error_code, std::unique_ptr<backend_connection>>> backend_stream::connect(
    seconds_d limit) {
  const auto deadline = deadline_in(limit);
  const backend_id id = target_.id();
  tcp::resolver::results_type endpoints = pool_.endpoints(id);  // a copy: the pool may change meanwhile
  if (endpoints.empty()) {
    auto [resolve_ec, resolved] = co_await resolve_backend(target_.address(), deadline, timer_);
    if (resolve_ec) co_return std::make_tuple(resolve_ec, std::unique_ptr<backend_connection>());
    endpoints = resolved;
    pool_.set_endpoints(id, std::move(resolved));
  }
  auto [ec, connection] = co_await connect_backend(endpoints, remaining(deadline), timer_);
  if (ec) pool_.forget_endpoints(id);  // the next connect resolves again (the name may point elsewhere now)
  co_return std::make_tuple(ec, std::move(connection));
}

void backend_stream::abort() {
  aborted_ = true;
  timer_.interrupt();
  if (!lease_) return;
  lease_.mark_broken();
  error_code ignored;
  lease_.connection().socket.shutdown(tcp::socket::shutdown_both, ignored);
  lease_.connection().socket.cancel(ignored);
}

net::awaitable<std::tuple<backend_failure, std::size_t>> backend_stream::read_some(char* buffer,
                                                                                   std::size_t capacity,
                                                                                   seconds_d timeout) {
  if (!parser_ || !lease_) co_return std::make_tuple(backend_failure::transport, std::size_t{0});
  if (parser_->is_done()) co_return std::make_tuple(backend_failure::none, std::size_t{0});
  auto& connection = lease_.connection();
  if (connection.buffer.size() > 0) {
    // Bytes already read (often the whole body came with the head): parse them here, as Beast's read would
    // first, but without an asynchronous operation, whose completion Asio would post.
    auto& body = parser_->get().body();
    body.data = buffer;
    body.size = capacity;
    error_code ec;
    connection.buffer.consume(parser_->put(connection.buffer.data(), ec));
    if (ec && ec != http::error::need_more && ec != http::error::need_buffer) {
      lease_.finish();
      co_return std::make_tuple(backend_failure::transport, std::size_t{0});
    }
    const std::size_t got = capacity - body.size;
    if (parser_->is_done() && parser_->get().keep_alive()) lease_.mark_reusable();
    if (got > 0 || parser_->is_done()) co_return std::make_tuple(backend_failure::none, got);
  }
  const auto deadline = deadline_in(timeout);
  while (true) {
    auto& body = parser_->get().body();
    body.data = buffer;
    body.size = capacity;
    auto [ec, n] = co_await timer_.run_until(
        [&](auto token) {
          return http::async_read_some(connection.socket, connection.buffer, *parser_, token);
        },
        deadline);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      const bool is_cancelled = co_await cancelled();
      lease_.finish();
      co_return std::make_tuple(classify_io_error(ec, is_cancelled), std::size_t{0});
    }
    const std::size_t got = capacity - parser_->get().body().size;
    if (parser_->is_done() && parser_->get().keep_alive()) lease_.mark_reusable();
    if (got > 0 || parser_->is_done()) co_return std::make_tuple(backend_failure::none, got);
  }
}

net::awaitable<backend_failure> backend_stream::read_all(std::string& out, std::size_t limit,
                                                         seconds_d timeout) {
  const auto deadline = deadline_in(timeout);
  std::array<char, 16384> piece;
  while (!done()) {
    auto [failure, n] = co_await read_some(piece.data(), piece.size(), remaining(deadline));
    if (failure != backend_failure::none) co_return failure;
    if (out.size() + n > limit) {
      lease_.finish();
      co_return backend_failure::too_large;
    }
    out.append(piece.data(), n);
  }
  co_return backend_failure::none;
}

}  // namespace pd_proxy
