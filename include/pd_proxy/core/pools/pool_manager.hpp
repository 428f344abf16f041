// Run-time pools: instances added (waiting until they answer a probe, then active), removed (draining until
// their last request ends, then gone) and listed. Pure: the I/O shell runs the probes and reports them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "pd_proxy/core/backends/registry.hpp"
#include "pd_proxy/core/scheduling/scheduler.hpp"

namespace pd_proxy {

/// What the pools of an instance's role say about it (GET /instances).
enum class instance_state : std::uint8_t {
  active,     // routable: healthy, breaker closed
  waiting,    // added, not answered its probe yet: gets no request
  draining,   // removed: gets no new request; its in-flight requests finish
  unhealthy,  // a candidate whose active health checks fail
  open,       // a candidate whose circuit breaker is open (or half-open with its trial in flight)
};

/// "active", "waiting", "draining", "unhealthy", "open".
std::string_view to_string(instance_state state);

struct pool_settings {
  int max_waiting_retries = 3;  // failed probes before a waiting instance is dropped (at least 1 probe)
  std::chrono::steady_clock::duration retry_interval = std::chrono::seconds(10);  // between probes
  std::size_t max_waiting = 4096;  // instances waiting at once; more adds are refused
  // waiting_policy::until_removed: the longest wait between two probes once the interval backs off.
  std::chrono::steady_clock::duration max_retry_backoff = std::chrono::seconds(60);
};

/// How long a waiting instance is probed before it is given up.
enum class waiting_policy : std::uint8_t {
  bounded,        // dropped after max_waiting_retries failed probes (an admin add)
  until_removed,  // a DNS record: never dropped; after max_waiting_retries failed probes the interval
                  // doubles at each failure up to max(max_retry_backoff, retry_interval); remove() ends it
};

/// One line of GET /instances.
struct instance_info {
  backend_role role = backend_role::prefill;
  std::string address;  // "host:port" ("[::1]:9000")
  backend_id id = 0;    // 0 while waiting (a backend gets its id when it becomes active)
  instance_state state = instance_state::waiting;
  backend_load load = {};
};

/// A waiting instance to probe. `ticket` names it in probe_finished.
struct probe_target {
  std::uint64_t ticket = 0;
  backend_role role = backend_role::prefill;
  backend_address address = {};
};

struct add_outcome {
  std::vector<probe_target> waiting;  // new; claimed for their first probe by the caller, who must report it
  std::vector<std::string> present;   // already active or waiting: nothing done
  std::vector<std::string> refused;   // the waiting table is full
};

struct remove_outcome {
  std::vector<std::string> removed;   // were waiting, or active without a request in flight: gone now
  std::vector<std::string> draining;  // were active with requests in flight: gone after the last one
  std::vector<std::string> unknown;   // not active nor waiting in that role: nothing done
};

enum class probe_verdict : std::uint8_t {
  activated,  // answered: registered and routable now
  retry,      // failed; probed again after the retry interval
  kept,       // until_removed: failed its max_waiting_retries-th probe; probed on with back-off
  backoff,    // until_removed: failed again after `kept`; probed on with a longer interval
  dropped,    // failed the last allowed probe: forgotten
  gone,       // removed while it was probed: nothing done
};

/// Thread-safe (one mutex for the admin plane; the request path never takes it). The registry and scheduler
/// are the proxy's: the manager adds a backend to both when it becomes active, and takes it out of both when
/// it is removed. A removed backend lives on while reservations hold it (their load is released against it)
/// and is listed as draining until its load is zero.
class pool_manager {
 public:
  using clock = std::chrono::steady_clock;

  pool_manager(backend_registry& registry, scheduler& sched, pool_settings settings);
  pool_manager(const pool_manager&) = delete;
  pool_manager& operator=(const pool_manager&) = delete;

  /// Adds instances of `role` as waiting. Instances already active or waiting in that role are no-ops (a
  /// waiting one added again as until_removed keeps being probed until removed).
  add_outcome add(backend_role role, const std::vector<backend_address>& addresses, clock::time_point now,
                  waiting_policy policy = waiting_policy::bounded);
  /// Removes instances of `role`: a waiting one is forgotten, an active one drains.
  remove_outcome remove(backend_role role, const std::vector<backend_address>& addresses);
  /// A reload's change of `role`'s pool: `added` become waiting as with add(), and `removed` leave as with
  /// remove(), except that an active one stays routable until no instance a replace() of `role` added is
  /// waiting any more (each is active, dropped after its last probe, or removed), then drains. So a reload
  /// that replaces every instance of a role never leaves it without one while the new ones are probed. An
  /// address that a replace() is retiring and that `added` names again stays (a reload undone). Returns what
  /// add() returns for `added`.
  add_outcome replace(backend_role role, const std::vector<backend_address>& added,
                      const std::vector<backend_address>& removed, clock::time_point now);

  /// Waiting instances whose next probe is due at `now` (at most `limit`), claimed until probe_finished.
  std::vector<probe_target> take_due(clock::time_point now, std::size_t limit);
  /// When the next unclaimed probe is due (time_point::max() when none).
  clock::time_point next_due() const;
  /// A probe's result. A passed probe makes the instance an active backend at once.
  probe_verdict probe_finished(std::uint64_t ticket, bool passed, clock::time_point now);

  /// Every instance: active and unhealthy ones in pool order, then waiting, then draining ones.
  std::vector<instance_info> list() const;
  /// The addresses of the registered (not waiting, not draining) backends of `role`, in pool order.
  std::vector<std::string> current(backend_role role) const;
  /// Draining backends whose last request has ended, each returned once (their per-worker state can go).
  std::vector<backend_id> collect_gone();
  std::size_t waiting() const;

 private:
  struct waiting_entry {
    std::uint64_t ticket = 0;
    backend_role role = backend_role::prefill;
    backend_address address = {};
    waiting_policy policy = waiting_policy::bounded;
    int failures = 0;
    clock::time_point next_probe = {};
    bool claimed = false;  // a probe is in flight
  };

  /// Under mutex_: the registered backend of `role` at `address`, or null.
  std::shared_ptr<backend> find_active_locked(backend_role role, const backend_address& address) const;
  /// Under mutex_.
  bool idle_locked(const backend& b) const;
  /// Under mutex_: `b` leaves the registry and the scheduler (if it is still registered) and drains.
  void drain_locked(const std::shared_ptr<backend>& b);
  /// Under mutex_: the waiting instance `ticket` left the waiting list; a replacement of its role that no
  /// longer awaits anything retires its backends.
  void settled_locked(backend_role role, std::uint64_t ticket);

  // The active backends of one role that replace() removed, routable until `awaited` is empty.
  struct replacement {
    std::vector<std::shared_ptr<backend>> retiring;
    std::vector<std::uint64_t> awaited;  // tickets of instances replace() added that still wait
  };
  replacement& replacement_of(backend_role role) {
    return role == backend_role::prefill ? prefill_replacement_ : decode_replacement_;
  }

  backend_registry& registry_;
  scheduler& sched_;
  const pool_settings settings_;
  mutable std::mutex mutex_;
  std::vector<waiting_entry> waiting_;              // in the order they were added
  std::vector<std::shared_ptr<backend>> draining_;  // removed, maybe still holding load
  std::uint64_t next_ticket_ = 1;
  replacement prefill_replacement_;  // guarded by mutex_
  replacement decode_replacement_;   // guarded by mutex_
};

}  // namespace pd_proxy
