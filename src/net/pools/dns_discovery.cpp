#include "pd_proxy/net/pools/dns_discovery.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "pd_proxy/core/pools/instance_request.hpp"
#include "pd_proxy/net/operation_timer.hpp"
#include "pd_proxy/net/pools/instance_probe.hpp"

namespace pd_proxy {
namespace {

constexpr seconds_d max_lookup_time{5.0};

std::vector<std::string> authorities(const std::vector<backend_address>& list) {
  std::vector<std::string> out;
  for (const auto& a : list) out.push_back(a.authority());
  return out;
}

}  // namespace

net::awaitable<std::optional<std::vector<std::string>>> asio_dns_resolver::resolve(const std::string& name,
                                                                                   seconds_d timeout) {
  tcp::resolver resolver(co_await net::this_coro::executor);
  auto [ec, results] = co_await timed(
      [&](auto token) { return resolver.async_resolve(name, "", net::ip::resolver_base::flags{}, token); },
      timeout);
  if (ec) co_return std::nullopt;
  std::vector<std::string> out;
  for (const auto& entry : results) {
    std::string address = entry.endpoint().address().to_string();
    if (std::find(out.begin(), out.end(), address) == out.end()) out.push_back(std::move(address));
  }
  co_return out;
}

dns_discovery::dns_discovery(proxy_state& state, net::any_io_executor executor,
                             std::vector<dns_target> targets, seconds_d interval,
                             std::shared_ptr<dns_resolver> resolver)
    : state_(state),
      executor_(std::move(executor)),
      targets_(std::move(targets)),
      last_good_(targets_.size()),
      last_result_(targets_.size(), lookup_result::records),
      interval_(interval),
      resolver_(std::move(resolver)) {}

void dns_discovery::start() {
  net::co_spawn(executor_, run(), net::detached);
}

void dns_discovery::stop() {
  stopped_.store(true);
  net::post(executor_, [this] {
    if (wake_ != nullptr) wake_->cancel();
  });
}

net::awaitable<void> dns_discovery::refresh(std::size_t i) {
  const dns_target& target = targets_[i];
  const seconds_d limit = std::min(interval_, max_lookup_time);
  const auto names = co_await resolver_->resolve(target.name, limit);  // named: see probe_and_report
  const auto resolved = records_of(names, target.port);
  log_lookup_change(i, classify_lookup(resolved));
  const dns_change change = diff_records(last_good_[i], resolved);
  last_good_[i] = next_records(last_good_[i], resolved);
  if (!change.removed.empty()) {
    spdlog::info("DNS discovery: {} records gone: {}; draining them", target.name,
                 format_instance_list(authorities(change.removed)));
    state_.pools.remove(target.role, change.removed);
  }
  if (!change.added.empty()) {
    spdlog::info("DNS discovery: {} new records: {}; probing them", target.name,
                 format_instance_list(authorities(change.added)));
    // Probed as long as the record lasts (a loading engine answers minutes later); drained when it goes.
    auto added = state_.pools.add(target.role, change.added, pool_manager::clock::now(),
                                  waiting_policy::until_removed);
    // Refused (too many waiting): forgotten, so the next lookup offers them again.
    std::erase_if(last_good_[i], [&](const backend_address& a) {
      return std::find(added.refused.begin(), added.refused.end(), a.authority()) != added.refused.end();
    });
    if (!added.waiting.empty()) {
      net::co_spawn(executor_, probe_and_report(state_.pools, state_.config, std::move(added.waiting)),
                    net::detached);
    }
  }
}

void dns_discovery::log_lookup_change(std::size_t i, lookup_result result) {
  const lookup_result before = std::exchange(last_result_[i], result);
  if (result == before) return;  // the state is logged once, when it begins
  const dns_target& target = targets_[i];
  if (result == lookup_result::records) {
    spdlog::info("DNS discovery: {} {} resolves again", to_string(target.role), target.name);
    return;
  }
  spdlog::warn("DNS discovery: {} {} {}; keeping its last {} record(s) (logged again when this changes)",
               to_string(target.role), target.name,
               result == lookup_result::no_record ? "has no record" : "did not resolve",
               last_good_[i].size());
}

net::awaitable<void> dns_discovery::run() {
  net::steady_timer timer(executor_);
  wake_ = &timer;
  while (!stopped_.load()) {
    for (std::size_t i = 0; i < targets_.size() && !stopped_.load(); ++i) co_await refresh(i);
    if (stopped_.load()) break;
    timer.expires_after(to_timer_duration(interval_));
    co_await timer.async_wait(use_nothrow);
  }
  wake_ = nullptr;
}

}  // namespace pd_proxy
