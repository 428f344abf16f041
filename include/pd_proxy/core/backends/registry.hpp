// The set of known backends: writers serialize, readers take an immutable snapshot without locking.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "pd_proxy/core/backends/backend.hpp"

namespace pd_proxy {

/// An immutable view of the backends at one moment. Each pool is in the order its backends were added.
struct backend_set {
  std::vector<std::shared_ptr<backend>> prefillers;
  std::vector<std::shared_ptr<backend>> decoders;

  /// The pool of `role`.
  const std::vector<std::shared_ptr<backend>>& of(backend_role role) const {
    return role == backend_role::prefill ? prefillers : decoders;
  }
};

/// Owns backend identity. add/remove serialize on a mutex, build a new backend_set and publish it
/// atomically; snapshot() is one atomic load (no mutex), so a reader keeps a consistent set for as long as
/// it holds the pointer, whatever writers do meanwhile. Ids start at 1, increase, and are never reused.
class backend_registry {
 public:
  backend_registry();
  backend_registry(const backend_registry&) = delete;
  backend_registry& operator=(const backend_registry&) = delete;

  /// Creates a backend with the next id, appends it to its role's pool and publishes the new set.
  std::shared_ptr<backend> add(backend_role role, backend_address address);
  /// Takes the backend out of its pool, sets its health to draining and publishes the new set. Returns
  /// it (it lives on while snapshots and reservations hold it); nullptr if no current backend has `id`.
  std::shared_ptr<backend> remove(backend_id id);
  /// The current set; never null (empty pools before the first add).
  std::shared_ptr<const backend_set> snapshot() const;

 private:
  std::mutex writer_;       // serializes add/remove (next_id_ and the read-modify-publish of current_)
  backend_id next_id_ = 1;  // guarded by writer_
  std::atomic<std::shared_ptr<const backend_set>> current_;
};

}  // namespace pd_proxy
