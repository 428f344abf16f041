// GET /metrics: the proxy's metrics in the Prometheus text exposition format 0.0.4, built at scrape time from
// the per-thread shards (core/observe/metrics_shard), the shared gauges and /proc/self, and serialised by
// prometheus-cpp's TextSerializer (its core library only: the route is served by our own server).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <string>
#include <string_view>
#include <vector>

#include "pd_proxy/net/proxy_state.hpp"

namespace pd_proxy {

/// The Content-Type of the exposition.
inline constexpr std::string_view metrics_content_type = "text/plain; version=0.0.4";

/// One backend's gauges, as the scheduler sees it now.
struct backend_gauge {
  backend_role role = backend_role::prefill;
  std::string backend;         // host:port
  std::uint64_t inflight = 0;  // requests holding a reservation on it
  bool healthy = false;        // a new request may be routed to it (checks passed, breaker not open)
};

/// Every current backend's gauges. The only place the metrics read the scheduler.
std::vector<backend_gauge> read_backend_gauges(const proxy_state& state);

/// Builds every metric family of `state` when collected. Thread-safe (reads only).
class proxy_collector : public prometheus::Collectable {
 public:
  explicit proxy_collector(const proxy_state& state) : state_(state) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const proxy_state& state_;
};

/// The exposition text (newline-terminated) of `state`'s metrics. First forgets the backend error series of
/// backends that are gone (removed, and their last request ended), so pool churn does not grow it.
std::string render_metrics(proxy_state& state);

}  // namespace pd_proxy
