// Runs a bounded number of coroutines at a time over a list, and waits for all of them.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "pd_proxy/net/net.hpp"
#include "pd_proxy/net/timed.hpp"

namespace pd_proxy {

/// Awaits `task(i)` for every i in [0, n), at most `width` at once, on the calling coroutine's executor;
/// returns when every one has ended. Each task must bound its own time (every I/O has a timeout). If the
/// io_context is destroyed meanwhile the frames go with it; `task` is kept alive by the running tasks.
inline net::awaitable<void> for_each_concurrently(std::size_t n, std::size_t width,
                                                  std::function<net::awaitable<void>(std::size_t)> task) {
  struct shared {
    explicit shared(const net::any_io_executor& executor) : done(executor) {}
    net::steady_timer done;  // cancelled when the last task ends
    std::function<net::awaitable<void>(std::size_t)> task;
    std::size_t n = 0;
    std::size_t next = 0;
    std::size_t running = 0;
  };
  if (n == 0) co_return;
  auto state = std::make_shared<shared>(co_await net::this_coro::executor);
  state->task = std::move(task);
  state->n = n;
  const auto lane = [](std::shared_ptr<shared> s) -> net::awaitable<void> {
    while (s->next < s->n) {
      const std::size_t i = s->next++;
      co_await s->task(i);
    }
    if (--s->running == 0) s->done.cancel();
  };
  const std::size_t lanes = width < n ? (width == 0 ? 1 : width) : n;
  state->running = lanes;
  for (std::size_t i = 0; i < lanes; ++i)
    net::co_spawn(state->done.get_executor(), lane(state), net::detached);
  while (state->running > 0) {
    state->done.expires_at(net::steady_timer::time_point::max());
    co_await state->done.async_wait(use_nothrow);
  }
}

}  // namespace pd_proxy
