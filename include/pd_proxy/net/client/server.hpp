// The proxy server: listeners, worker threads (one io_context each) and orderly shutdown.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "pd_proxy/net/backend/connection_pool.hpp"
#include "pd_proxy/net/health/health_checker.hpp"
#include "pd_proxy/net/health/metrics_scraper.hpp"
#include "pd_proxy/net/pools/dns_discovery.hpp"
#include "pd_proxy/net/pools/instance_probe.hpp"
#include "pd_proxy/net/proxy_state.hpp"

namespace pd_proxy {

/// Runs `config.workers` threads, each with its own io_context and backend connection pool; client
/// connections are accepted on worker 0 and handed out round-robin. The scheduler and counters are shared.
class server {
 public:
  /// Resolves `config.host` and binds every address it resolves to (only the first when `port` is 0).
  /// Throws std::system_error when nothing can be bound: start-up is the one place that throws.
  explicit server(proxy_config config);
  /// Stops at once if stop() was not called: in-flight requests are cut.
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// The first bound address (with the real port when 0 was asked for).
  tcp::endpoint local_endpoint() const;
  std::vector<tcp::endpoint> local_endpoints() const;

  proxy_state& state() { return *state_; }
  /// The executor of the first worker, where the background tasks (checks, probes, DNS) run. Precondition:
  /// start() was called and stop() was not.
  net::any_io_executor background_executor();

  /// The resolver of DNS discovery (--prefiller-dns/--decoder-dns); call before start(). Default: Asio's.
  void set_dns_resolver(std::shared_ptr<dns_resolver> resolver) { resolver_ = std::move(resolver); }

  /// Starts the worker threads, the health checks and the metrics scraper, waits for the first round of
  /// checks (at most
  /// --health-check-timeout: a backend that answers at once is routable for the first request), then starts
  /// accepting (clients that connect meanwhile wait in the listen backlog).
  void start();

  /// Drains, then stops the workers and joins them, in three steps. (1) Stops taking new requests: the
  /// listeners close, and a request on an open connection gets 503 "proxy shutting down" and its connection
  /// closes. (2) Waits for in-flight PD requests to finish, for at most `drain` (zero: no limit) or until
  /// hurry(); requests still in flight then end with "proxy shutting down" (an SSE error event once their
  /// stream started), given up to 2 s to write it. (3) Cancels every client connection left (idle keep-alive
  /// connections close cleanly) and waits up to 1 s for them to end; whatever is left then is cut.
  /// Idempotent. Call from any thread but a worker's.
  void stop(seconds_d drain);

  /// Makes `next` the configuration of requests that start from now on (proxy_state::current_config): posted
  /// to every worker and waited for (at most 5 s each). Requests in flight keep theirs. Settings that cannot
  /// change at run time must be the running ones (plan_reload makes it so). Call from any thread but a
  /// worker's, after start().
  void install_config(std::shared_ptr<const proxy_config> next);

  /// Ends a drain now, as if its deadline had passed (a second SIGTERM/SIGINT). Thread-safe; call while
  /// another thread is in stop(), or before it.
  void hurry();

 private:
  struct worker;
  net::awaitable<void> accept_loop(tcp::acceptor& acceptor);
  /// stop(drain) when `drain_requests`; else stops at once, cutting whatever is in flight (the destructor).
  void shutdown(bool drain_requests, seconds_d drain);
  /// Step 1 of a drain: closes the listeners (on worker 0, which runs the accept loops).
  void close_acceptors();
  /// Step 2: waits for in-flight requests up to `drain` or hurry(), then stops them with `stop_grace`.
  void finish_requests(seconds_d drain);
  /// Step 3: cancels every worker's client connections and waits for them up to `cancel_grace`.
  void end_connections();
  /// Waits until no PD request is in flight (true), or until `deadline` or hurry() (false).
  bool wait_for_requests(std::chrono::steady_clock::time_point deadline);

  static constexpr std::chrono::seconds stop_grace{2};
  static constexpr seconds_d cancel_grace{1.0};

  std::unique_ptr<proxy_state> state_;
  std::unique_ptr<health_checker> checker_;  // runs on worker 0; null when --health-check-interval is 0
  // Reads the engines' /metrics for the policies; runs on worker 0; null when --metrics-scrape-interval is 0.
  std::unique_ptr<metrics_scraper> scraper_;
  // Retries probes of waiting instances; runs on worker 0.
  std::unique_ptr<pool_prober> prober_;
  // DNS discovery, on worker 0; null without --prefiller-dns/--decoder-dns.
  std::unique_ptr<dns_discovery> discovery_;
  std::shared_ptr<dns_resolver> resolver_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  std::size_t next_worker_ = 0;
  bool started_ = false;
  bool stopped_ = false;
  std::atomic<bool> hurry_{false};
};

}  // namespace pd_proxy
