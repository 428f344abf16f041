// Engine load: GET /metrics on every backend, the engines' own queues handed to the scheduler's policies.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "pd_proxy/core/backends/registry.hpp"
#include "pd_proxy/core/config/config.hpp"
#include "pd_proxy/core/health/check_schedule.hpp"
#include "pd_proxy/core/observe/engine_reports.hpp"
#include "pd_proxy/core/scheduling/scheduler.hpp"
#include "pd_proxy/net/health/metrics_probe.hpp"

namespace pd_proxy {

/// What the scraper uses; the references outlive it (proxy_state owns them).
struct metrics_scrape_sources {
  const backend_registry& backends;  // the backends to scrape
  scheduler& sched;                  // gets each load (scheduler::report_load)
  engine_reports& reports;           // gets each result too, for the proxy's /metrics
  const proxy_config& startup;       // --metrics-scrape-interval (not reloadable)
  // The configuration in force on the scraper's thread: the backend key and --health-check-timeout (which
  // bounds a scrape) are reloadable.
  std::function<std::shared_ptr<const proxy_config>()> current_config;
};

/// Reads every registered backend's GET /metrics (both roles; a backend added at run time at once, one that
/// left is dropped) every --metrics-scrape-interval, jittered by up to ±10 % per backend (check_schedule),
/// with at most `max_concurrent_scrapes` in flight and one keep-alive connection per backend of its own
/// (metrics_probe). A scrape must end within scrape_timeout(): min(interval, --health-check-timeout). Each
/// success goes to scheduler::report_load with read_at = the time it ended; each failure (connect error,
/// timeout, an answer that is not 200, larger than 1 MiB or not a vLLM metrics text) as engine_load{.known =
/// false}, so that the policies fall back to this proxy's own accounting until the next success. A backend's
/// scrapes going from success to failure and back are logged once per change.
///
/// Runs on one executor of a single-threaded io_context. start() and stop() may be called from any thread;
/// the scraper must outlive the io_context's destruction (the scrape coroutines in it refer to it). The
/// probes and their sockets live in the coroutine frames, so they go with the io_context.
class metrics_scraper {
 public:
  static constexpr std::size_t max_concurrent_scrapes = 64;

  metrics_scraper(metrics_scrape_sources sources, net::any_io_executor executor);
  metrics_scraper(const metrics_scraper&) = delete;
  metrics_scraper& operator=(const metrics_scraper&) = delete;

  /// The limit of one scrape under `config`: its --metrics-scrape-interval (a scrape slower than that would
  /// run into the next), and not more than its --health-check-timeout when that is set (an engine that slow
  /// fails its health checks too).
  static seconds_d scrape_timeout(const proxy_config& config);

  /// Starts scraping (the first round begins at once).
  void start();
  /// Stops scraping: the scrapes in flight end at once, unreported.
  void stop();

 private:
  struct running_scrape {
    metrics_probe* probe;  // held by its scrape coroutine
    check_schedule::due_check check;
    bool was_failing;  // the probe's failing() before this scrape
  };

  net::awaitable<void> run();
  /// One scrape of `probe` by `deadline` into a spare set of buffers, then finished(). `probe` is held until
  /// it ends.
  net::awaitable<void> scrape(std::shared_ptr<metrics_probe> probe,
                              check_schedule::clock::time_point deadline);
  /// A scrape ended: report it and start the due scrapes the concurrency bound allows.
  void finished(metrics_probe& probe, const scrape_outcome& outcome);
  /// Logs a backend whose scrapes started failing or work again.
  static void log_change(const backend& target, bool was_failing, const scrape_outcome& outcome);
  /// Starts the scrapes due by now + slack_ that the concurrency bound allows. Only while the loop runs.
  void start_due(check_schedule::clock::time_point now);
  /// Keeps one probe per backend of `set`: new backends get one, those that left are closed and dropped.
  void sync_probes(const backend_set& set, const proxy_config& config,
                   std::unordered_map<backend_id, std::shared_ptr<metrics_probe>>& probes);
  void wake();

  metrics_scrape_sources sources_;
  net::any_io_executor executor_;
  check_schedule schedule_;
  std::vector<running_scrape> in_flight_;
  // The probe of each slot of schedule_ (null for a slot no backend holds), rebuilt on every sync; the probes
  // themselves are owned by the loop's frame and by the scrapes in flight.
  std::vector<metrics_probe*> probe_at_slot_;
  // Buffers of scrapes that ended, for the next ones: at most max_concurrent_scrapes sets ever exist (plain
  // memory, no I/O object: they may outlive the io_context).
  std::vector<std::unique_ptr<scrape_buffers>> spare_buffers_;
  // The loop's timer lives in its coroutine frame (I/O objects go with the io_context). Null while the loop
  // is not running.
  net::steady_timer* wake_ = nullptr;
  seconds_d timeout_{};                          // scrape_timeout() as the loop last read it
  bool wake_pending_ = false;                    // a scrape ended while the loop was not waiting
  check_schedule::clock::time_point wake_at_{};  // when the waiting loop wakes by itself
  const check_schedule::clock::duration slack_;  // scrapes due this close together start together
  std::atomic<bool> stopped_{false};
};

}  // namespace pd_proxy
