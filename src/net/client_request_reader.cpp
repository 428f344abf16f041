#include "pd_proxy/net/client_request_reader.hpp"

#include "pd_proxy/net/client_response.hpp"
#include "pd_proxy/net/write_all.hpp"

namespace pd_proxy {
namespace {

constexpr std::size_t max_pipelined_bytes = 64 * 1024;

net::awaitable<void> reject(tcp::socket& socket, const request_limits& limits, operation_timer& timer, errc code,
                            std::string_view message) {
  client_response response(socket, timer, {}, false, false, limits.write_timeout);
  co_await response.send_error(code, message);
}

bool is_quiet_close(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::operation_aborted;
}

}  // namespace

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

net::awaitable<std::optional<http::request<http::string_body>>> read_client_request(tcp::socket& socket,
                                                                                    beast::flat_buffer& buffer,
                                                                                    const request_limits& limits,
                                                                                    operation_timer& timer) {
  const std::string too_large =
      "request body exceeds the limit of " + std::to_string(limits.max_body_bytes) + " bytes";
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);

  auto [header_ec, header_bytes] =
      co_await timer.run([&](auto token) { return http::async_read_header(socket, buffer, parser, token); }, limits.wait_timeout);
  if (header_ec) {
    if (header_ec == http::error::body_limit) {  // a Content-Length over the limit ends the header read
      co_await reject(socket, limits, timer, errc::payload_too_large, too_large);
    } else if (header_ec == http::error::header_limit) {
      co_await reject(socket, limits, timer, errc::bad_request, "request headers are too large");
    } else if (!is_quiet_close(header_ec)) {
      co_await reject(socket, limits, timer, errc::bad_request, "malformed HTTP request: " + header_ec.message());
    }
    co_return std::nullopt;
  }
  const auto length = parser.content_length();
  if (length && *length > limits.max_body_bytes) {
    co_await reject(socket, limits, timer, errc::payload_too_large, too_large);
    co_return std::nullopt;
  }
  if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
    constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
    auto [ec, n] = co_await write_all(socket, net::buffer(go_on), timer, limits.write_timeout);
    if (ec) co_return std::nullopt;
  }
  if (!parser.is_done()) {
    auto [body_ec, body_bytes] =
        co_await timer.run([&](auto token) { return http::async_read(socket, buffer, parser, token); }, limits.read_timeout);
    if (body_ec == http::error::body_limit) {
      co_await reject(socket, limits, timer, errc::payload_too_large, too_large);
      co_return std::nullopt;
    }
    if (body_ec) {
      if (!is_quiet_close(body_ec)) {
        co_await reject(socket, limits, timer, errc::bad_request, "malformed HTTP request body: " + body_ec.message());
      }
      co_return std::nullopt;
    }
  }
  co_return parser.release();
}

net::awaitable<void> watch_client(tcp::socket& socket, beast::flat_buffer& buffer) {
  while (buffer.size() < max_pipelined_bytes) {
    auto [ec, n] = co_await socket.async_read_some(buffer.prepare(1024), use_nothrow);
    if (ec) co_return;
    buffer.commit(n);
  }
  net::steady_timer forever(co_await net::this_coro::executor, std::chrono::steady_clock::duration::max());
  co_await forever.async_wait(use_nothrow);
}

}  // namespace pd_proxy
