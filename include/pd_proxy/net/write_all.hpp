// Writing a whole message to a socket, inline when the socket has room.
#pragma once

#include <chrono>
#include <tuple>
#include <type_traits>

#include "pd_proxy/net/net.hpp"
#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy {

/// The socket write_all may write to directly (non-blocking, inline); a stream type whose bytes must go
/// through its own operations (TLS) provides an overload returning null (client_stream.hpp).
inline tcp::socket* plain_socket(tcp::socket& socket) {
  return &socket;
}

/// Writes all of `buffers` to `socket`. The first attempt is one non-blocking send, inline: a socket with
/// room takes a request or an event whole, and the coroutine then neither suspends nor goes through the
/// scheduler (Asio would post the completion of even an immediately finished async_write). What the socket
/// did not take is written asynchronously on `timer`, limited by `limit`: a seconds_d from now (zero: none)
/// or a steady_clock deadline (time_point::max(): none). A cancelled coroutine writes nothing and gets
/// operation_aborted. Returns the error and the bytes written; never throws on I/O errors. Puts the socket in
/// non-blocking mode (Asio's own operations work the same in it). `Stream` is a tcp::socket or a
/// client_stream; under TLS (plain_socket gives null) there is no inline attempt: everything is written
/// through the stream's asynchronous writes.
template <class Stream, class ConstBuffers, class Limit>
net::awaitable<std::tuple<error_code, std::size_t>> write_all(Stream& stream, const ConstBuffers& buffers,
                                                              operation_timer& timer, Limit limit) {
  static_assert(std::is_same_v<Limit, seconds_d> ||
                std::is_same_v<Limit, std::chrono::steady_clock::time_point>);
  net::cancellation_state cancellation = co_await net::this_coro::cancellation_state;
  if (cancellation.cancelled() != net::cancellation_type::none) {
    co_return std::make_tuple(error_code(net::error::operation_aborted), std::size_t{0});
  }
  const std::size_t total = net::buffer_size(buffers);
  if (total == 0) co_return std::make_tuple(error_code{}, std::size_t{0});
  std::size_t written = 0;
  if (tcp::socket* socket = plain_socket(stream)) {
    error_code ec;
    if (!socket->non_blocking()) socket->non_blocking(true, ec);
    written = ec ? 0 : socket->write_some(buffers, ec);
    if (!ec && written == total) co_return std::make_tuple(error_code{}, written);
    if (ec && ec != net::error::would_block && ec != net::error::try_again)
      co_return std::make_tuple(ec, written);
  }

  beast::buffers_suffix<ConstBuffers> rest(buffers);
  rest.consume(written);
  auto make_op = [&](auto token) { return net::async_write(stream, rest, token); };
  std::tuple<error_code, std::size_t> result;
  if constexpr (std::is_same_v<Limit, seconds_d>) {
    result = co_await timer.run(make_op, limit);
  } else {
    result = co_await timer.run_until(make_op, limit);
  }
  std::get<1>(result) += written;
  co_return result;
}

}  // namespace pd_proxy
