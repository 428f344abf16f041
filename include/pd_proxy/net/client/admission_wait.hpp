// Waiting for a --max-inflight slot on a worker's executor.
#pragma once

#include <optional>

#include "pd_proxy/core/admission/inflight_limit.hpp"
#include "pd_proxy/core/config/config.hpp"
#include "pd_proxy/net/net.hpp"

namespace pd_proxy {

struct admission {
  enum class result { admitted, queue_full, timed_out, shutting_down, cancelled };
  result outcome = result::cancelled;
  std::optional<inflight_slot> slot;  // set when admitted
};

/// Takes a slot of `limit` at once, or waits for one in its FIFO queue for at most `timeout` (zero: no
/// limit). A wait cancelled by the caller (the client went away) leaves the queue at once and holds nothing.
/// shutting_down: the drain closed the queue (inflight_limit::close) while it waited, or before it could
/// queue.
net::awaitable<admission> wait_for_slot(inflight_limit& limit, seconds_d timeout);

}  // namespace pd_proxy
