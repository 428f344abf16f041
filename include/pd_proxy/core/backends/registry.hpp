// The set of known backends: writers serialize, readers take an immutable snapshot (no lock while unchanged).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
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

/// A backend's role and authority ("host:port"): what its metric series are labelled with.
using backend_label = std::pair<backend_role, std::string>;

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
  /// The labels of every backend that still exists: the current ones, and removed ones that a snapshot or a
  /// reservation still holds (their last requests may still record against them). A label not in it
  /// belongs to no backend: its metric series may go. Takes the writer's mutex (for scrapes, not requests).
  std::set<backend_label> living_labels() const;

 private:
  mutable std::mutex writer_;  // serializes add/remove; readers take it once per change (see above)
  backend_id next_id_ = 1;     // guarded by writer_
  std::shared_ptr<const backend_set> current_;  // guarded by writer_
  std::atomic<std::uint64_t> version_{0};       // bumped (release) after each publish, under writer_
  const std::uint64_t instance_;                // unique per registry in the process: keys the caches

  // A removed backend, watched until its last holder lets it go.
  struct departing {
    std::weak_ptr<const backend> held;
    backend_label label;
  };
  /// Forgets removed backends that no longer exist. Under writer_.
  void sweep_departed() const;
  // Guarded by writer_: removed backends not yet known to be gone (swept by living_labels, and by remove
  // when the list doubled since the last sweep), and the list's size after the last sweep.
  mutable std::vector<departing> departing_;
  mutable std::size_t swept_size_ = 0;
};

}  // namespace pd_proxy
