#include "pd_proxy/net/backend/backend_connection.hpp"

#include "pd_proxy/core/time/deadline.hpp"
#include "pd_proxy/net/backend/connection_pool.hpp"

namespace pd_proxy {

backend_lease& backend_lease::operator=(backend_lease&& other) noexcept {
  if (this != &other) {
    finish();
    pool_ = other.pool_;
    id_ = other.id_;
    connection_ = std::move(other.connection_);
    reusable_ = other.reusable_;
    broken_ = other.broken_;
    other.reusable_ = false;
  }
  return *this;
}

void backend_lease::finish() {
  if (!connection_) return;
  if (reusable_ && pool_ != nullptr) {
    pool_->put_idle(id_, std::move(connection_));
  } else {
    error_code ignored;
    connection_->socket.shutdown(tcp::socket::shutdown_both, ignored);
    connection_->socket.close(ignored);
  }
  connection_.reset();
  reusable_ = false;
}

net::awaitable<std::tuple<error_code, tcp::resolver::results_type>> resolve_backend(
    const backend_address& address, std::chrono::steady_clock::time_point deadline, operation_timer& timer) {
  tcp::resolver resolver(co_await net::this_coro::executor);
  const std::string port = std::to_string(address.port);
  co_return co_await timer.run_until(
      [&](auto token) {
        return resolver.async_resolve(address.host, port, tcp::resolver::numeric_service, token);
      },
      deadline);
}

net::awaitable<std::tuple<error_code, std::unique_ptr<backend_connection>>> connect_backend(
    const backend_address& address, seconds_d timeout, operation_timer& timer) {
  const auto deadline = deadline_after<std::chrono::steady_clock>(timeout, std::chrono::steady_clock::now());
  auto [resolve_ec, endpoints] = co_await resolve_backend(address, deadline, timer);
  if (resolve_ec) co_return std::make_tuple(resolve_ec, std::unique_ptr<backend_connection>());
  const seconds_d left = time_left<std::chrono::steady_clock>(deadline, std::chrono::steady_clock::now());
  co_return co_await connect_backend(endpoints, left, timer);
}

net::awaitable<std::tuple<error_code, std::unique_ptr<backend_connection>>> connect_backend(
    const tcp::resolver::results_type& endpoints, seconds_d timeout, operation_timer& timer) {
  auto executor = co_await net::this_coro::executor;
  const auto deadline = deadline_after<std::chrono::steady_clock>(timeout, std::chrono::steady_clock::now());
  tcp::socket socket(executor);
  auto [connect_ec, endpoint] = co_await timer.run_until(
      [&](auto token) { return net::async_connect(socket, endpoints, token); }, deadline);
  if (connect_ec) co_return std::make_tuple(connect_ec, std::unique_ptr<backend_connection>());
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  co_return std::make_tuple(error_code{}, std::make_unique<backend_connection>(std::move(socket)));
}

}  // namespace pd_proxy
