#include "pd_proxy/net/http/client_response.hpp"

#include <array>

#include "pd_proxy/core/http/http_wire.hpp"
#include "pd_proxy/net/write_all.hpp"

namespace pd_proxy {

net::awaitable<error_code> client_response::send_whole(int status, std::string_view content_type,
                                                       std::string_view body,
                                                       std::string_view extra_headers) {
  const std::string head =
      format_response_head({status, content_type, request_id_, keep_alive_, body.size(), extra_headers});
  head_sent_ = true;
  status_ = status;
  const std::array<net::const_buffer, 2> buffers{net::buffer(head),
                                                 net::buffer(omit_body_ ? std::string_view() : body)};
  auto [ec, n] = co_await write_all(socket_, buffers, write_timer_, write_timeout_);
  bytes_sent_ += n;
  if (ec) keep_alive_ = false;
  co_return ec;
}

net::awaitable<error_code> client_response::send_error(errc code, std::string_view message,
                                                       std::string_view extra_headers) {
  const std::string body = openai_error_body(code, message);
  co_return co_await send_whole(http_status(code), "application/json", body, extra_headers);
}

void client_response::start_stream(int status, std::string_view content_type) {
  response_head head{status, content_type, request_id_, keep_alive_, std::nullopt, {}};
  status_ = status;
  head_ = format_response_head(head);
  if (http10_) {
    // HTTP/1.0 has no chunked encoding: the body ends when the connection closes.
    constexpr std::string_view chunked = "Transfer-Encoding: chunked\r\n";
    head_.erase(head_.find(chunked), chunked.size());
  }
}

net::awaitable<error_code> client_response::write_chunk(std::string_view first, std::string_view second,
                                                        bool last) {
  const std::size_t size = first.size() + second.size();
  if (size == 0) co_return last ? co_await end_stream(true) : error_code{};
  char size_line[24];
  const std::size_t size_len = http10_ ? 0 : format_chunk_size(size, size_line);
  const std::string_view trailer = http10_ ? std::string_view() : chunk_end;
  const std::string_view terminator = last && !http10_ ? last_chunk : std::string_view();
  if (last && http10_) keep_alive_ = false;
  const std::array<net::const_buffer, 6> buffers{
      net::buffer(head_sent_ ? std::string_view() : std::string_view(head_)),
      net::buffer(size_line, size_len),
      net::buffer(first),
      net::buffer(second),
      net::buffer(trailer),
      net::buffer(terminator)};
  head_sent_ = true;
  auto [ec, n] = co_await write_all(socket_, buffers, write_timer_, write_timeout_);
  bytes_sent_ += n;
  if (ec) keep_alive_ = false;  // a half-written response: the connection cannot carry another
  co_return ec;
}

net::awaitable<error_code> client_response::end_stream(bool complete) {
  if (!complete || http10_) {
    keep_alive_ = false;
    if (!head_sent_ && !head_.empty()) {
      head_sent_ = true;
      auto [ec, n] = co_await write_all(socket_, net::buffer(head_), write_timer_, write_timeout_);
      bytes_sent_ += n;
      co_return ec;  // keep_alive_ is already false
    }
    co_return error_code{};
  }
  const std::array<net::const_buffer, 2> buffers{
      net::buffer(head_sent_ ? std::string_view() : std::string_view(head_)), net::buffer(last_chunk)};
  head_sent_ = true;
  auto [ec, n] = co_await write_all(socket_, buffers, write_timer_, write_timeout_);
  bytes_sent_ += n;
  if (ec) keep_alive_ = false;
  co_return ec;
}

}  // namespace pd_proxy
