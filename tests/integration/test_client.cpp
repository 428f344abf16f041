#include "test_client.hpp"

#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy::test {

net::awaitable<http_reply> async_request(std::uint16_t port, request_spec spec) {
  http_reply reply;
  const seconds_d limit = std::chrono::duration_cast<seconds_d>(spec.timeout);
  tcp::socket socket(co_await net::this_coro::executor);
  auto [connect_ec] = co_await timed(
      [&](auto token) {
        return socket.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), token);
      },
      limit);
  if (connect_ec) {
    reply.ec = connect_ec;
    co_return reply;
  }
  http::request<http::string_body> req{spec.method, spec.target, 11};
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [name, value] : spec.headers) req.set(name, value);
  if (spec.method == http::verb::post) {
    req.set(http::field::content_type, "application/json");
    req.body() = spec.body;
    req.prepare_payload();
  }
  auto [write_ec, written] =
      co_await timed([&](auto token) { return http::async_write(socket, req, token); }, limit);
  if (write_ec) {
    reply.ec = write_ec;
    co_return reply;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  auto [read_ec, read] =
      co_await timed([&](auto token) { return http::async_read(socket, buffer, parser, token); }, limit);
  reply.ec = read_ec;
  reply.complete = !read_ec && parser.is_done();
  if (parser.is_header_done()) {
    reply.status = parser.get().result_int();
    reply.headers = parser.get().base();
  }
  reply.body = parser.get().body();
  co_return reply;
}

http_reply request(std::uint16_t port, request_spec spec) {
  net::io_context io;
  http_reply reply;
  net::co_spawn(io, async_request(port, std::move(spec)), [&](std::exception_ptr e, http_reply r) {
    if (e) std::rethrow_exception(e);
    reply = std::move(r);
  });
  io.run();
  return reply;
}

std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    const std::size_t end = body.find("\n\n", pos);
    out.push_back(body.substr(pos + 6, end - pos - 6));
    if (end == std::string::npos) break;
    pos = end + 2;
  }
  return out;
}

std::uint16_t refused_port() {
  net::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

}  // namespace pd_proxy::test
