// One worker's idle backend connections and resolved addresses, keyed by backend id.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "pd_proxy/core/backends/backend.hpp"
#include "pd_proxy/net/backend/backend_connection.hpp"
#include "pd_proxy/net/net.hpp"

namespace pd_proxy {

/// Owned by one worker (one thread): not thread-safe. At most `max_idle` connections are kept per backend;
/// more are closed. A backend's address is resolved on its first connect and kept until a connect to it
/// fails (the next connect then resolves again), so a name is not looked up on every connect.
class connection_pool {
 public:
  explicit connection_pool(std::size_t max_idle) : max_idle_(max_idle) {}
  ~connection_pool() { close_all(); }
  connection_pool(const connection_pool&) = delete;
  connection_pool& operator=(const connection_pool&) = delete;

  /// An idle connection to `id` that still looks open (no EOF or stray bytes pending), or nullptr.
  std::unique_ptr<backend_connection> take_idle(backend_id id);

  /// Keeps `connection` for reuse. Only whole, keep-alive responses may be returned here.
  void put_idle(backend_id id, std::unique_ptr<backend_connection> connection);

  /// The resolved endpoints of `id`; empty when not resolved yet or forgotten.
  tcp::resolver::results_type endpoints(backend_id id) const;
  void set_endpoints(backend_id id, tcp::resolver::results_type endpoints);
  void forget_endpoints(backend_id id);

  /// Closes and forgets everything kept for `id` (a removed backend whose last request ended: the server
  /// calls it on every worker).
  void forget(backend_id id) { entries_.erase(id); }

  /// Closes every idle connection and stops keeping new ones (shutdown).
  void close_all();

 private:
  struct entry {
    std::vector<std::unique_ptr<backend_connection>> idle;
    tcp::resolver::results_type endpoints;
  };

  std::unordered_map<backend_id, entry> entries_;
  std::size_t max_idle_;
  bool closed_ = false;
};

}  // namespace pd_proxy
