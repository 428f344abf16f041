// Active health checks: GET --health-check-path on every backend, results fed to the scheduler.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "pd_proxy/core/backends/registry.hpp"
#include "pd_proxy/core/config/config.hpp"
#include "pd_proxy/core/health/check_schedule.hpp"
#include "pd_proxy/core/scheduling/scheduler.hpp"
#include "pd_proxy/net/health/health_probe.hpp"

namespace pd_proxy {

/// What the checker uses; the references outlive it (proxy_state owns them).
struct health_check_sources {
  const backend_registry& backends;  // the backends to check
  scheduler& sched;                  // gets each result
  const proxy_config& startup;       // --health-check-interval (not reloadable)
  // The configuration in force on the checker's thread: the path, the key and the timeout are reloadable.
  std::function<std::shared_ptr<const proxy_config>()> current_config;
};

/// Checks every registered backend (a backend added at run time is checked at once) every
/// --health-check-interval, jittered (a backend not yet healthy sooner: recheck_delay, so that an engine
/// that comes up a moment after the proxy is routable a moment later), with at most `max_concurrent_checks`
/// checks in flight and one keep-alive connection per backend of its own (health_probe). A check passes on a
/// response head below 500 within --health-check-timeout (a 404 means the server is up without that path; the
/// body is read only to keep the connection); a refused or reset connection, a timeout or a 5xx fails. The
/// loop enforces the checks' deadlines itself: it wakes for the earliest one, so a check needs no timer. Each
/// result goes to scheduler::check_result, which flips the backend after --healthy-threshold /
/// --unhealthy-threshold results in a row.
///
/// Runs on one executor of a single-threaded io_context. start() and stop() may be called from any thread;
/// the checker must outlive the io_context's destruction (the check coroutines in it refer to it). The
/// probes and their sockets live in the coroutine frames, so they go with the io_context.
class health_checker {
 public:
  static constexpr std::size_t max_concurrent_checks = 64;

  health_checker(health_check_sources sources, net::any_io_executor executor);
  health_checker(const health_checker&) = delete;
  health_checker& operator=(const health_checker&) = delete;

  /// Starts checking (the first round begins at once).
  void start();
  /// Waits until every backend registered at start() got its first result, for at most `limit`. Returns
  /// whether they all did. Call from a thread other than the executor's.
  bool wait_first_round(seconds_d limit);
  /// Stops checking: the checks in flight end at once, unreported.
  void stop();

 private:
  net::awaitable<void> run();
  /// A probe's check ended: report it to the scheduler and start the due checks the concurrency bound allows.
  void finished(health_probe& probe, const check_outcome& outcome);
  /// Starts the checks due by now + slack_ that the concurrency bound allows, each to end within
  /// check_timeout_; returns their deadline (max() when none started). Only while the loop runs.
  check_schedule::clock::time_point start_due(check_schedule::clock::time_point now);
  /// Keeps one probe per backend of `set`: new backends get one, those that left are closed and dropped.
  void sync_probes(const backend_set& set, const proxy_config& config,
                   std::unordered_map<backend_id, std::shared_ptr<health_probe>>& probes);
  /// Logs a backend that became usable or unhealthy.
  void log_change(const backend& target, const check_effect& effect, const std::string& reason);
  void wake();
  void first_result(backend_id id);

  health_check_sources sources_;
  net::any_io_executor executor_;
  check_schedule schedule_;
  struct running_check {
    health_probe* probe;  // held by its handlers while the check runs
    check_schedule::due_check check;
  };
  std::vector<running_check> in_flight_;
  // The probe of each slot of schedule_ (null for a slot no backend holds), rebuilt on every sync; the probes
  // themselves are owned by the loop's frame.
  std::vector<health_probe*> probe_at_slot_;
  // The loop's timer and the probes live in the loop's coroutine frame, not here: I/O objects must go with
  // the io_context (whose destruction destroys the frame), and the checker outlives it. Null while the loop
  // is not running.
  net::steady_timer* wake_ = nullptr;
  seconds_d check_timeout_{};                    // --health-check-timeout as the loop last read it
  bool wake_pending_ = false;                    // a check ended while the loop was not waiting
  check_schedule::clock::time_point wake_at_{};  // when the waiting loop wakes by itself
  const check_schedule::clock::duration slack_;  // checks due this close together start together
  std::atomic<bool> stopped_{false};
  std::unordered_set<backend_id> first_round_;  // backends of the first round still without a result
  std::promise<void> first_round_done_;
  bool first_round_reported_ = false;
};

}  // namespace pd_proxy
