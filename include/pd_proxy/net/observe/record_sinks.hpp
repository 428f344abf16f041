// Where a finished request's record goes: the calling thread's metrics shard and the access log. What the
// request observer and the refusals use, instead of the whole proxy_state.
#pragma once

#include "pd_proxy/core/observe/metrics_shard.hpp"
#include "pd_proxy/net/observe/access_log.hpp"

namespace pd_proxy {

/// References to the process's metrics and access log; both outlive every request (proxy_state owns them).
struct record_sinks {
  proxy_metrics& metrics;
  access_log& access;

  /// Counts `record` on the calling thread's shard, then queues its access-log line.
  void finish(request_record&& record) const {
    metrics.local().record(record);
    access.write(std::move(record));
  }
};

}  // namespace pd_proxy
