#include "pd_proxy/net/health/health_checker.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

#include "pd_proxy/core/http/http_wire.hpp"
#include "pd_proxy/core/time/deadline.hpp"
#include "pd_proxy/net/health/backend_rounds.hpp"
#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy {
namespace {

using clock = std::chrono::steady_clock;

}  // namespace

health_checker::health_checker(health_check_sources sources, net::any_io_executor executor)
    : sources_(std::move(sources)),
      executor_(std::move(executor)),
      schedule_(to_timer_duration(sources_.startup.health_check_interval), max_concurrent_checks,
                static_cast<std::uint64_t>(clock::now().time_since_epoch().count())),
      slack_(batch_slack(sources_.startup.health_check_interval)) {}

void health_checker::start() {
  const auto set = sources_.backends.snapshot();
  for (const backend_id id : backend_ids_of(*set)) first_round_.insert(id);
  if (first_round_.empty()) {
    first_round_reported_ = true;
    first_round_done_.set_value();
  }
  net::co_spawn(executor_, run(), net::detached);
}

bool health_checker::wait_first_round(seconds_d limit) {
  auto done = first_round_done_.get_future();
  return done.wait_for(to_timer_duration(limit)) == std::future_status::ready;
}

void health_checker::stop() {
  stopped_.store(true);
  net::post(executor_, [this] {
    if (wake_ != nullptr) wake_->cancel();
  });
}

void health_checker::wake() {
  wake_pending_ = true;
  if (wake_ != nullptr) wake_->cancel();
}

net::awaitable<void> health_checker::run() {
  std::shared_ptr<const backend_set> set;
  // One probe (and kept connection) per backend of `set`; a check in flight holds its probe too.
  std::unordered_map<backend_id, std::shared_ptr<health_probe>> probes;
  net::steady_timer timer(executor_);
  wake_ = &timer;
  std::shared_ptr<const proxy_config> built_for;  // the configuration the probes' requests were built from
  while (!stopped_.load()) {
    const auto now = clock::now();
    const auto config = sources_.current_config();  // the path, the key and the timeout are reloadable
    if (built_for != nullptr && (config->health_check_path != built_for->health_check_path ||
                                 config->backend_api_key != built_for->backend_api_key)) {
      for (auto& [id, probe] : probes) probe->close();
      probes.clear();  // rebuilt below with the new request
      set = nullptr;
    }
    built_for = config;
    auto current = sources_.backends.snapshot();
    if (current != set) {
      set = std::move(current);
      sync_probes(*set, *config, probes);
      schedule_.sync(backend_ids_of(*set), now);
      probe_at_slot_.assign(schedule_.slot_count(), nullptr);
      for (const auto& [id, probe] : probes) {
        // sync_probes and schedule_.sync were given the same ids, so every probe has a slot.
        if (const auto slot = schedule_.slot_of(id)) probe_at_slot_[*slot] = probe.get();
      }
    }
    for (const running_check& r : in_flight_) {
      if (r.probe->deadline() <= now) r.probe->expire();
    }
    check_timeout_ = config->health_check_timeout;
    start_due(now);
    if (wake_pending_) {
      wake_pending_ = false;
      continue;
    }
    // With the concurrency bound reached, a due check waits for finished() to make room, not for the timer.
    const bool full = schedule_.in_flight() >= max_concurrent_checks;
    wake_at_ = std::min(full ? clock::time_point::max() : schedule_.next_due(), now + backend_resync_period);
    for (const running_check& r : in_flight_) wake_at_ = std::min(wake_at_, r.probe->deadline());
    timer.expires_at(wake_at_);
    co_await timer.async_wait(use_nothrow);
    wake_pending_ = false;
  }
  wake_ = nullptr;
  probe_at_slot_.clear();
  for (const running_check& r : in_flight_) r.probe->close();  // their checks end now, unreported
}

clock::time_point health_checker::start_due(clock::time_point now) {
  const auto deadline = deadline_after<clock>(check_timeout_, now);
  auto earliest = clock::time_point::max();
  while (auto check = schedule_.take_due(now + slack_)) {
    health_probe* probe = check->slot < probe_at_slot_.size() ? probe_at_slot_[check->slot] : nullptr;
    if (probe == nullptr) {  // unreachable: every backend of the schedule has a probe
      schedule_.finished(*check, now, /*healthy=*/true);
      continue;
    }
    in_flight_.push_back({probe, *check});
    probe->start(deadline);
    earliest = deadline;
  }
  return earliest;
}

void health_checker::sync_probes(const backend_set& set, const proxy_config& config,
                                 std::unordered_map<backend_id, std::shared_ptr<health_probe>>& probes) {
  std::unordered_map<backend_id, std::shared_ptr<health_probe>> next;
  for (const auto* pool : {&set.prefillers, &set.decoders}) {
    for (const auto& b : *pool) {
      const auto found = probes.find(b->id());
      if (found != probes.end()) {
        next.emplace(b->id(), std::move(found->second));
        continue;
      }
      std::string request = format_backend_request_head({.method = "GET",
                                                         .target = config.health_check_path,
                                                         .authority = b->authority(),
                                                         .request_id = {},
                                                         .api_key = config.backend_api_key,
                                                         .content_length = std::nullopt});
      next.emplace(b->id(),
                   std::make_shared<health_probe>(
                       executor_, b, std::move(request),
                       [this](health_probe& probe, check_outcome outcome) { finished(probe, outcome); }));
    }
  }
  for (auto& [id, probe] : probes) {
    if (probe != nullptr) probe->close();  // its backend left; a check in flight on it ends now
  }
  probes = std::move(next);
}

void health_checker::finished(health_probe& probe, const check_outcome& outcome) {
  const auto running = std::find_if(in_flight_.begin(), in_flight_.end(),
                                    [&](const running_check& r) { return r.probe == &probe; });
  if (running == in_flight_.end()) return;  // unreachable: each start() is reported once
  const check_schedule::due_check check = running->check;
  *running = in_flight_.back();
  in_flight_.pop_back();
  if (stopped_.load()) return;
  backend& target = *probe.target();
  const check_effect effect = sources_.sched.check_result(target, outcome.passed);
  log_change(target, effect, outcome.reason);
  first_result(target.id());
  const auto now = clock::now();
  schedule_.finished(check, now, effect.healthy);
  // A check held back by the concurrency bound starts here, in the room this one made, not in the loop: a
  // batch larger than the bound costs no wake-up of the loop per check.
  const auto started_deadline = wake_ != nullptr ? start_due(now) : clock::time_point::max();
  const bool full = schedule_.in_flight() >= max_concurrent_checks;
  if (started_deadline < wake_at_ || (!full && schedule_.next_due() < wake_at_))
    wake();  // else it wakes in time
}

void health_checker::log_change(const backend& target, const check_effect& effect,
                                const std::string& reason) {
  if (!effect.candidate || effect.usable == effect.was_usable) return;
  if (effect.usable) {
    spdlog::info("{} {} is healthy: it answered its health check", to_string(target.role()),
                 target.authority());
  } else if (!effect.healthy) {
    spdlog::warn("{} {} is unhealthy: health check failed ({})", to_string(target.role()), target.authority(),
                 reason);
  }
}

void health_checker::first_result(backend_id id) {
  if (first_round_reported_) return;
  first_round_.erase(id);
  if (!first_round_.empty()) return;
  first_round_reported_ = true;
  first_round_done_.set_value();
}

}  // namespace pd_proxy
