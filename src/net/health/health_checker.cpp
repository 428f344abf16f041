#include "pd_proxy/net/health/health_checker.hpp"

#include <spdlog/spdlog.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "pd_proxy/core/http/http_wire.hpp"
#include "pd_proxy/core/time/deadline.hpp"
#include "pd_proxy/net/backend/backend_stream.hpp"
#include "pd_proxy/net/timed.hpp"

namespace pd_proxy {
namespace {

using clock = std::chrono::steady_clock;

constexpr std::size_t max_check_body = 64 * 1024;
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
      pool_(max_concurrent_checks),
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
  std::unordered_map<backend_id, std::shared_ptr<backend>> by_id;  // the backends of `set`
  net::steady_timer timer(executor_);
  wake_ = &timer;
  while (!stopped_.load()) {
    const auto now = clock::now();
    auto current = state_.backends.snapshot();
    if (current != set) {
      set = std::move(current);
      auto previous = std::move(by_id);
      by_id.clear();
      for (const auto* pool : {&set->prefillers, &set->decoders})
        for (const auto& b : *pool) by_id.emplace(b->id(), b);
      // A backend removed at run time: its idle check connection goes (its id is never reused).
      for (const auto& [id, b] : previous)
        if (by_id.count(id) == 0) pool_.forget(id);
      const auto ids = ids_of(*set);
      schedule_.sync(ids, now);
    }
    while (auto id = schedule_.take_due(now + slack_)) {
      const auto found = by_id.find(*id);
      if (found == by_id.end()) {
        schedule_.finished(*id, now);
        continue;
      }
      net::co_spawn(executor_, check(found->second), net::detached);
    }
    if (wake_pending_) {
      wake_pending_ = false;
      continue;
    }
    const auto due = schedule_.next_due();
    wake_at_ = std::min(due, now + resync_period);
    timer.expires_at(wake_at_);
    co_await timer.async_wait(use_nothrow);
    wake_pending_ = false;
  }
  wake_ = nullptr;
}

net::awaitable<void> health_checker::check(std::shared_ptr<backend> target) {
  const auto& config = state_.config;
  const bool was_usable = state_.sched.status(*target).usable;
  const auto deadline = deadline_after<clock>(config.health_check_timeout, clock::now());
  const std::string head = format_backend_request_head(
      {"GET", config.health_check_path, target->authority(), {}, config.backend_api_key, std::nullopt});
  backend_stream leg(pool_, *target);
  const auto failure = co_await leg.open(head, {}, config.health_check_timeout, config.health_check_timeout);
  // The verdict comes with the response head: a server that answers is up, whatever its body does.
  std::string reason;
  if (failure != backend_failure::none) {
    reason = to_string(failure);
  } else if (leg.status() >= 500) {
    reason = "HTTP " + std::to_string(leg.status());
  }
  state_.sched.check_result(*target, reason.empty());
  log_change(*target, was_usable, reason);
  first_result(target->id());
  if (failure == backend_failure::none) {
    // Read the body (within the check's time) only so that the connection can be kept alive.
    std::string body;
    const seconds_d left = time_left<clock>(deadline, clock::now());
    co_await leg.read_all(body, max_check_body, left);
  }
  const bool held_back = schedule_.in_flight() >= max_concurrent_checks;  // the loop waits for a free slot
  schedule_.finished(target->id(), clock::now());
  if (held_back || schedule_.next_due() < wake_at_) wake();  // else the loop wakes in time for it
}

void health_checker::log_change(const backend& target, bool was_usable, const std::string& reason) {
  const auto status = state_.sched.status(target);
  if (!status.candidate || status.usable == was_usable) return;
  if (status.usable) {
    spdlog::info("{} {} is healthy: it answered its health check", to_string(target.role()),
                 target.authority());
  } else if (!status.healthy) {
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
