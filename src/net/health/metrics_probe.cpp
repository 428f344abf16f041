#include "pd_proxy/net/health/metrics_probe.hpp"

#include "pd_proxy/core/observe/engine_metrics.hpp"
#include "pd_proxy/core/time/deadline.hpp"
#include "pd_proxy/net/backend/backend_connection.hpp"
#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy {
namespace {

using clock = std::chrono::steady_clock;

scrape_outcome failed_because(std::string reason) {
  return {.load = std::nullopt, .reason = std::move(reason)};
}

bool timed_out(const error_code& ec) {
  return ec == beast::error::timeout || ec == net::error::timed_out;
}

}  // namespace

metrics_probe::metrics_probe(const net::any_io_executor& executor, std::shared_ptr<backend> target,
                             std::string request)
    : target_(std::move(target)), request_(std::move(request)), socket_(executor) {}

void metrics_probe::close() {
  closed_ = true;
  error_code ignored;
  socket_.close(ignored);
}

net::awaitable<scrape_outcome> metrics_probe::scrape(clock::time_point deadline, scrape_buffers& buffers) {
  closed_ = false;
  bool lost = false;
  scrape_outcome outcome = co_await exchange(deadline, buffers, lost);
  if (lost) outcome = co_await exchange(deadline, buffers, lost);  // once more, on a new connection
  buffers.read.consume(buffers.read.size());
  buffers.body.clear();
  if (buffers.body.capacity() > scrape_buffers::kept_body) buffers.body.shrink_to_fit();
  failing_ = !outcome.load.has_value();
  co_return outcome;
}

net::awaitable<scrape_outcome> metrics_probe::exchange(clock::time_point deadline, scrape_buffers& buffers,
                                                       bool& lost) {
  lost = false;
  operation_timer timer;
  error_code ignored;
  const bool reused = socket_.is_open();
  if (!reused) {
    auto [ec, connection] =
        co_await connect_backend(target_->address(), time_left<clock>(deadline, clock::now()), timer);
    if (closed_) co_return failed_because("closed");
    if (timed_out(ec)) co_return failed_because("timed out");
    if (ec) co_return failed_because("connect: " + ec.message());
    socket_ = std::move(connection->socket);
  }
  buffers.read.consume(buffers.read.size());

  auto [write_ec, written] = co_await timer.run_until(
      [&](auto token) { return net::async_write(socket_, net::buffer(request_), token); }, deadline);
  if (write_ec) {
    socket_.close(ignored);
    lost = reused && !closed_ && !timed_out(write_ec);
    co_return failed_because(timed_out(write_ec) ? "timed out" : "send: " + write_ec.message());
  }

  http::response_parser<http::string_body> parser;
  parser.body_limit(max_answer_bytes);
  parser.get().body() = std::move(buffers.body);  // its capacity, from an earlier scrape
  parser.get().body().clear();
  auto [read_ec, read] = co_await timer.run_until(
      [&](auto token) { return http::async_read(socket_, buffers.read, parser, token); }, deadline);
  buffers.body = std::move(parser.get().body());
  if (read_ec) {
    socket_.close(ignored);
    lost = reused && !closed_ && !parser.got_some() && !timed_out(read_ec);
    if (timed_out(read_ec)) co_return failed_because("timed out");
    if (read_ec == http::error::body_limit) co_return failed_because("answer larger than 1 MiB");
    co_return failed_because("receive: " + read_ec.message());
  }
  // Keep the connection only when exactly the answer was read and the backend keeps it.
  if (!parser.keep_alive() || buffers.read.size() != 0) socket_.close(ignored);
  const unsigned status = parser.get().result_int();
  if (status != 200) co_return failed_because("HTTP " + std::to_string(status));
  auto load = parse_engine_metrics(buffers.body);
  if (!load) co_return failed_because("not a vLLM metrics text");
  co_return scrape_outcome{.load = load, .reason = {}};
}

}  // namespace pd_proxy
