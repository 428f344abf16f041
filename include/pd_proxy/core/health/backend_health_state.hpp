// One backend's health as a pure state machine: a circuit breaker fed by request outcomes (passive) and a
// consecutive-results counter fed by health checks (active). Time is passed in, never read: tests drive it
// with made-up time points and never sleep. The scheduler owns one per backend and calls it under the lock of
// the backend's role.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "pd_proxy/core/config/config.hpp"

namespace pd_proxy {

struct health_settings {
  int failure_threshold = 3;  // --cb-failure-threshold: failures in a row that open (0: never opens)
  std::chrono::milliseconds recovery_timeout{10'000};       // --cb-recovery-timeout: first open period
  std::chrono::milliseconds max_recovery_timeout{300'000};  // --cb-max-recovery-timeout: doubling stops here
  int unhealthy_threshold = 2;  // --unhealthy-threshold: failed checks in a row that mark it unhealthy
  int healthy_threshold = 1;    // --healthy-threshold: passed checks in a row that mark it healthy
};

/// The health flags of `config` (--cb-*, --unhealthy-threshold, --healthy-threshold).
health_settings health_settings_of(const proxy_config& config);

/// The breaker's state: closed (traffic flows), open (no new request until its period ends), half-open (one
/// trial request decides).
enum class breaker_state : std::uint8_t { closed, open, half_open };

std::string_view to_string(breaker_state state);

/// Not thread-safe: the caller serialises (the scheduler's lock for its role).
class backend_health_state {
 public:
  using clock = std::chrono::steady_clock;

  /// `checked`: active checks are on, so the backend is unhealthy until a check passes (down at start-up
  /// means unhealthy until it answers); without checks it starts healthy.
  backend_health_state(const health_settings& settings, bool checked);
  backend_health_state() : backend_health_state({}, false) {}

  /// Whether a new request may be sent now. In half-open this admits exactly one trial until its outcome
  /// is reported; call it only when the request will be sent (it claims the trial).
  bool admit(clock::time_point now);

  /// Whether admit() would say yes now, without claiming a trial (for /ready and metrics).
  bool usable(clock::time_point now) const;

  /// A request's outcome on this backend, attributed to its leg: a failure is a connect error, reset,
  /// timeout, 5xx, 429 or a broken stream (never a 4xx or a client abort).
  /// A backend answer of any other kind (2xx, or a 4xx: the backend is alive and judged the request) counts
  /// as a success.
  void request_succeeded();
  void request_failed(clock::time_point now);
  /// A request admitted here ended with no outcome to attribute (the client went away): a half-open trial
  /// it held is given back, so that the next request may be the trial.
  void request_abandoned();

  /// An active health check's result. A passing check never closes a breaker that requests opened: /health
  /// can pass while completions fail.
  void check_passed();
  void check_failed();

  breaker_state breaker(clock::time_point now) const;
  bool healthy() const { return healthy_; }
  /// When the open period ends (meaningful while the breaker is open).
  clock::time_point open_until() const { return open_until_; }
  /// The length of the current (or last) open period.
  std::chrono::milliseconds open_period() const { return open_period_; }

 private:
  void open(clock::time_point now);

  health_settings settings_;
  breaker_state state_ = breaker_state::closed;
  clock::time_point open_until_{};
  std::chrono::milliseconds open_period_{0};
  int consecutive_failures_ = 0;  // request failures in a row while closed
  int reopenings_ = 0;            // consecutive re-openings (from half-open), for the doubling
  bool trial_in_flight_ = false;
  bool healthy_;
  int passes_in_a_row_ = 0;
  int failures_in_a_row_ = 0;  // failed checks
};

}  // namespace pd_proxy
