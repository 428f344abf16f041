#include "pd_proxy/net/health/health_probe.hpp"

#include <string_view>

#include "pd_proxy/core/health/answer_health.hpp"
#include "pd_proxy/core/health/check_response.hpp"
#include "pd_proxy/core/time/deadline.hpp"
#include "pd_proxy/net/backend/backend_connection.hpp"
#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy {
namespace {

using clock = std::chrono::steady_clock;

check_outcome failed_because(std::string reason) {
  return {.passed = false, .reason = std::move(reason)};
}

}  // namespace

health_probe::health_probe(const net::any_io_executor& executor, std::shared_ptr<backend> target,
                           std::string request, done_handler done)
    : target_(std::move(target)), request_(std::move(request)), done_(std::move(done)), socket_(executor) {}

void health_probe::start(clock::time_point deadline) {
  deadline_ = deadline;
  expired_ = false;
  reused_ = socket_.is_open();
  received_ = 0;
  if (reused_) {
    send();
  } else {
    net::co_spawn(socket_.get_executor(), connect(shared_from_this()), net::detached);
  }
}

void health_probe::expire() {
  expired_ = true;
  // Enforced: the loop need not wake for it again, even while a DNS lookup that close() cannot cancel runs.
  deadline_ = clock::time_point::max();
  close();
}

void health_probe::close() {
  error_code ignored;
  socket_.close(ignored);
}

net::awaitable<void> health_probe::connect([[maybe_unused]] std::shared_ptr<health_probe> self) {
  operation_timer timer;
  const seconds_d left = time_left<clock>(deadline_, clock::now());
  auto [ec, connection] = co_await connect_backend(target_->address(), left, timer);
  if (expired_) {
    finish({});
  } else if (ec == net::error::timed_out) {
    finish(failed_because("timed out"));
  } else if (ec) {
    finish(failed_because("connect: " + ec.message()));
  } else {
    socket_ = std::move(connection->socket);
    error_code ignored;
    socket_.non_blocking(true, ignored);
    socket_.set_option(tcp::no_delay(true), ignored);
    send();
  }
}

// The request is small and a connection's send buffer is empty between checks, so one non-blocking write
// nearly always takes it all.
void health_probe::send() {
  error_code ec;
  const std::size_t sent = socket_.write_some(net::buffer(request_), ec);
  if (ec == net::error::would_block || (!ec && sent < request_.size())) {
    const std::size_t done = ec ? 0 : sent;
    net::async_write(
        socket_, net::buffer(request_) + done,
        net::bind_allocator(handler_allocator<void>(handler_memory_),
                            [self = shared_from_this()](const error_code& write_ec, std::size_t) {
                              self->on_sent(write_ec);
                            }));
    return;
  }
  on_sent(ec);
}

void health_probe::on_sent(const error_code& ec) {
  if (!ec) {
    read();
  } else if (reused_ && !expired_) {
    lost();
  } else {
    finish(failed_because("send: " + ec.message()));
  }
}

// Asio skips the speculative read when the last read on the socket drained it, which the previous check's
// did: on a kept connection this read costs one system call, once the answer is there.
void health_probe::read() {
  socket_.async_read_some(
      net::buffer(buffer_.data() + received_, capacity - received_),
      net::bind_allocator(
          handler_allocator<void>(handler_memory_),
          [self = shared_from_this()](const error_code& ec, std::size_t n) { self->on_read(ec, n); }));
}

void health_probe::on_read(const error_code& ec, std::size_t n) {
  if (expired_) {
    finish({});
    return;
  }
  if (ec) {
    if (reused_ && received_ == 0) {
      lost();
    } else if (ec == net::error::eof) {
      finish(failed_because("connection closed before an answer"));
    } else {
      finish(failed_because("receive: " + ec.message()));
    }
    return;
  }
  received_ += n;
  const auto answer = parse_check_response(std::string_view(buffer_.data(), received_), capacity);
  if (answer.progress == check_response::state::incomplete ||
      (answer.progress == check_response::state::judged && answer.keep_alive && received_ < answer.length)) {
    read();  // the rest of the head, or of the body so that the connection can be kept
    return;
  }
  if (answer.progress == check_response::state::malformed) {
    finish(failed_because("not an HTTP/1.x answer"));
    return;
  }
  // Keep the connection only when exactly the answer was read.
  if (!answer.keep_alive || received_ != answer.length) close();
  if (health_check_passes(static_cast<int>(answer.status))) {
    finish({.passed = true, .reason = {}});
  } else {
    finish(failed_because("HTTP " + std::to_string(answer.status)));
  }
}

void health_probe::lost() {
  close();
  reused_ = false;
  received_ = 0;
  net::co_spawn(socket_.get_executor(), connect(shared_from_this()), net::detached);
}

void health_probe::finish(check_outcome outcome) {
  if (expired_) outcome = failed_because("timed out");
  if (!outcome.passed) close();
  deadline_ = clock::time_point::max();
  done_(*this, std::move(outcome));
}

}  // namespace pd_proxy
