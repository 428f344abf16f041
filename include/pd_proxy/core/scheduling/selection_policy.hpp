// The narrow interface every scheduling policy implements: keep an index of one role's backends, pick one.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "pd_proxy/core/backends/backend.hpp"
#include "pd_proxy/core/backends/engine_load.hpp"
#include "pd_proxy/core/backends/fixed_load.hpp"
#include "pd_proxy/core/scheduling/request_context.hpp"

namespace pd_proxy {

/// Picks a backend of one role. The scheduler tells the policy which backends are candidates and every
/// change of their load, so the policy keeps its own index current and a pick need not scan the pool.
/// Implementations hold their own state (index, cursors, RNG) and are called under the scheduler's lock
/// for their role, so they need no locking of their own. No method does I/O; pick() does not allocate or
/// throw.
class selection_policy {
 public:
  virtual ~selection_policy() = default;

  /// `b` (with its current `load`) becomes a candidate. Called once per backend, before any other call
  /// naming it. `b` stays valid until remove(b) returns.
  virtual void add(backend& b, const fixed_load& load) = 0;
  /// `b` is no longer a candidate: the policy forgets it and never returns it again.
  virtual void remove(backend& b) = 0;
  /// The load of candidate `b` is now `load` (a reservation was made or released on it).
  virtual void load_changed(backend& b, const fixed_load& load) = 0;
  /// Candidate `b`'s engine reported `load` (scheduler::report_load). Policies that account only for this
  /// proxy's own reservations ignore it (the default).
  virtual void load_reported(backend& b, const engine_load& load) {
    (void)b;
    (void)load;
  }
  /// The chosen candidate, or nullptr only when there is no candidate. Does not change any load (the
  /// scheduler reserves on the result and reports it through load_changed).
  virtual backend* pick(const request_context& request) = 0;
};

/// Settings a policy may take from the configuration (policy_settings_of in core/config); each policy reads
/// the ones it documents and ignores the rest.
struct policy_settings {
  using clock = std::chrono::steady_clock;
  /// The seed of a policy's random choices (tests and benchmarks fix it); 0: seeded from std::random_device.
  std::uint64_t seed = 0;
  /// prefix-affinity and session-affinity: a key's owner is passed over while its load is above this factor
  /// times the mean load of the candidates (--affinity-load-factor, at least 1).
  double affinity_load_factor = 1.25;
  /// queue-aware: an engine report older than this is stale and the backend is weighed by this proxy's own
  /// accounting (zero: reports never go stale).
  clock::duration report_ttl{0};
  /// The time, read by policies that age what they know (tests pass a fake).
  clock::time_point (*now)() = &clock::now;
};

/// Creates a policy by its command-line name with `settings`; nullptr for an unknown name. Known:
/// "least-loaded", "round-robin", "random", "power-of-two", "prefix-affinity", "session-affinity",
/// "queue-aware". Adding a policy: its own file behind selection_policy, and one line in
/// selection_policy.cpp (the flags' validation and reload call this, so nothing else changes).
std::unique_ptr<selection_policy> make_policy(std::string_view name, const policy_settings& settings = {});

}  // namespace pd_proxy
