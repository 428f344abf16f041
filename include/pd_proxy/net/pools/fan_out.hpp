// Runs a bounded number of coroutines at a time over a list, and waits for all of them.
#pragma once

#include <cstddef>
#include <functional>

#include "pd_proxy/net/net.hpp"

namespace pd_proxy {

/// Awaits `task(i)` for every i in [0, n), at most `width` at once, on the calling coroutine's executor;
/// returns when every one has ended. Each task must bound its own time (every I/O has a timeout). If the
/// io_context is destroyed meanwhile the frames go with it; `task` is kept alive by the running tasks.
net::awaitable<void> for_each_concurrently(std::size_t n, std::size_t width,
                                           std::function<net::awaitable<void>(std::size_t)> task);

}  // namespace pd_proxy
