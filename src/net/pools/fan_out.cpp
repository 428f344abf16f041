#include "pd_proxy/net/pools/fan_out.hpp"

#include <memory>

#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy {

// Not inline in the header: GCC 12 at -O3 discards an inline coroutine's frame functions that another
// translation unit's copy still refers to, and the link fails.
net::awaitable<void> for_each_concurrently(std::size_t n, std::size_t width,
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
