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

/// How long after a check ends its backend is due again, before jitter: `interval` once the backend has been
/// healthy since it joined the schedule (`ever_healthy`); until then (down at start-up, or still loading)
/// `first_recheck_delay` after its first check, half as long again after each further check, at most
/// `interval`. Checks then come at 0, 0.25, 0.625, 1.19, 2.03 s...: an engine that comes up t seconds after
/// its first check is found by 1.5 t + 0.25 s, not a whole interval later (and even when a check just misses
/// it, the next one comes soon), while one that stays down costs a handful of checks more in all
/// (log1.5(interval / 250 ms): 8 for 5 s). `checks`: the checks it had so far, this one included.
inline constexpr std::chrono::milliseconds first_recheck_delay{250};
std::chrono::steady_clock::duration recheck_delay(bool ever_healthy, std::uint32_t checks,
                                                  std::chrono::steady_clock::duration interval);

/// A pure schedule (time is passed in): a backend new to it is due at once; after a check ends it is due
/// again recheck_delay() later, jittered by up to ±10 % so that checks spread out instead of marching in
/// step. At most `concurrency` checks are in flight. Every operation but sync() and slot_of() is O(log n),
/// looks nothing up by id and, once the schedule has grown, allocates nothing: the backends live in a vector
/// of slots, and the due ones in a binary heap of slots (an entry left by a dropped backend is discarded when
/// it reaches the top, and the heap is rebuilt when such entries outnumber the live ones). Not thread-safe.
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

  /// `check` ended at `now`, leaving its backend `healthy` or not (the verdict after this result): the
  /// backend is due again one jittered recheck_delay() later (unless it was dropped). A check that is not in
  /// flight (reported before) changes nothing.
  void finished(const due_check& check, clock::time_point now, bool healthy);

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
    bool ever_healthy = false;     // a check left its backend healthy: rechecks come every interval
    std::uint32_t checks = 0;  // checks of its backend that ended, while not ever_healthy (for the back-off)
  };
  struct waiting_entry {
    clock::time_point due;
    std::uint32_t slot;
    std::uint32_t generation;
  };

  /// `delay` ± up to 10 %.
  clock::duration jittered(clock::duration delay);
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
