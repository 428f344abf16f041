// Timeouts and cancellation checks for coroutine I/O.
#pragma once

#include <chrono>
#include <memory>
#include <type_traits>
#include <tuple>
#include <variant>

#include "pd_proxy/core/config.hpp"
#include "pd_proxy/net/net.hpp"

namespace pd_proxy {

/// Converts a configured duration to a timer duration; zero means "no limit".
std::chrono::steady_clock::duration to_timer_duration(seconds_d limit);

namespace detail {

// Shared by one timed operation and its timer's handler, which may run after the operation completed.
struct timeout_state {
  explicit timeout_state(const net::any_io_executor& executor) : timer(executor) {}
  net::steady_timer timer;
  net::cancellation_signal signal;  // bound to the operation
  bool fired = false;
};

}  // namespace detail

/// Starts the operation `make_op(token)` (an Asio initiating function given a completion token, e.g.
/// `[&](auto token) { return socket.async_read_some(buffer, token); }`) and awaits it, cancelling it when
/// `limit` passes first; its error code is then beast::error::timeout. A cancellation of the calling
/// coroutine (its client went away) is forwarded to the operation. A zero limit awaits the operation alone.
/// Costs one small allocation and one timer per call; never throws on I/O errors.
template <class MakeOp>
std::invoke_result_t<MakeOp&, decltype(use_nothrow)> timed(MakeOp make_op, seconds_d limit) {
  net::cancellation_state cancellation = co_await net::this_coro::cancellation_state;
  if (cancellation.cancelled() != net::cancellation_type::none) {
    // Cancelled between two operations: a new one would not see the cancellation, so do not start it.
    typename std::invoke_result_t<MakeOp&, decltype(use_nothrow)>::value_type aborted{};
    std::get<0>(aborted) = net::error::operation_aborted;
    co_return aborted;
  }
  if (limit.count() <= 0) co_return co_await make_op(use_nothrow);
  auto state = std::make_shared<detail::timeout_state>(co_await net::this_coro::executor);
  net::cancellation_slot outer = cancellation.slot();
  if (outer.is_connected()) {
    outer.assign([state](net::cancellation_type type) { state->signal.emit(type); });
  }
  state->timer.expires_after(to_timer_duration(limit));
  state->timer.async_wait([state](const error_code& ec) {
    if (ec) return;
    state->fired = true;
    state->signal.emit(net::cancellation_type::terminal);
  });
  auto result = co_await make_op(net::bind_cancellation_slot(state->signal.slot(), use_nothrow));
  if (outer.is_connected()) outer.clear();
  state->timer.cancel();
  if (state->fired) std::get<0>(result) = beast::error::timeout;
  co_return result;
}

/// True once the calling coroutine has been cancelled (e.g. its client went away). A cancelled coroutine
/// must start no new work: operations started after the cancellation are not interrupted by it.
net::awaitable<bool> cancelled();

/// Sleeps for `d`; returns early (false) when the coroutine is cancelled.
net::awaitable<bool> sleep_for(seconds_d d);

}  // namespace pd_proxy
