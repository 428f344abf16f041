#include "pd_proxy/net/pools/instance_probe.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "pd_proxy/core/health/answer_health.hpp"
#include "pd_proxy/core/http/http_wire.hpp"
#include "pd_proxy/net/backend/backend_stream.hpp"
#include "pd_proxy/net/operation_timer.hpp"
#include "pd_proxy/net/pools/fan_out.hpp"

namespace pd_proxy {
namespace {

using clock = pool_manager::clock;

// The loop looks for due probes and gone backends at least this often.
constexpr seconds_d max_tick{1.0};

seconds_d probe_timeout(const proxy_config& config) {
  return config.health_check_timeout.count() > 0 ? config.health_check_timeout : seconds_d{5.0};
}

void log_verdict(const probe_target& target, probe_verdict verdict, int max_retries) {
  const std::string authority = target.address.authority();
  switch (verdict) {
    case probe_verdict::activated:
      spdlog::info("{} instance {} answered its probe: it is active", to_string(target.role), authority);
      break;
    case probe_verdict::retry:
      spdlog::info("{} instance {} did not answer its probe yet; it stays waiting", to_string(target.role),
                   authority);
      break;
    case probe_verdict::kept:
      spdlog::warn(
          "{} instance {} did not answer {} probe(s); its DNS record keeps it waiting: probed on with "
          "back-off "
          "while the record lasts",
          to_string(target.role), authority, std::max(1, max_retries));
      break;
    case probe_verdict::backoff:
      spdlog::debug("{} instance {} did not answer its probe; it stays waiting (back-off)",
                    to_string(target.role), authority);
      break;
    case probe_verdict::dropped:
      spdlog::warn("{} instance {} did not answer {} probe(s); it was not added", to_string(target.role),
                   authority, std::max(1, max_retries));
      break;
    case probe_verdict::gone:
      break;
  }
}

}  // namespace

net::awaitable<bool> probe_instance(const proxy_config& config, backend_role role,
                                    const backend_address& address) {
  const backend target(0, role, address);  // not registered: a connection pool of its own
  connection_pool pool(0);
  const seconds_d limit = probe_timeout(config);
  const std::string head = format_backend_request_head(
      {"GET", config.health_check_path, target.authority(), {}, config.backend_api_key, std::nullopt});
  backend_stream leg(pool, target);
  const auto failure = co_await leg.open(head, {}, limit, limit);
  const bool passed = failure == backend_failure::none && health_check_passes(leg.status());
  leg.abort();  // the body is not needed: the connection is not kept
  co_return passed;
}

net::awaitable<void> probe_and_report(pool_manager& pools, const proxy_config& config,
                                      std::vector<probe_target> targets) {
  auto shared = std::make_shared<std::vector<probe_target>>(std::move(targets));
  // A named std::function: GCC 12 may destroy a temporary in a co_await expression twice.
  std::function<net::awaitable<void>(std::size_t)> task = [&pools, &config,
                                                           shared](std::size_t i) -> net::awaitable<void> {
    const probe_target& target = (*shared)[i];
    const bool passed = co_await probe_instance(config, target.role, target.address);
    const auto verdict = pools.probe_finished(target.ticket, passed, clock::now());
    log_verdict(target, verdict, config.max_waiting_retries);
  };
  co_await for_each_concurrently(shared->size(), max_concurrent_probes, std::move(task));
}

pool_prober::pool_prober(proxy_state& state, net::any_io_executor executor,
                         std::function<void(backend_id)> on_gone)
    : state_(state), executor_(std::move(executor)), on_gone_(std::move(on_gone)) {}

void pool_prober::start() {
  net::co_spawn(executor_, run(), net::detached);
}

void pool_prober::stop() {
  stopped_.store(true);
  net::post(executor_, [this] {
    if (wake_ != nullptr) wake_->cancel();
  });
}

net::awaitable<void> pool_prober::run() {
  net::steady_timer timer(executor_);
  wake_ = &timer;
  const seconds_d tick = std::min(max_tick, state_.config.waiting_retry_interval.count() > 0
                                                ? state_.config.waiting_retry_interval
                                                : max_tick);
  while (!stopped_.load()) {
    auto due = state_.pools.take_due(clock::now(), max_concurrent_probes);
    if (!due.empty()) {
      // Not awaited: a slow probe must not hold back the others' retries nor the collection below.
      net::co_spawn(executor_, probe_and_report(state_.pools, state_.config, std::move(due)), net::detached);
    }
    for (const backend_id id : state_.pools.collect_gone()) {
      if (on_gone_) on_gone_(id);
    }
    timer.expires_after(to_timer_duration(tick));
    co_await timer.async_wait(use_nothrow);
  }
  wake_ = nullptr;
}

}  // namespace pd_proxy
