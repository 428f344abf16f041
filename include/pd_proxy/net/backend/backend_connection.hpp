// One keep-alive HTTP/1.1 connection to a backend, the lease that borrows it for one request, and connecting.
#pragma once

#include <memory>
#include <tuple>

#include "pd_proxy/core/backends/backend.hpp"
#include "pd_proxy/core/config/config.hpp"
#include "pd_proxy/net/net.hpp"
#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy {

class connection_pool;

/// One TCP connection to one backend and the bytes read from it but not yet parsed.
struct backend_connection {
  explicit backend_connection(tcp::socket s) : socket(std::move(s)), buffer(1 << 20) {
    buffer.reserve(8 * 1024);  // Beast reads at most the free capacity: without this, 512 bytes per read
  }

  tcp::socket socket;
  beast::flat_buffer buffer;  // bounded to 1 MiB of unparsed response bytes
};

/// A connection borrowed from a pool for one request to one backend. On destruction it goes back to the pool
/// when marked reusable (the response was read whole and allowed keep-alive), else it is closed: a half-read
/// or broken connection is never reused.
class backend_lease {
 public:
  backend_lease() = default;
  backend_lease(connection_pool& pool, backend_id id, std::unique_ptr<backend_connection> connection)
      : pool_(&pool), id_(id), connection_(std::move(connection)) {}
  backend_lease(backend_lease&& other) noexcept { *this = std::move(other); }
  backend_lease& operator=(backend_lease&& other) noexcept;
  ~backend_lease() { finish(); }

  backend_connection& connection() { return *connection_; }
  explicit operator bool() const { return connection_ != nullptr; }
  void mark_reusable() { reusable_ = !broken_; }
  /// The connection must be closed, whatever is read on it later.
  void mark_broken() {
    broken_ = true;
    reusable_ = false;
  }
  /// Returns the connection to the pool or closes it, now.
  void finish();

 private:
  connection_pool* pool_ = nullptr;
  backend_id id_ = 0;
  std::unique_ptr<backend_connection> connection_;
  bool reusable_ = false;
  bool broken_ = false;
};

/// Resolves `address` (a numeric port) by `deadline` (time_point::max(): no limit) on `timer`.
net::awaitable<std::tuple<error_code, tcp::resolver::results_type>> resolve_backend(
    const backend_address& address, std::chrono::steady_clock::time_point deadline, operation_timer& timer);

/// Resolves and connects to `address` within `timeout` (zero: no limit), both steps run on `timer`.
net::awaitable<std::tuple<error_code, std::unique_ptr<backend_connection>>> connect_backend(
    const backend_address& address, seconds_d timeout, operation_timer& timer);

/// Connects to one of `endpoints` (in order) within `timeout` (zero: no limit) on `timer`.
net::awaitable<std::tuple<error_code, std::unique_ptr<backend_connection>>> connect_backend(
    const tcp::resolver::results_type& endpoints, seconds_d timeout, operation_timer& timer);

}  // namespace pd_proxy
