// The set of known backends: writers serialize, readers take an immutable snapshot (no lock while unchanged).
#pragma once

#include <atomic>
#include <cstdint>
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

/// Owns backend identity. add/remove serialize on a mutex, build a new backend_set, publish it and bump a
/// version. Each thread remembers (weakly) the set it last took: while the version is unchanged, snapshot()
/// is one atomic load and a weak_ptr lock (no mutex); only the first snapshot on a thread after a change
/// takes the mutex, once. A reader keeps a consistent set for as long as it holds the pointer, whatever
/// writers do meanwhile. Ids start at 1, increase, and are never reused. (std::atomic<std::shared_ptr> would
/// do the same without the cache, but libstdc++ 12's is not lock-free and ThreadSanitizer cannot see its
/// lock.)
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
  mutable std::mutex writer_;  // serializes add/remove; readers take it once per change (see above)
  backend_id next_id_ = 1;     // guarded by writer_
  std::shared_ptr<const backend_set> current_;  // guarded by writer_
  std::atomic<std::uint64_t> version_{0};       // bumped (release) after each publish, under writer_
  const std::uint64_t instance_;                // unique per registry in the process: keys the caches
};

}  // namespace pd_proxy
