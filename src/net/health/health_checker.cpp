#include "pd_proxy/net/health/health_checker.hpp"

#include <spdlog/spdlog.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "pd_proxy/core/http/http_wire.hpp"
#include "pd_proxy/core/time/deadline.hpp"
#include "pd_proxy/net/timed.hpp"

namespace pd_proxy {
namespace {

using clock = std::chrono::steady_clock;

// The loop looks at the registry at least this often, so a backend added at run time waits no longer.
constexpr std::chrono::seconds resync_period{1};
// Checks due within this much of now start together: one wake-up of the loop per batch, not per check
// (a twentieth of the interval, at most 20 ms).
clock::duration batch_slack(seconds_d interval) {
  return std::min<clock::duration>(to_timer_duration(interval) / 20, std::chrono::milliseconds(20));
}

std::vector<backend_id> ids_of(const backend_set& set) {
  std::vector<backend_id> ids;
  ids.reserve(set.prefillers.size() + set.decoders.size());
  for (const auto* pool : {&set.prefillers, &set.decoders})
    for (const auto& b : *pool) ids.push_back(b->id());
  return ids;
}

}  // namespace

health_checker::health_checker(proxy_state& state, net::any_io_executor executor)
    : state_(state),
      executor_(std::move(executor)),
      schedule_(to_timer_duration(state.config.health_check_interval), max_concurrent_checks,
                static_cast<std::uint64_t>(clock::now().time_since_epoch().count())),
      slack_(batch_slack(state.config.health_check_interval)) {}

void health_checker::start() {
  const auto set = state_.backends.snapshot();
  for (const backend_id id : ids_of(*set)) first_round_.insert(id);
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
    const auto config = state_.current_config();  // the path, the key and the timeout are reloadable
    if (built_for != nullptr && (config->health_check_path != built_for->health_check_path ||
                                 config->backend_api_key != built_for->backend_api_key)) {
      for (auto& [id, probe] : probes) probe->close();
      probes.clear();  // rebuilt below with the new request
      set = nullptr;
    }
    built_for = config;
    auto current = state_.backends.snapshot();
    if (current != set) {
      set = std::move(current);
      sync_probes(*set, *config, probes);
      schedule_.sync(ids_of(*set), now);
    }
    for (health_probe* probe : in_flight_) {
      if (probe->deadline() <= now) probe->expire();
    }
    const auto check_deadline = deadline_after<clock>(config->health_check_timeout, now);
    while (auto id = schedule_.take_due(now + slack_)) {
      const auto found = probes.find(*id);
      if (found == probes.end()) {
        schedule_.finished(*id, now);
        continue;
      }
      in_flight_.push_back(found->second.get());
      found->second->start(check_deadline);
    }
    if (wake_pending_) {
      wake_pending_ = false;
      continue;
    }
    wake_at_ = std::min(schedule_.next_due(), now + resync_period);
    for (const health_probe* probe : in_flight_) wake_at_ = std::min(wake_at_, probe->deadline());
    timer.expires_at(wake_at_);
    co_await timer.async_wait(use_nothrow);
    wake_pending_ = false;
  }
  wake_ = nullptr;
  for (health_probe* probe : in_flight_) probe->close();  // their checks end now, unreported
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
  std::erase(in_flight_, &probe);
  if (stopped_.load()) return;
  const backend& target = *probe.target();
  const check_effect effect = state_.sched.check_result(target, outcome.passed);
  log_change(target, effect, outcome.reason);
  first_result(target.id());
  const bool held_back = schedule_.in_flight() >= max_concurrent_checks;  // the loop waits for a free slot
  schedule_.finished(target.id(), clock::now());
  if (held_back || schedule_.next_due() < wake_at_) wake();  // else the loop wakes in time for it
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
