// What every worker shares: the configuration, the scheduler and the process-wide counters.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "pd_proxy/core/admission/body_budget.hpp"
#include "pd_proxy/core/admission/inflight_guard.hpp"
#include "pd_proxy/core/admission/inflight_limit.hpp"
#include "pd_proxy/core/backends/registry.hpp"
#include "pd_proxy/core/config/config.hpp"
#include "pd_proxy/core/flow/protocols/registry.hpp"
#include "pd_proxy/core/observe/engine_reports.hpp"
#include "pd_proxy/core/observe/metrics_shard.hpp"
#include "pd_proxy/core/observe/proxy_counters.hpp"
#include "pd_proxy/core/pools/pool_manager.hpp"
#include "pd_proxy/core/scheduling/scheduler.hpp"
#include "pd_proxy/net/flow/signal_board.hpp"
#include "pd_proxy/net/observe/record_sinks.hpp"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace pd_proxy {

/// Created once before the workers start and destroyed after they stop. Thread-safe.
struct proxy_state {
  /// Registers the configured pools, in pool order, and makes every backend a scheduling candidate.
  explicit proxy_state(proxy_config c);

  /// A new backend: registered and a scheduling candidate at once. Thread-safe.
  std::shared_ptr<backend> add_backend(backend_role role, backend_address address);
  /// Takes a backend out of the registry and of scheduling: no new request picks it; requests that hold it
  /// finish and release their load against it. False when no current backend has `id`. Thread-safe. (The
  /// workers' idle connections to it are not closed yet: connection_pool::forget is for run-time pools.)
  bool remove_backend(backend_id id);

  /// The configuration requests read: the one the server last installed on the calling thread (a reload
  /// posts it to each worker, see server::install_config), else `config`. No lock: a thread-local
  /// shared_ptr copied. A request keeps the one it started with, so a reload applies to new requests.
  std::shared_ptr<const proxy_config> current_config() const;
  /// Makes `next` what current_config() returns on the calling thread (call on a worker's thread).
  void install_config_on_this_thread(std::shared_ptr<const proxy_config> next) const;
  /// The last configuration installed (or `config`), for threads that are not workers (the reload, the
  /// drain).
  std::shared_ptr<const proxy_config> latest_config() const;
  void set_latest_config(std::shared_ptr<const proxy_config> next);
  /// Where finished requests' records go (`metrics` and `access`).
  record_sinks sinks() { return {metrics, *access}; }

  /// The start-up configuration: what cannot change at run time (listener, workers, limits) is read here.
  const proxy_config config;
  backend_registry backends;                 // the current backends (a snapshot per reader)
  scheduler sched;                           // their load and the policies that pick among them
  const pd_protocol& protocol;               // --pd-protocol (the CLI checked the name)
  std::atomic<std::int64_t> request_num{0};  // PD requests in flight (the reference's request_num)
  std::atomic<std::int64_t> other_requests{
      0};  // other requests that wait on backends (/v1/models), for the drain
  std::atomic<std::size_t> client_connections{0};
  body_budget bodies;                 // client request bodies held, bounded by --max-buffered-body-bytes
  inflight_limit admission;           // --max-inflight and its queue
  std::atomic<bool> draining{false};  // SIGTERM/SIGINT: no new request is served
  proxy_counters counters;
  // The listener's TLS context (--tls-cert/--tls-key); null for plain HTTP. Set before the workers start.
  std::shared_ptr<boost::asio::ssl::context> tls;
  proxy_metrics metrics;               // per-thread shards, summed by GET /metrics
  engine_reports engines;              // the metrics scraper's counts and each engine's last load read
  std::unique_ptr<access_log> access;  // --access-log (never null)
  // Run-time changes of the pools (/instances, DNS discovery): waiting and draining instances. Declared
  // after everything it refers to.
  pool_manager pools;
  // The call-back table and URL of a protocol that takes call-backs (decoder-first's metaserver); null
  // otherwise, and POST /v1/metaserver is then an unknown route.
  std::unique_ptr<signal_board> signals;

 private:
  mutable std::mutex latest_mutex_;
  std::shared_ptr<const proxy_config> latest_;  // null until a reload; under latest_mutex_
};

}  // namespace pd_proxy
