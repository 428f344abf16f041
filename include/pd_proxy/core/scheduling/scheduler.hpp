// Load accounting and health for both pools, and the RAII reservations that guarantee every load is released
// once and every admitted request's outcome reaches its backend's circuit breaker.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "pd_proxy/core/backends/backend.hpp"
#include "pd_proxy/core/scheduling/leg_reservation.hpp"
#include "pd_proxy/core/scheduling/leg_result.hpp"
#include "pd_proxy/core/scheduling/request_context.hpp"
#include "pd_proxy/core/scheduling/selection_policy.hpp"

namespace pd_proxy {

class scheduler;

/// What the scheduler knows of one backend (a consistent copy, for /ready, /healthcheck and logs).
struct backend_status {
  backend_load load;
  bool candidate = false;  // still in the scheduler (not removed)
  bool healthy = false;    // the active checks' verdict (true when checks are off)
  breaker_state breaker = breaker_state::closed;
  bool usable = false;  // a new request may pick it now
};

/// What an active check's result did to a backend: the checker logs the changes.
struct check_effect {
  bool candidate = false;   // still in the scheduler (else the result was ignored and the rest is false)
  bool was_usable = false;  // a new request could pick it before the result
  bool usable = false;      // ... and after it
  bool healthy = false;     // the active checks' verdict after the result
};

/// Owns the load and the health of the backends added to it and one policy per role. Only usable backends
/// (healthy, breaker not open, no half-open trial in flight) are in a policy's index, so a pick never returns
/// an unusable one and costs nothing more for health. Thread-safe: each role has its own mutex (prefill and
/// decode picks never contend), held only for the policy call and a few integer updates; no I/O happens
/// under it. A backend belongs to at most one scheduler. Reservations must not outlive the scheduler.
class scheduler {
 public:
  using clock = backend_health_state::clock;
  using time_source = clock::time_point (*)();

  /// `checked`: active health checks run, so a new backend is unhealthy until its first check passes.
  /// `now` is read on every pick (tests pass a fake).
  scheduler(std::unique_ptr<selection_policy> prefill, std::unique_ptr<selection_policy> decode,
            const health_settings& health = {}, bool checked = false, time_source now = &clock::now);
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  /// `b` becomes a candidate of its role (no-op if it already is one, or null). `probed`: it has just
  /// answered a probe (a backend added at run time), so it starts healthy even when active checks are on.
  void add(std::shared_ptr<backend> b, bool probed = false);
  /// `b` is picked no more (no-op if it is not a candidate). Load it holds stays on it and is released
  /// against it by the reservations that hold it.
  void remove(const backend& b);

  /// Picks a usable prefiller (avoiding `request.tried` while an untried one exists) and reserves `score` on
  /// it. nullopt when the role has no usable candidate.
  /// A prefill reservation holds tokens and KV, a decode one tokens only.
  std::optional<leg_reservation> reserve(backend_role role, double score,
                                         const request_context& request = {});
  std::optional<leg_reservation> reserve_prefill(double score, const request_context& request = {}) {
    return reserve(backend_role::prefill, score, request);
  }
  std::optional<leg_reservation> reserve_decode(double score, const request_context& request = {}) {
    return reserve(backend_role::decode, score, request);
  }

  /// `policy` (not null) picks `role`'s backends from now on; it is given every usable candidate with its
  /// current load. Reservations already made are unaffected (a reload of --prefill-policy/--decode-policy).
  void set_policy(backend_role role, std::unique_ptr<selection_policy> policy);

  /// The engine behind backend `id` reported `load` (a component outside the request path read it, e.g. the
  /// engine's /metrics): handed to the policy of its role under the role's lock. False (and ignored) when
  /// `id` is not a candidate of either role. O(1) expected.
  bool report_load(backend_id id, const engine_load& load);

  /// An active health check's result for candidate `b` (ignored if `b` is not a candidate), and what it did.
  check_effect check_result(backend& b, bool passed);

  /// A consistent copy of `b`'s load, in tokens.
  backend_load load(const backend& b) const;
  backend_status status(const backend& b) const;
  /// The number of candidates of `role`.
  std::size_t size(backend_role role) const;
  /// The number of candidates of `role` a new request may pick now (O(n): for /ready and /healthcheck).
  std::size_t usable(backend_role role) const;
  /// Whether a reserve of `role` would find a backend now, ignoring tried sets. O(1) and lock-free while
  /// some backend of the role is routable (the request path asks it before every prefill).
  bool any_usable(backend_role role);
  bool checked() const { return checked_; }

 private:
  friend class leg_reservation;

  struct role_state {
    mutable std::mutex mutex;  // guards everything below and the load of every backend of this role
    std::unique_ptr<selection_policy> policy;
    std::unordered_map<backend_id, std::shared_ptr<backend>> candidates;
    clock::time_point next_wake = clock::time_point::max();  // the earliest end of an open period
    std::atomic<std::size_t> routed{0};  // candidates in the policy's index; written under the mutex
  };

  role_state& state_of(backend_role role) { return role == backend_role::prefill ? prefill_ : decode_; }
  const role_state& state_of(backend_role role) const {
    return role == backend_role::prefill ? prefill_ : decode_;
  }
  /// Under p.mutex: picks, adds the load, tells the policy. Null when the role has no candidate.
  std::shared_ptr<backend> reserve_locked(role_state& p, const request_context& request, std::int64_t tokens,
                                          std::int64_t kv);
  /// Adds the (signed) deltas to `b`'s load under its role's lock and tells the policy if `b` is a candidate.
  void adjust(backend& b, std::int64_t tokens, std::int64_t kv, int inflight);
  /// A request's result on `b` (a candidate or not) reaches its health state.
  void report(backend& b, leg_result result);
  /// Under the mutex of b's role: whether b is one of its candidates.
  static bool is_candidate_locked(const backend& b);
  /// Under p.mutex: puts candidate `b` in the policy's index or takes it out, as its health says now.
  void refresh_locked(role_state& p, backend& b, clock::time_point now);
  /// Under p.mutex: brings back the candidates whose open period ended (called when now >= next_wake).
  void wake_locked(role_state& p, clock::time_point now);

  role_state prefill_;
  role_state decode_;
  health_settings health_;
  bool checked_;
  time_source now_;
};

}  // namespace pd_proxy
