#include "pd_proxy/net/operation_timer.hpp"

#include <algorithm>

namespace pd_proxy {

std::chrono::steady_clock::duration to_timer_duration(seconds_d limit) {
  // The CLI refuses what this clamps; the clamp keeps a computed value (a backoff) from overflowing the
  // clock.
  constexpr double max_seconds = 1e9;  // ~31 years: now() + this still fits a steady_clock time_point
  const double s = limit.count();
  if (!(s > 0)) return std::chrono::steady_clock::duration::zero();  // also NaN
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(seconds_d{std::min(s, max_seconds)});
}

namespace detail {

void arm_operation_timer(const std::shared_ptr<operation_timer_state>& state) {
  if (state->armed && state->timer.expiry() <= state->deadline) return;  // it wakes in time and re-arms
  const unsigned generation = ++state->generation;
  state->armed = true;
  state->timer.expires_at(
      state->deadline);  // cancels an older wait, whose handler then sees a stale generation
  state->timer.async_wait([state, generation](const error_code& ec) {
    if (generation != state->generation) return;
    state->armed = false;
    if (ec || !state->active) return;
    if (std::chrono::steady_clock::now() < state->deadline) {
      arm_operation_timer(state);
      return;
    }
    state->fired = true;
    state->signal.emit(net::cancellation_type::terminal);
  });
}

}  // namespace detail

operation_timer::~operation_timer() {
  if (!state_) return;
  ++state_->generation;
  state_->timer.cancel();
}

void operation_timer::interrupt() {
  interrupted_ = true;
  if (state_ && state_->active) state_->signal.emit(net::cancellation_type::terminal);
}

net::awaitable<bool> cancelled() {
  auto state = co_await net::this_coro::cancellation_state;
  co_return state.cancelled() != net::cancellation_type::none;
}

net::awaitable<bool> sleep_for(seconds_d d) {
  if (d.count() <= 0) co_return !co_await cancelled();
  net::steady_timer timer(co_await net::this_coro::executor, to_timer_duration(d));
  auto [ec] = co_await timer.async_wait(use_nothrow);
  co_return !ec && !co_await cancelled();
}

}  // namespace pd_proxy
