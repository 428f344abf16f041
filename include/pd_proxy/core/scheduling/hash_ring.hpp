// A consistent-hash ring of backends: the owner of a key, and the backends after it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "pd_proxy/core/backends/backend.hpp"

namespace pd_proxy {

/// Each backend owns points_per_backend points on a 64-bit ring, placed by hashing its authority
/// ("host:port"), so every proxy replica and every restart builds the same ring and maps a key to the same
/// backend; when a backend leaves, only its keys move (to the next backend on the ring), and when it comes
/// back they return. Points are kept sorted: finding a key's owner is O(log(n * points_per_backend)); add
/// and remove are O(n * points_per_backend) (a merge and a compaction; backends change rarely).
/// Not thread-safe.
class hash_ring {
 public:
  /// Enough for an even spread: with 64 points, the largest share of n backends is within about 1.3x of 1/n.
  static constexpr std::size_t points_per_backend = 64;

  /// No-op when `b` is already on the ring. `b` must outlive its presence.
  void add(backend& b);
  /// No-op when `b` is not on the ring.
  void remove(const backend& b);
  bool empty() const { return points_.empty(); }
  std::size_t points() const { return points_.size(); }

  /// Visits the ring's backends clockwise from the owner of `key` (the first point at or after it, wrapping)
  /// and returns the first for which `accept(backend&)` is true, or nullptr when none is (or the ring is
  /// empty). A backend is offered once per point it owns; the walk stops after one lap.
  template <class Accept>
  backend* walk(std::uint64_t key, Accept&& accept) const {
    if (points_.empty()) return nullptr;
    const std::size_t n = points_.size();
    const std::size_t start = owner_position(key);
    backend* last_offered = nullptr;
    for (std::size_t step = 0; step < n; ++step) {
      backend* b = points_[(start + step) % n].target;
      if (b == last_offered) continue;  // the same backend's next point: already refused
      if (accept(*b)) return b;
      last_offered = b;
    }
    return nullptr;
  }

 private:
  struct point {
    std::uint64_t position;
    backend* target;
  };
  /// The index of the first point at or after `key` (0 after the last one).
  std::size_t owner_position(std::uint64_t key) const;

  std::vector<point> points_;  // sorted by (position, target id)
};

}  // namespace pd_proxy
