#include "pd_proxy/core/health/backend_health_state.hpp"

#include <algorithm>

namespace pd_proxy {

std::string_view to_string(breaker_state state) {
  switch (state) {
    case breaker_state::closed:
      return "closed";
    case breaker_state::open:
      return "open";
    case breaker_state::half_open:
      return "half_open";
  }
  return "unknown";
}

health_settings health_settings_of(const proxy_config& config) {
  const auto ms = [](seconds_d s) { return std::chrono::ceil<std::chrono::milliseconds>(s); };
  return health_settings{.failure_threshold = config.cb_failure_threshold,
                         .recovery_timeout = ms(config.cb_recovery_timeout),
                         .max_recovery_timeout = ms(config.cb_max_recovery_timeout),
                         .unhealthy_threshold = config.unhealthy_threshold,
                         .healthy_threshold = config.healthy_threshold};
}

backend_health_state::backend_health_state(const health_settings& settings, bool checked)
    : settings_(settings), healthy_(!checked) {}

breaker_state backend_health_state::breaker(clock::time_point now) const {
  if (state_ == breaker_state::open && now >= open_until_) return breaker_state::half_open;
  return state_;
}

bool backend_health_state::usable(clock::time_point now) const {
  if (!healthy_) return false;
  switch (breaker(now)) {
    case breaker_state::closed:
      return true;
    case breaker_state::open:
      return false;
    case breaker_state::half_open:
      return !trial_in_flight_;
  }
  return false;
}

bool backend_health_state::admit(clock::time_point now) {
  if (!usable(now)) return false;
  if (breaker(now) == breaker_state::half_open) {
    state_ = breaker_state::half_open;
    trial_in_flight_ = true;
  }
  return true;
}

void backend_health_state::request_succeeded() {
  consecutive_failures_ = 0;
  // Closed: nothing to do. Open: a request admitted before the opening; only the trial can close it.
  if (state_ != breaker_state::half_open) return;
  state_ = breaker_state::closed;  // the trial passed
  reopenings_ = 0;
  trial_in_flight_ = false;
}

void backend_health_state::request_failed(clock::time_point now) {
  switch (state_) {
    case breaker_state::closed:
      if (settings_.failure_threshold > 0 && ++consecutive_failures_ >= settings_.failure_threshold)
        open(now);
      return;
    case breaker_state::half_open:
      reopenings_ = std::min(reopenings_ + 1, 64);  // the trial failed: open again, for twice as long
      open(now);
      return;
    case breaker_state::open:
      return;  // a request admitted before the opening: the breaker already knows
  }
}

void backend_health_state::request_abandoned() {
  if (state_ == breaker_state::half_open) trial_in_flight_ = false;
}

void backend_health_state::open(clock::time_point now) {
  auto period = settings_.recovery_timeout;
  for (int i = 0; i < reopenings_ && period < settings_.max_recovery_timeout; ++i) period *= 2;
  open_period_ = std::min(period, settings_.max_recovery_timeout);
  open_until_ = now + open_period_;
  state_ = breaker_state::open;
  consecutive_failures_ = 0;
  trial_in_flight_ = false;
}

void backend_health_state::check_passed() {
  failures_in_a_row_ = 0;
  if (++passes_in_a_row_ >= settings_.healthy_threshold) healthy_ = true;
}

void backend_health_state::check_failed() {
  passes_in_a_row_ = 0;
  if (++failures_in_a_row_ >= settings_.unhealthy_threshold) healthy_ = false;
}

}  // namespace pd_proxy
