#include "pd_proxy/net/backend/backend_connection.hpp"

#include <sys/socket.h>

#include "pd_proxy/net/timed.hpp"

namespace pd_proxy {
namespace {

// An idle keep-alive connection must have nothing to read: readable means the backend closed it (EOF)
// or sent bytes we never asked for. Either way it is not reusable.
bool looks_open(tcp::socket& socket) {
  if (!socket.is_open()) return false;
  char byte;
  const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

backend_pool::backend_pool(std::size_t prefill_count, std::size_t decode_count, std::size_t max_idle)
    : prefill_(prefill_count), decode_(decode_count), max_idle_(max_idle) {}

std::unique_ptr<backend_connection> backend_pool::take_idle(backend_role role, std::size_t index) {
  auto& idle = lists(role)[index];
  while (!idle.empty()) {
    auto connection = std::move(idle.back());
    idle.pop_back();
    if (looks_open(connection->socket)) return connection;
  }
  return nullptr;
}

void backend_pool::put_idle(backend_role role, std::size_t index,
                            std::unique_ptr<backend_connection> connection) {
  auto& idle = lists(role)[index];
  if (closed_ || idle.size() >= max_idle_ || connection->buffer.size() != 0)
    return;  // closed by the destructor
  idle.push_back(std::move(connection));
}

void backend_pool::close_all() {
  closed_ = true;
  for (auto& idle : prefill_) idle.clear();
  for (auto& idle : decode_) idle.clear();
}

//------------------------------------------------------------------------------

backend_lease& backend_lease::operator=(backend_lease&& other) noexcept {
  if (this != &other) {
    finish();
    pool_ = other.pool_;
    role_ = other.role_;
    index_ = other.index_;
    connection_ = std::move(other.connection_);
    reusable_ = other.reusable_;
    broken_ = other.broken_;
  }
  return *this;
}

void backend_lease::finish() {
  if (!connection_) return;
  if (reusable_ && pool_ != nullptr) {
    pool_->put_idle(role_, index_, std::move(connection_));
  } else {
    error_code ignored;
    connection_->socket.shutdown(tcp::socket::shutdown_both, ignored);
    connection_->socket.close(ignored);
    connection_.reset();
  }
  reusable_ = false;
}

//------------------------------------------------------------------------------

net::awaitable<std::tuple<error_code, std::unique_ptr<backend_connection>>> connect_backend(
    const backend_address& address, seconds_d timeout, operation_timer& timer) {
  auto executor = co_await net::this_coro::executor;
  const auto deadline = timeout.count() <= 0 ? std::chrono::steady_clock::time_point::max()
                                             : std::chrono::steady_clock::now() + to_timer_duration(timeout);
  tcp::resolver resolver(executor);
  auto [resolve_ec, endpoints] = co_await timer.run_until(
      [&](auto token) {
        return resolver.async_resolve(address.host, std::to_string(address.port),
                                      tcp::resolver::numeric_service, token);
      },
      deadline);
  if (resolve_ec) co_return std::make_tuple(resolve_ec, std::unique_ptr<backend_connection>());

  tcp::socket socket(executor);
  auto [connect_ec, endpoint] = co_await timer.run_until(
      [&](auto token) { return net::async_connect(socket, endpoints, token); }, deadline);
  if (connect_ec) co_return std::make_tuple(connect_ec, std::unique_ptr<backend_connection>());
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  co_return std::make_tuple(error_code{}, std::make_unique<backend_connection>(std::move(socket)));
}

}  // namespace pd_proxy
