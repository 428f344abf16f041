// GET /metrics: the proxy's metrics in the Prometheus text exposition format 0.0.4, built at scrape time from
// the per-thread shards (core/observe/metrics_shard), the shared gauges and /proc/self, and serialised by
// prometheus-cpp's TextSerializer (its core library only: the route is served by our own server).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pd_proxy/core/admission/inflight_limit.hpp"
#include "pd_proxy/core/backends/registry.hpp"
#include "pd_proxy/core/observe/engine_reports.hpp"
#include "pd_proxy/core/observe/metrics_shard.hpp"
#include "pd_proxy/core/scheduling/scheduler.hpp"
#include "pd_proxy/net/observe/access_log.hpp"

namespace pd_proxy {

/// The Content-Type of the exposition.
inline constexpr std::string_view metrics_content_type = "text/plain; version=0.0.4";

/// What the exposition reads: references to the process's metrics, backends, scheduler and gauges, which
/// outlive every scrape (proxy_state owns them).
struct metrics_sources {
  proxy_metrics& metrics;  // not const: a scrape forgets the error series of backends that are gone
  const backend_registry& backends;
  const scheduler& sched;
  const std::atomic<std::int64_t>& request_num;  // PD requests in flight
  const inflight_limit& admission;               // its queue
  const std::atomic<std::size_t>& client_connections;
  const access_log& access;
  const engine_reports& engines;  // the metrics scraper's counts and each engine's last load
};

/// One backend's gauges, as the scheduler sees it now.
struct backend_gauge {
  backend_role role = backend_role::prefill;
  std::string backend;         // host:port
  std::uint64_t inflight = 0;  // requests holding a reservation on it
  bool healthy = false;        // a new request may be routed to it (checks passed, breaker not open)
  std::optional<engine_load>
      engine;  // its engine's load at the last scrape of its /metrics, when that worked
};

/// Every current backend's gauges. The only place the metrics read the scheduler.
std::vector<backend_gauge> read_backend_gauges(const backend_registry& backends, const scheduler& sched,
                                               const engine_reports& engines);

/// Builds every metric family of `sources` when collected. Thread-safe (reads only).
class proxy_collector : public prometheus::Collectable {
 public:
  explicit proxy_collector(const metrics_sources& sources) : sources_(sources) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const metrics_sources& sources_;
};

/// The exposition text (newline-terminated) of `sources`' metrics. First forgets the backend error series of
/// backends that are gone (removed, and their last request ended), so pool churn does not grow it.
std::string render_metrics(const metrics_sources& sources);

}  // namespace pd_proxy
