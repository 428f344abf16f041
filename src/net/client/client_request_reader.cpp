#include "pd_proxy/net/client/client_request_reader.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include "pd_proxy/core/http/http_framing.hpp"
#include "pd_proxy/core/http/request_id.hpp"
#include "pd_proxy/core/http/routes.hpp"
#include "pd_proxy/net/http/client_response.hpp"
#include "pd_proxy/net/observe/refusal.hpp"
#include "pd_proxy/net/write_all.hpp"

namespace pd_proxy {
namespace {

constexpr std::size_t max_pipelined_bytes = 64 * 1024;
constexpr std::size_t discard_bytes = 16 * 1024;

// After an answer that leaves request bytes unread, the connection is not closed at once: a close with unread
// bytes makes the kernel send a reset, which can destroy the answer before the client read it. What the
// client still sends is read and dropped for a while (as nginx's lingering close does), within these bounds.
constexpr std::size_t linger_bytes = 1024 * 1024;
constexpr seconds_d linger_time{2.0};

net::awaitable<void> linger(client_stream socket, operation_timer& timer) {
  error_code ec;
  socket.socket().shutdown(tcp::socket::shutdown_send, ec);  // under TLS too: no close_notify on a refusal
  if (ec) co_return;
  const auto deadline = std::chrono::steady_clock::now() + to_timer_duration(linger_time);
  std::array<char, 16 * 1024> sink;
  for (std::size_t dropped = 0; dropped < linger_bytes;) {
    auto [read_ec, n] = co_await timer.run_until(
        [&](auto token) { return socket.async_read_some(net::buffer(sink), token); }, deadline);
    if (read_ec) break;
    dropped += n;
  }
}

// Answers a request the reader refused, then ends the connection (see linger). The answer carries the
// request's own X-Request-Id when its head was read and the id is sane, else a fresh one. `refused` gets
// what the metrics and the access log need: `head` is what was read of the request (its request line, when
// read, gives the route and method).
net::awaitable<void> reject(client_stream socket, const request_limits& limits, operation_timer& timer,
                            const http::request<http::string_body>& head, refusal& refused, errc code,
                            std::string_view message, std::string_view client_request_id = {},
                            std::string_view extra_headers = {}) {
  refused.request_id = choose_request_id(client_request_id);
  if (!head.target().empty()) {
    refused.route = route_of_path(path_of(head.target()));
    if (head.method() != http::verb::unknown) refused.method = http::to_string(head.method());
  }
  client_response response(socket, timer, refused.request_id, false, false, limits.write_timeout);
  const error_code ec = co_await response.send_error(code, message, extra_headers);
  refused.status = response.status();
  refused.outcome = refusal_outcome(refused.status);
  refused.bytes_sent = response.bytes_sent();
  refused.answered = std::chrono::system_clock::now();
  if (ec) co_return;
  co_await linger(socket, timer);
}

// The header's fields by identity (address, sorted), taken before a chunked body's trailer is read.
std::vector<const void*> field_ids(const http::request<http::string_body>& req) {
  std::vector<const void*> ids;
  for (const auto& f : req) ids.push_back(&f);
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Beast adds a chunked body's trailer fields to the header's; they must not count as headers (RFC 9110
// §6.5.1): a trailer could otherwise add a second Host or choose the request id after the checks. Beast
// files a new field next to the fields of the same name, not at the end, so the trailer's fields are found
// by identity, not by position (found by the client_request fuzzer).
void drop_trailer_fields(http::request<http::string_body>& req, const std::vector<const void*>& header_ids) {
  for (auto it = req.begin(); it != req.end();) {
    if (std::binary_search(header_ids.begin(), header_ids.end(), static_cast<const void*>(&*it))) {
      ++it;
    } else {
      it = req.erase(it);
    }
  }
}

request_framing framing_of(const http::request<http::string_body>& req) {
  const auto coding = req[http::field::transfer_encoding];
  return request_framing{req.version(), req.count(http::field::host), req.count(http::field::content_length),
                         req.count(http::field::transfer_encoding),
                         std::string_view(coding.data(), coding.size())};
}

// The 413 message for a body over the limit (built on a refusal only).
std::string too_large(const request_limits& limits) {
  return "request body exceeds the limit of " + std::to_string(limits.max_body_bytes) + " bytes";
}

constexpr std::string_view budget_exhausted =
    "the proxy holds too many request bodies (--max-buffered-body-bytes); retry later";
constexpr std::string_view over_budget =
    "request body exceeds the proxy's limit for all buffered request bodies (--max-buffered-body-bytes)";

bool is_quiet_close(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::operation_aborted;
}

}  // namespace

net::awaitable<std::optional<client_message>> read_client_request(client_stream socket,
                                                                  beast::flat_buffer& buffer,
                                                                  const request_limits& limits,
                                                                  operation_timer& timer, body_budget& bodies,
                                                                  refusal& refused) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);

  auto [header_ec, header_bytes] =
      co_await timer.run([&](auto token) { return http::async_read_header(socket, buffer, parser, token); },
                         limits.wait_timeout);
  const auto client_id_field = parser.get()["X-Request-Id"];  // what was read of the head, if any
  const std::string_view client_id(client_id_field.data(), client_id_field.size());
  if (header_ec) {
    if (header_ec == http::error::body_limit) {  // a Content-Length over the limit ends the header read
      const std::string message = too_large(limits);
      co_await reject(socket, limits, timer, parser.get(), refused, errc::payload_too_large, message,
                      client_id);
    } else if (header_ec == http::error::header_limit) {
      co_await reject(socket, limits, timer, parser.get(), refused, errc::bad_request,
                      "request headers are too large", client_id);
    } else if (!is_quiet_close(header_ec)) {
      const std::string message = "malformed HTTP request: " + header_ec.message();
      co_await reject(socket, limits, timer, parser.get(), refused, errc::bad_request, message, client_id);
    }
    co_return std::nullopt;
  }
  if (const auto framing_refusal = refuse_framing(framing_of(parser.get()))) {
    co_await reject(socket, limits, timer, parser.get(), refused, framing_refusal->code,
                    framing_refusal->message, client_id);
    co_return std::nullopt;
  }
  const auto length = parser.content_length();
  if (length && *length > limits.max_body_bytes) {
    const std::string message = too_large(limits);
    co_await reject(socket, limits, timer, parser.get(), refused, errc::payload_too_large, message,
                    client_id);
    co_return std::nullopt;
  }
  if (length && *length > bodies.limit()) {  // no wait would make room for it: not a 503
    co_await reject(socket, limits, timer, parser.get(), refused, errc::payload_too_large, over_budget,
                    client_id);
    co_return std::nullopt;
  }
  // The body is reserved as it arrives (a client announcing a large body and sending nothing holds nothing).
  auto body_hold = bodies.try_reserve(0);
  if (!body_hold) {
    co_await reject(socket, limits, timer, parser.get(), refused, errc::overloaded, budget_exhausted,
                    client_id, retry_after_header);
    co_return std::nullopt;
  }
  if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
    constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
    auto [ec, n] = co_await write_all(socket, net::buffer(go_on), timer, limits.write_timeout);
    if (ec) co_return std::nullopt;
  }
  const auto body_deadline = limits.read_timeout.count() <= 0
                                 ? std::chrono::steady_clock::time_point::max()
                                 : std::chrono::steady_clock::now() + to_timer_duration(limits.read_timeout);
  const auto header_fields = field_ids(parser.get());
  while (!parser.is_done()) {
    auto [body_ec, body_bytes] = co_await timer.run_until(
        [&](auto token) { return http::async_read_some(socket, buffer, parser, token); }, body_deadline);
    if (body_ec == http::error::body_limit) {
      const std::string message = too_large(limits);
      co_await reject(socket, limits, timer, parser.get(), refused, errc::payload_too_large, message,
                      client_id);
      co_return std::nullopt;
    }
    if (body_ec) {
      if (!is_quiet_close(body_ec)) {
        const std::string message = "malformed HTTP request body: " + body_ec.message();
        co_await reject(socket, limits, timer, parser.get(), refused, errc::bad_request, message, client_id);
      }
      co_return std::nullopt;
    }
    if (!body_hold->try_grow_to(parser.get().body().size())) {
      const bool never_fits = parser.get().body().size() > bodies.limit();
      co_await reject(socket, limits, timer, parser.get(), refused,
                      never_fits ? errc::payload_too_large : errc::overloaded,
                      never_fits ? over_budget : budget_exhausted, client_id,
                      never_fits ? std::string_view() : retry_after_header);
      co_return std::nullopt;
    }
  }
  drop_trailer_fields(parser.get(), header_fields);
  co_return client_message{parser.release(), std::move(*body_hold)};
}

net::awaitable<void> watch_client(client_stream socket, beast::flat_buffer& buffer, bool ignore_half_close,
                                  client_watch& watch) {
  std::unique_ptr<char[]> discard;  // only for a client that pipelines past the limit
  while (true) {
    error_code ec;
    std::size_t n = 0;
    if (buffer.size() < max_pipelined_bytes) {
      std::tie(ec, n) = co_await socket.async_read_some(buffer.prepare(1024), use_nothrow);
      if (!ec) buffer.commit(n);
    } else {
      // The next requests are lost: keep reading (so a disconnect is still seen), drop what arrives, and
      // close the connection after this response. HTTP/1.1 clients retry unanswered pipelined requests.
      if (!discard) discard = std::make_unique<char[]>(discard_bytes);
      std::tie(ec, n) =
          co_await socket.async_read_some(net::buffer(discard.get(), discard_bytes), use_nothrow);
      watch.pipeline_dropped = true;
    }
    if (ec == net::error::eof && ignore_half_close) {
      watch.half_closed = true;  // the client may still read: only a failed write ends the request now
      break;
    }
    if (ec) co_return;
  }
  net::steady_timer forever(co_await net::this_coro::executor, std::chrono::steady_clock::duration::max());
  co_await forever.async_wait(use_nothrow);
}

}  // namespace pd_proxy
