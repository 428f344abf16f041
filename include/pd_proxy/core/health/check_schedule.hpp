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
/// At most `concurrency` checks are in flight. Every operation but sync() and slot_of() is O(log n), looks
/// nothing up by id and, once the schedule has grown, allocates nothing: the backends live in a vector of
/// slots, and the due ones in a binary heap of slots (an entry left by a dropped backend is discarded when it
/// reaches the top, and the heap is rebuilt when such entries outnumber the live ones). Not thread-safe.
class check_schedule {
 public:
  using clock = std::chrono::steady_clock;

  /// A check taken from the schedule. `slot` is the backend's place in the schedule: a dense index below
  /// slot_count(), the backend's from the sync() that added it to the one that dropped it, so a caller can
  /// keep what it needs per backend in a vector by slot rather than in a map by id.
  struct due_check {
    backend_id id = 0;
    std::uint32_t slot = 0;
    std::uint32_t generation = 0;  // which check of the slot this is
  };

  check_schedule(clock::duration interval, std::size_t concurrency, std::uint64_t seed = 1);

  /// Makes the schedule hold exactly `current`: new ids are due at `now`, missing ones are dropped (a check
  /// in flight for a dropped id still counts, and keeps its slot, until finished() is called for it).
  void sync(std::span<const backend_id> current, clock::time_point now);

  /// A backend whose check is due at `now`, marked in flight; nullopt when none is due or `concurrency`
  /// checks are in flight.
  std::optional<due_check> take_due(clock::time_point now);

  /// `check` ended at `now`: its backend is due again one jittered interval later (unless it was dropped).
  /// A check that is not in flight (reported before) changes nothing.
  void finished(const due_check& check, clock::time_point now);

  /// When the next backend becomes due (max() when none waits); a check may be due while the concurrency
  /// bound holds it back.
  clock::time_point next_due() const;

  /// The slot of `id` (nullopt when the schedule does not hold it).
  std::optional<std::uint32_t> slot_of(backend_id id) const;
  std::size_t slot_count() const { return slots_.size(); }

  std::size_t in_flight() const { return in_flight_; }
  std::size_t size() const { return slot_by_id_.size(); }

 private:
  struct slot_state {
    backend_id id = 0;
    clock::time_point due{};
    std::uint32_t generation = 0;  // bumped when the slot is given out, taken for a check or released
    bool held = false;             // a backend of the schedule has it
    bool in_flight = false;        // its check runs (a dropped backend's check keeps the slot until it ends)
  };
  struct waiting_entry {
    clock::time_point due;
    std::uint32_t slot;
    std::uint32_t generation;
  };

  clock::duration jittered();
  void push_waiting(std::uint32_t slot, clock::time_point due);
  /// Drops heap entries that no longer match a waiting backend, until the top is a live one.
  void drop_stale_top();
  bool live(const waiting_entry& w) const;
  void release(std::uint32_t slot);
  void rebuild();

  clock::duration interval_;
  std::size_t concurrency_;
  std::mt19937_64 random_;
  std::vector<slot_state> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::unordered_map<backend_id, std::uint32_t> slot_by_id_;  // for sync() and slot_of() only
  std::vector<waiting_entry> waiting_;  // min-heap by due time: the backends not in flight, and stale entries
  std::size_t waiting_live_ = 0;        // backends not in flight (each has exactly one live entry)
  std::size_t in_flight_ = 0;
};

}  // namespace pd_proxy
