// Timeouts and cancellation checks for coroutine I/O.
#pragma once

#include <chrono>
#include <memory>
#include <tuple>
#include <type_traits>
#include <variant>

#include "pd_proxy/core/config/config.hpp"
#include "pd_proxy/net/net.hpp"

namespace pd_proxy {

/// Converts a configured duration to a timer duration, saturating at 1e9 s; zero, negative and NaN give zero
/// (callers treat a zero limit as "no limit").
std::chrono::steady_clock::duration to_timer_duration(seconds_d limit);

namespace detail {

// Shared by an operation_timer and the handler of its pending wait.
struct operation_timer_state {
  explicit operation_timer_state(const net::any_io_executor& executor) : timer(executor) {}
  net::steady_timer timer;
  net::cancellation_signal signal;  // bound to the current operation
  std::chrono::steady_clock::time_point deadline;
  unsigned generation = 0;  // a wait started under an older generation has been superseded
  bool armed = false;       // a wait of the current generation is pending
  bool active = false;      // an operation is running
  bool fired = false;       // the current operation's deadline passed
};

// Makes sure a wait is pending that wakes no later than state->deadline.
void arm_operation_timer(const std::shared_ptr<operation_timer_state>& state);

}  // namespace detail

/// The timeouts of a sequence of operations of one coroutine, one at a time (a stream's reads, or its
/// writes): `run` limits its operation as timed() describes, and all of them share one timer and one
/// cancellation signal, and starting an operation only moves the deadline: the pending wait, when it wakes
/// before the new deadline, waits again. A stream of small reads under a constant limit thus costs no timer
/// operation per read (one wake-up per `limit` instead). Destroying it cancels the pending wait. Not
/// thread-safe.
class operation_timer {
 public:
  operation_timer() = default;
  operation_timer(const operation_timer&) = delete;
  operation_timer& operator=(const operation_timer&) = delete;
  ~operation_timer();

  /// Runs `make_op` limited to `limit` from now (zero: no limit).
  template <class MakeOp>
  std::invoke_result_t<MakeOp&, decltype(use_nothrow)> run(MakeOp make_op, seconds_d limit) {
    return run_until(std::move(make_op), limit.count() <= 0
                                             ? std::chrono::steady_clock::time_point::max()
                                             : std::chrono::steady_clock::now() + to_timer_duration(limit));
  }

  /// Runs `make_op` limited to `deadline` (time_point::max(): no limit). Operations sharing one deadline (a
  /// request's write, then the read of its answer) cost no timer operation after the first.
  template <class MakeOp>
  std::invoke_result_t<MakeOp&, decltype(use_nothrow)> run_until(
      MakeOp make_op, std::chrono::steady_clock::time_point deadline);

  /// Ends the running operation now (with operation_aborted) and makes every later run() end at once the same
  /// way: for a stream that is being given up from outside (the drain deadline). An operation run without a
  /// deadline is not reached; the caller closes its socket for those.
  void interrupt();

 private:
  std::shared_ptr<detail::operation_timer_state> state_;
  bool interrupted_ = false;
};

template <class MakeOp>
std::invoke_result_t<MakeOp&, decltype(use_nothrow)> operation_timer::run_until(
    MakeOp make_op, std::chrono::steady_clock::time_point deadline) {
  net::cancellation_state cancellation = co_await net::this_coro::cancellation_state;
  if (cancellation.cancelled() != net::cancellation_type::none || interrupted_) {
    // Cancelled between two operations: a new one would not see the cancellation, so do not start it.
    typename std::invoke_result_t<MakeOp&, decltype(use_nothrow)>::value_type aborted{};
    std::get<0>(aborted) = net::error::operation_aborted;
    co_return aborted;
  }
  if (deadline == std::chrono::steady_clock::time_point::max()) co_return co_await make_op(use_nothrow);
  if (!state_) state_ = std::make_shared<detail::operation_timer_state>(co_await net::this_coro::executor);
  auto& state = *state_;
  state.deadline = deadline;
  state.fired = false;
  state.active = true;
  detail::arm_operation_timer(state_);
  net::cancellation_slot outer = cancellation.slot();
  if (outer.is_connected()) {
    outer.assign([shared = state_](net::cancellation_type type) { shared->signal.emit(type); });
  }
  auto result = co_await make_op(net::bind_cancellation_slot(state.signal.slot(), use_nothrow));
  if (outer.is_connected()) outer.clear();
  state.active = false;
  if (state.fired && std::get<0>(result)) std::get<0>(result) = beast::error::timeout;
  co_return result;
}

/// Starts the operation `make_op(token)` (an Asio initiating function given a completion token, e.g.
/// `[&](auto token) { return socket.async_read_some(buffer, token); }`) and awaits it, cancelling it when
/// `limit` passes first; its error code is then beast::error::timeout. A cancellation of the calling
/// coroutine (its client went away) is forwarded to the operation; a coroutine already cancelled starts no
/// operation (operation_aborted). A zero limit awaits the operation alone. Never throws on I/O errors.
/// One operation_timer used once: for a sequence of operations, keep an operation_timer instead.
template <class MakeOp>
std::invoke_result_t<MakeOp&, decltype(use_nothrow)> timed(MakeOp make_op, seconds_d limit) {
  operation_timer timer;
  co_return co_await timer.run(std::move(make_op), limit);
}

/// True once the calling coroutine has been cancelled (e.g. its client went away). A cancelled coroutine
/// must start no new work: operations started after the cancellation are not interrupted by it.
net::awaitable<bool> cancelled();

/// Sleeps for `d`; returns early (false) when the coroutine is cancelled.
net::awaitable<bool> sleep_for(seconds_d d);

}  // namespace pd_proxy
