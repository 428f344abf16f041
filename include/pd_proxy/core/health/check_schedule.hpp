// When each backend's next active health check is due: jittered, with a bound on checks in flight.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pd_proxy/core/backends/backend.hpp"

namespace pd_proxy {

/// A pure schedule (time is passed in): a backend new to it is due at once; after a check ends it is due
/// again `interval` later, jittered by up to ±10 % so that checks spread out instead of marching in step.
/// At most `concurrency` checks are in flight. Every operation is O(log n) and, once the schedule has grown,
/// allocates nothing (a binary heap in a vector; an entry left by a dropped backend is discarded when it
/// reaches the top, and the heap is rebuilt when such entries outnumber the live ones). Not thread-safe.
class check_schedule {
 public:
  using clock = std::chrono::steady_clock;

  check_schedule(clock::duration interval, std::size_t concurrency, std::uint64_t seed = 1);

  /// Makes the schedule hold exactly `current`: new ids are due at `now`, missing ones are dropped (a check
  /// in flight for a dropped id still counts until finished() is called for it).
  void sync(std::span<const backend_id> current, clock::time_point now);

  /// A backend whose check is due at `now`, marked in flight; nullopt when none is due or `concurrency`
  /// checks are in flight.
  std::optional<backend_id> take_due(clock::time_point now);

  /// The check of `id` ended at `now`: it is due again one jittered interval later.
  void finished(backend_id id, clock::time_point now);

  /// When the next backend becomes due (max() when none waits); a check may be due while the concurrency
  /// bound holds it back.
  clock::time_point next_due() const;

  std::size_t in_flight() const { return in_flight_; }
  std::size_t size() const { return entries_.size(); }

 private:
  struct entry {
    clock::time_point due;
    bool in_flight = false;
  };

  clock::duration jittered();

  clock::duration interval_;
  std::size_t concurrency_;
  std::mt19937_64 random_;
  std::unordered_map<backend_id, entry> entries_;
  using slot = std::pair<clock::time_point, backend_id>;  // (due, id)
  /// Drops heap slots that no longer match a waiting entry, until the top is a live one.
  void drop_stale_top();
  bool live(const slot& s) const;
  void rebuild();

  std::vector<slot> waiting_;     // min-heap by due time: the entries not in flight, and stale slots
  std::size_t waiting_live_ = 0;  // entries not in flight (each has exactly one live slot)
  std::size_t in_flight_ = 0;
};

}  // namespace pd_proxy
