// What the periodic per-backend tasks (the health checker, the metrics scraper) share: which backends a round
// covers and how their due times are batched.
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

#include "pd_proxy/core/backends/registry.hpp"
#include "pd_proxy/core/time/duration.hpp"
#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy {

/// A round's loop looks at the registry at least this often, so a backend added at run time waits no longer.
inline constexpr std::chrono::seconds backend_resync_period{1};

/// Tasks due within this much of now start together: one wake-up of the loop (and a few of epoll_wait) per
/// batch, not per task. A tenth of the interval, at most 100 ms: with the ±10 % jitter a backend is visited
/// every 0.8-1.1 intervals.
inline std::chrono::steady_clock::duration batch_slack(seconds_d interval) {
  return std::min<std::chrono::steady_clock::duration>(to_timer_duration(interval) / 10,
                                                       std::chrono::milliseconds(100));
}

/// The ids of every backend of `set`, prefillers first.
inline std::vector<backend_id> backend_ids_of(const backend_set& set) {
  std::vector<backend_id> ids;
  ids.reserve(set.prefillers.size() + set.decoders.size());
  for (const auto* pool : {&set.prefillers, &set.decoders})
    for (const auto& b : *pool) ids.push_back(b->id());
  return ids;
}

}  // namespace pd_proxy
