#include "pd_proxy/net/health/metrics_scraper.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

#include "pd_proxy/core/http/http_wire.hpp"
#include "pd_proxy/core/time/deadline.hpp"
#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy {
namespace {

using clock = std::chrono::steady_clock;

// The path every engine serves its metrics on (vLLM, SGLang, pd-mock).
constexpr std::string_view metrics_path = "/metrics";
// The loop looks at the registry at least this often, so a backend added at run time waits no longer.
constexpr std::chrono::seconds resync_period{1};

// Scrapes due within this much of now start together: one wake-up of the loop per batch, not per scrape. A
// tenth of the interval, at most 100 ms (as the health checker's batches).
clock::duration batch_slack(seconds_d interval) {
  return std::min<clock::duration>(to_timer_duration(interval) / 10, std::chrono::milliseconds(100));
}

std::vector<backend_id> ids_of(const backend_set& set) {
  std::vector<backend_id> ids;
  ids.reserve(set.prefillers.size() + set.decoders.size());
  for (const auto* pool : {&set.prefillers, &set.decoders})
    for (const auto& b : *pool) ids.push_back(b->id());
  return ids;
}

}  // namespace

metrics_scraper::metrics_scraper(metrics_scrape_sources sources, net::any_io_executor executor)
    : sources_(std::move(sources)),
      executor_(std::move(executor)),
      schedule_(to_timer_duration(sources_.startup.metrics_scrape_interval), max_concurrent_scrapes,
                static_cast<std::uint64_t>(clock::now().time_since_epoch().count())),
      slack_(batch_slack(sources_.startup.metrics_scrape_interval)) {}

seconds_d metrics_scraper::scrape_timeout(const proxy_config& config) {
  seconds_d limit = config.metrics_scrape_interval;
  if (config.health_check_timeout.count() > 0) limit = std::min(limit, config.health_check_timeout);
  return limit;
}

void metrics_scraper::start() {
  net::co_spawn(executor_, run(), net::detached);
}

void metrics_scraper::stop() {
  stopped_.store(true);
  net::post(executor_, [this] {
    if (wake_ != nullptr) wake_->cancel();
  });
}

void metrics_scraper::wake() {
  wake_pending_ = true;
  if (wake_ != nullptr) wake_->cancel();
}

net::awaitable<void> metrics_scraper::run() {
  std::shared_ptr<const backend_set> set;
  // One probe (and kept connection) per backend of `set`; a scrape in flight holds its probe too.
  std::unordered_map<backend_id, std::shared_ptr<metrics_probe>> probes;
  net::steady_timer timer(executor_);
  wake_ = &timer;
  std::shared_ptr<const proxy_config> built_for;  // the configuration the probes' requests were built from
  while (!stopped_.load()) {
    const auto now = clock::now();
    const auto config = sources_.current_config();  // the key and the timeout are reloadable
    if (built_for != nullptr && config->backend_api_key != built_for->backend_api_key) {
      for (auto& [id, probe] : probes) probe->close();
      probes.clear();  // rebuilt below with the new request
      set = nullptr;
    }
    built_for = config;
    auto current = sources_.backends.snapshot();
    if (current != set) {
      set = std::move(current);
      sync_probes(*set, *config, probes);
      schedule_.sync(ids_of(*set), now);
      probe_at_slot_.assign(schedule_.slot_count(), nullptr);
      for (const auto& [id, probe] : probes) {
        // sync_probes and schedule_.sync were given the same ids, so every probe has a slot.
        if (const auto slot = schedule_.slot_of(id)) probe_at_slot_[*slot] = probe.get();
      }
    }
    timeout_ = scrape_timeout(*config);
    start_due(now);
    if (wake_pending_) {
      wake_pending_ = false;
      continue;
    }
    // With the concurrency bound reached, a due scrape waits for finished() to make room, not for the timer.
    const bool full = schedule_.in_flight() >= max_concurrent_scrapes;
    wake_at_ = std::min(full ? clock::time_point::max() : schedule_.next_due(), now + resync_period);
    timer.expires_at(wake_at_);
    co_await timer.async_wait(use_nothrow);
    wake_pending_ = false;
  }
  wake_ = nullptr;
  probe_at_slot_.clear();
  for (const running_scrape& r : in_flight_) r.probe->close();  // their scrapes end now, unreported
}

void metrics_scraper::start_due(clock::time_point now) {
  const auto deadline = deadline_after<clock>(timeout_, now);
  while (auto check = schedule_.take_due(now + slack_)) {
    metrics_probe* probe = check->slot < probe_at_slot_.size() ? probe_at_slot_[check->slot] : nullptr;
    if (probe == nullptr) {  // unreachable: every backend of the schedule has a probe
      schedule_.finished(*check, now, /*healthy=*/true);
      continue;
    }
    in_flight_.push_back({probe, *check, probe->failing()});
    net::co_spawn(executor_, scrape(probe->shared_from_this(), deadline), net::detached);
  }
}

net::awaitable<void> metrics_scraper::scrape(std::shared_ptr<metrics_probe> probe,
                                             clock::time_point deadline) {
  std::unique_ptr<scrape_buffers> buffers;
  if (spare_buffers_.empty()) {
    buffers = std::make_unique<scrape_buffers>();
  } else {
    buffers = std::move(spare_buffers_.back());
    spare_buffers_.pop_back();
  }
  const scrape_outcome outcome = co_await probe->scrape(deadline, *buffers);
  spare_buffers_.push_back(std::move(buffers));
  finished(*probe, outcome);
}

void metrics_scraper::sync_probes(const backend_set& set, const proxy_config& config,
                                  std::unordered_map<backend_id, std::shared_ptr<metrics_probe>>& probes) {
  std::unordered_map<backend_id, std::shared_ptr<metrics_probe>> next;
  for (const auto* pool : {&set.prefillers, &set.decoders}) {
    for (const auto& b : *pool) {
      const auto found = probes.find(b->id());
      if (found != probes.end()) {
        next.emplace(b->id(), std::move(found->second));
        continue;
      }
      std::string request = format_backend_request_head({.method = "GET",
                                                         .target = metrics_path,
                                                         .authority = b->authority(),
                                                         .request_id = {},
                                                         .api_key = config.backend_api_key,
                                                         .content_length = std::nullopt});
      next.emplace(b->id(), std::make_shared<metrics_probe>(executor_, b, std::move(request)));
    }
  }
  for (auto& [id, probe] : probes) {
    if (probe == nullptr) continue;
    probe->close();  // its backend left; a scrape in flight on it ends now, unreported
    sources_.reports.forget(id);
  }
  probes = std::move(next);
}

void metrics_scraper::finished(metrics_probe& probe, const scrape_outcome& outcome) {
  const auto running = std::find_if(in_flight_.begin(), in_flight_.end(),
                                    [&](const running_scrape& r) { return r.probe == &probe; });
  if (running == in_flight_.end()) return;  // unreachable: each scrape is reported once
  const check_schedule::due_check check = running->check;
  const bool was_failing = running->was_failing;
  *running = in_flight_.back();
  in_flight_.pop_back();
  const auto now = clock::now();
  // Every interval whatever the result: a failed scrape costs the policies nothing but the engine's view.
  schedule_.finished(check, now, /*healthy=*/true);
  if (!stopped_.load() && !probe.closed()) {
    const backend& target = *probe.target();
    if (outcome.load) {
      engine_load load = *outcome.load;
      load.read_at = now;
      sources_.sched.report_load(target.id(), load);
      sources_.reports.scraped(target.id(), load);
    } else {
      sources_.sched.report_load(target.id(), engine_load{.known = false, .read_at = now});
      sources_.reports.failed(target.id());
    }
    log_change(target, was_failing, outcome);
  }
  if (wake_ == nullptr) return;
  // A scrape held back by the concurrency bound starts here, in the room this one made, not in the loop.
  start_due(now);
  const bool full = schedule_.in_flight() >= max_concurrent_scrapes;
  if (!full && schedule_.next_due() < wake_at_) wake();  // else it wakes in time
}

void metrics_scraper::log_change(const backend& target, bool was_failing, const scrape_outcome& outcome) {
  const bool failing = !outcome.load.has_value();
  if (failing == was_failing) return;
  if (failing) {
    spdlog::info(
        "{} {}: cannot read its engine's load from {} ({}); scheduling counts only this proxy's "
        "requests on it until it can",
        to_string(target.role()), target.authority(), metrics_path, outcome.reason);
  } else {
    spdlog::info("{} {}: its engine's load is read from {} again", to_string(target.role()),
                 target.authority(), metrics_path);
  }
}

}  // namespace pd_proxy
