#include "scripted_backend.hpp"

#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy::test {

scripted_backend::scripted_backend(script answer)
    : answer_(std::move(answer)), acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  net::co_spawn(io_, accept_loop(), net::detached);
  thread_ = std::thread([this] { io_.run(); });
}

scripted_backend::~scripted_backend() {
  io_.stop();
  thread_.join();
}

std::vector<http::request<http::string_body>> scripted_backend::received() const {
  std::lock_guard lock(mutex_);
  return received_;
}

net::awaitable<void> scripted_backend::accept_loop() {
  while (true) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_nothrow);
    if (ec) co_return;
    net::co_spawn(io_, serve(std::move(socket)), net::detached);
  }
}

net::awaitable<void> scripted_backend::serve(tcp::socket socket) {
  beast::flat_buffer buffer;
  scripted_answer answer;
  error_code write_ec;
  do {
    http::request_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    auto [read_ec, n] = co_await http::async_read(socket, buffer, parser, use_nothrow);
    if (read_ec) co_return;
    auto request = parser.release();
    answer = answer_(request);
    {
      std::lock_guard lock(mutex_);
      received_.push_back(std::move(request));
    }
    if (answer.drop) break;
    std::tie(write_ec, std::ignore) =
        co_await net::async_write(socket, net::buffer(answer.bytes), use_nothrow);
  } while (!write_ec && answer.keep_alive);
  if (!write_ec && answer.hold_open) {
    ++held_;
    char sink[1024];
    while (true) {
      auto [ec, got] = co_await socket.async_read_some(net::buffer(sink), use_nothrow);
      if (ec) break;
    }
    --held_;
  }
  error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
}

std::string http_response(int status, std::string_view content_type, std::string_view body,
                          std::string_view extra_headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " X\r\n";
  if (!content_type.empty()) out.append("Content-Type: ").append(content_type).append("\r\n");
  out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  out.append(extra_headers);
  out.append("Connection: close\r\n\r\n");
  out.append(body);
  return out;
}

std::string prefill_answer_bytes(bool keep_alive) {
  std::string bytes =
      http_response(200, "application/json",
                    R"({"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":"x"}],)"
                    R"("kv_transfer_params":{"do_remote_prefill":true,"do_remote_decode":false,)"
                    R"("remote_block_ids":[1,2],"remote_engine_id":"e","remote_host":"127.0.0.1",)"
                    R"("remote_port":1}})");
  if (keep_alive) bytes.erase(bytes.find("Connection: close\r\n"), 19);
  return bytes;
}

std::string raw_exchange(std::uint16_t port, std::string_view bytes, std::chrono::milliseconds limit,
                         bool half_close) {
  net::io_context io;
  std::string out;
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        const seconds_d left = std::chrono::duration_cast<seconds_d>(limit);
        const auto deadline = std::chrono::steady_clock::now() + limit;
        tcp::socket socket(io);
        auto [connect_ec] = co_await timed(
            [&](auto token) {
              return socket.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), token);
            },
            left);
        if (connect_ec) co_return;
        auto [write_ec, written] = co_await timed(
            [&](auto token) { return net::async_write(socket, net::buffer(bytes), token); }, left);
        if (write_ec) co_return;
        error_code ignored;
        if (half_close) socket.shutdown(tcp::socket::shutdown_send, ignored);
        char piece[4096];
        while (std::chrono::steady_clock::now() < deadline) {
          const auto remaining =
              std::max(seconds_d{1e-3},
                       std::chrono::duration_cast<seconds_d>(deadline - std::chrono::steady_clock::now()));
          auto [ec, n] = co_await timed(
              [&](auto token) { return socket.async_read_some(net::buffer(piece), token); }, remaining);
          out.append(piece, n);
          if (ec) break;
        }
      },
      net::detached);
  io.run();
  return out;
}

}  // namespace pd_proxy::test
