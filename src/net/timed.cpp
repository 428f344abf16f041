#include "pd_proxy/net/timed.hpp"

namespace pd_proxy {

std::chrono::steady_clock::duration to_timer_duration(seconds_d limit) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(limit);
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
