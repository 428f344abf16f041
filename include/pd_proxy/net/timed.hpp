// Timeouts and cancellation checks for coroutine I/O.
#pragma once

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <chrono>
#include <tuple>
#include <variant>

#include "pd_proxy/core/config.hpp"
#include "pd_proxy/net/net.hpp"

namespace pd_proxy {

/// Converts a configured duration to a timer duration; zero means "no limit".
std::chrono::steady_clock::duration to_timer_duration(seconds_d limit);

/// Awaits `op` (an awaitable returning `std::tuple<error_code, T...>`), racing it against `limit`.
/// When the limit passes first, `op` is cancelled and the result's error code is beast::error::timeout.
/// A zero limit awaits `op` alone. Never throws on I/O errors.
template <class... T>
net::awaitable<std::tuple<error_code, T...>> timed(net::awaitable<std::tuple<error_code, T...>> op,
                                                   seconds_d limit) {
  using namespace net::experimental::awaitable_operators;
  if (limit.count() <= 0) co_return co_await std::move(op);
  net::steady_timer timer(co_await net::this_coro::executor, to_timer_duration(limit));
  auto result = co_await (std::move(op) || timer.async_wait(use_nothrow));
  if (result.index() == 0) co_return std::get<0>(std::move(result));
  std::tuple<error_code, T...> timed_out{};
  std::get<0>(timed_out) = beast::error::timeout;
  co_return timed_out;
}

/// True once the calling coroutine has been cancelled (e.g. its client went away). A cancelled coroutine
/// must start no new work: operations started after the cancellation are not interrupted by it.
net::awaitable<bool> cancelled();

/// Sleeps for `d`; returns early (false) when the coroutine is cancelled.
net::awaitable<bool> sleep_for(seconds_d d);

}  // namespace pd_proxy
