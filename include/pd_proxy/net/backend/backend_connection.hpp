// Keep-alive HTTP/1.1 connections to backends: the connection, the per-worker idle pool and the lease.
#pragma once

#include <memory>
#include <vector>

#include "pd_proxy/core/backends/backend_address.hpp"
#include "pd_proxy/core/config/config.hpp"
#include "pd_proxy/net/net.hpp"
#include "pd_proxy/net/timed.hpp"

namespace pd_proxy {

/// One TCP connection to one backend and the bytes read from it but not yet parsed.
struct backend_connection {
  explicit backend_connection(tcp::socket s) : socket(std::move(s)), buffer(1 << 20) {
    buffer.reserve(8 * 1024);  // Beast reads at most the free capacity: without this, 512 bytes per read
  }

  tcp::socket socket;
  beast::flat_buffer buffer;  // bounded to 1 MiB of unparsed response bytes
};

/// Idle connections of every backend of both roles, owned by one worker (one thread): not thread-safe.
/// At most `max_idle` connections are kept per backend; more are closed.
class backend_pool {
 public:
  backend_pool(std::size_t prefill_count, std::size_t decode_count, std::size_t max_idle);
  ~backend_pool() { close_all(); }

  /// An idle connection that still looks open (no EOF or stray bytes pending), or nullptr.
  std::unique_ptr<backend_connection> take_idle(backend_role role, std::size_t index);

  /// Keeps `connection` for reuse. Only whole, keep-alive responses may be returned here.
  void put_idle(backend_role role, std::size_t index, std::unique_ptr<backend_connection> connection);

  /// Closes every idle connection and stops keeping new ones (shutdown).
  void close_all();

 private:
  std::vector<std::vector<std::unique_ptr<backend_connection>>>& lists(backend_role role) {
    return role == backend_role::prefill ? prefill_ : decode_;
  }

  std::vector<std::vector<std::unique_ptr<backend_connection>>> prefill_;
  std::vector<std::vector<std::unique_ptr<backend_connection>>> decode_;
  std::size_t max_idle_;
  bool closed_ = false;
};

/// A connection borrowed from a pool for one request. On destruction it goes back to the pool when marked
/// reusable (the response was read whole and allowed keep-alive), else it is closed: a half-read or broken
/// connection is never reused.
class backend_lease {
 public:
  backend_lease() = default;
  backend_lease(backend_pool& pool, backend_role role, std::size_t index,
                std::unique_ptr<backend_connection> connection)
      : pool_(&pool), role_(role), index_(index), connection_(std::move(connection)) {}
  backend_lease(backend_lease&&) noexcept = default;
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
  backend_pool* pool_ = nullptr;
  backend_role role_ = backend_role::prefill;
  std::size_t index_ = 0;
  std::unique_ptr<backend_connection> connection_;
  bool reusable_ = false;
  bool broken_ = false;
};

/// Resolves and connects to `address` within `timeout` (zero: no limit), both steps run on `timer`.
net::awaitable<std::tuple<error_code, std::unique_ptr<backend_connection>>> connect_backend(
    const backend_address& address, seconds_d timeout, operation_timer& timer);

}  // namespace pd_proxy
