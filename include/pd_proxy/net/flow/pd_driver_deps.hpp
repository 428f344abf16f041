// What a PD request's driver uses of the process: a narrow bundle, not the whole proxy_state.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "pd_proxy/core/config/config.hpp"
#include "pd_proxy/core/flow/protocols/registry.hpp"
#include "pd_proxy/core/observe/metrics_shard.hpp"
#include "pd_proxy/core/observe/proxy_counters.hpp"
#include "pd_proxy/core/scheduling/scheduler.hpp"

namespace pd_proxy {

class signal_board;

struct pd_driver_deps {
  scheduler& sched;                            // picks and holds the backends
  proxy_counters& counters;                    // process-wide counters
  metrics_shard& shard;                        // this worker's metrics (the request stays on its worker)
  std::atomic<std::int64_t>& in_flight;        // PD requests in flight (the reference's request_num)
  std::shared_ptr<const proxy_config> config;  // the request's snapshot (reloadable settings), to its end
  const pd_protocol& protocol;                 // --pd-protocol
  signal_board* signals = nullptr;             // call-backs (decoder-first's metaserver); null when none
};

}  // namespace pd_proxy
