#include "pd_proxy/net/pools/admin_routes.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "pd_proxy/core/admission/inflight_guard.hpp"
#include "pd_proxy/core/http/error.hpp"
#include "pd_proxy/core/pools/instance_request.hpp"
#include "pd_proxy/net/operation_timer.hpp"
#include "pd_proxy/net/pools/instance_probe.hpp"

namespace pd_proxy {
namespace {

using clock = pool_manager::clock;

// The longest an add waits for the first probes of its instances, whatever their number (at most
// max_concurrent_probes are probed at once): 600 hung instances would otherwise hold it for minutes.
constexpr seconds_d max_add_wait{2.0};
// While it waits, an add looks this often whether the drain began (then it answers 503 at once).
constexpr auto drain_check_interval = std::chrono::milliseconds(50);

std::string join_message(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& part : parts) {
    if (part.empty()) continue;
    if (!out.empty()) out += " ";
    out += part;
  }
  return out;
}

// What became of an add's new instances by the time it answers.
struct add_progress {
  std::vector<std::string> active;     // answered their probe: routable
  std::vector<std::string> waiting;    // not answered yet (probe in flight, or failed and to be retried)
  std::vector<std::string> not_added;  // failed their last allowed probe (or were removed meanwhile)
};

add_progress progress_of(const pool_manager& pools, backend_role role, const add_outcome& added) {
  const auto current = pools.current(role);
  std::vector<std::string> waiting;
  for (const auto& info : pools.list()) {
    if (info.role == role && info.state == instance_state::waiting) waiting.push_back(info.address);
  }
  const auto has = [](const std::vector<std::string>& list, const std::string& a) {
    return std::find(list.begin(), list.end(), a) != list.end();
  };
  add_progress out;
  for (const auto& target : added.waiting) {
    std::string authority = target.address.authority();
    auto& into = has(current, authority) ? out.active : has(waiting, authority) ? out.waiting : out.not_added;
    into.push_back(std::move(authority));
  }
  return out;
}

std::string add_message(backend_role role, const add_outcome& added, const add_progress& progress) {
  std::vector<std::string> parts;
  if (!progress.active.empty()) {
    parts.push_back("add " + std::string(to_string(role)) +
                    " instances: " + format_instance_list(progress.active) + ".");
  }
  if (!progress.waiting.empty()) {
    parts.push_back("Instances " + format_instance_list(progress.waiting) + " are waiting to be added.");
  }
  if (!progress.not_added.empty()) {
    parts.push_back("Instances " + format_instance_list(progress.not_added) +
                    " did not answer their probe and were not added.");
  }
  if (!added.present.empty()) {
    parts.push_back("Instances " + format_instance_list(added.present) + " are already present.");
  }
  if (!added.refused.empty()) {
    parts.push_back("Instances " + format_instance_list(added.refused) +
                    " were not added: too many instances are waiting.");
  }
  return join_message(parts);
}

std::string remove_message(backend_role role, const remove_outcome& removed) {
  std::vector<std::string> parts;
  if (!removed.removed.empty()) {
    parts.push_back("remove " + std::string(to_string(role)) +
                    " instances: " + format_instance_list(removed.removed) + ".");
  }
  if (!removed.draining.empty()) {
    parts.push_back("Instances " + format_instance_list(removed.draining) +
                    " are isolated and waiting to be removed.");
  }
  if (!removed.unknown.empty()) {
    parts.push_back("Instances " + format_instance_list(removed.unknown) + " are not " +
                    std::string(to_string(role)) + " instances; nothing to remove.");
  }
  return join_message(parts);
}

std::string instances_list_body(const pool_manager& pools) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& info : pools.list()) {
    list.push_back({{"type", to_string(info.role)},
                    {"address", info.address},
                    {"id", info.id},
                    {"state", to_string(info.state)},
                    {"inflight", info.load.inflight},
                    {"active_tokens", info.load.active_tokens},
                    {"active_kv", info.load.active_kv}});
  }
  const nlohmann::ordered_json body = {{"instances", std::move(list)},
                                       {"current_prefill_instances", pools.current(backend_role::prefill)},
                                       {"current_decode_instances", pools.current(backend_role::decode)}};
  return body.dump();
}

// An add's first probes, run apart from the add so that it can stop waiting for them.
struct first_probes {
  explicit first_probes(const net::any_io_executor& executor) : wake(executor) {}
  net::steady_timer wake;  // cancelled when every probe has ended
  bool done = false;
};

net::awaitable<void> probe_then_wake(pool_manager& pools, const proxy_config& config,
                                     std::vector<probe_target> targets,
                                     std::shared_ptr<first_probes> probes) {
  co_await probe_and_report(pools, config, std::move(targets));
  probes->done = true;
  probes->wake.cancel();
}

// Starts the first probes of `targets` and waits for them at most max_add_wait; returns early when the drain
// begins or the connection is cancelled. The probes go on after it returns. Runs on a worker (one thread).
net::awaitable<void> await_first_probes(const admin_sources& sources, std::vector<probe_target> targets) {
  if (targets.empty()) co_return;
  const auto executor = co_await net::this_coro::executor;
  auto probes = std::make_shared<first_probes>(executor);
  net::co_spawn(executor, probe_then_wake(sources.pools, sources.config, std::move(targets), probes),
                net::detached);
  const auto deadline = clock::now() + to_timer_duration(max_add_wait);
  while (!probes->done && !sources.draining.load(std::memory_order_relaxed) && clock::now() < deadline) {
    probes->wake.expires_at(std::min(deadline, clock::now() + drain_check_interval));
    co_await probes->wake.async_wait(use_nothrow);
    if ((co_await net::this_coro::cancellation_state).cancelled() != net::cancellation_type::none) break;
  }
}

net::awaitable<void> serve_add(const admin_sources& sources, client_response& response,
                               const instances_request& request) {
  inflight_guard in_flight(sources.other_requests);  // the drain waits for the answer
  const auto added = sources.pools.add(request.role, request.instances, clock::now());
  // The first probes are awaited for a while: an instance that answers is active (and listed as current) in
  // the answer; one that has not answered yet is answered as waiting, and GET /instances shows the rest.
  co_await await_first_probes(sources, added.waiting);
  if (sources.draining.load(std::memory_order_relaxed)) {
    co_await response.send_error(errc::shutting_down, "proxy shutting down", retry_after_header);
    co_return;
  }
  const std::string message =
      add_message(request.role, added, progress_of(sources.pools, request.role, added));
  spdlog::info("/instances/add: {}", message);
  const std::string body = instances_answer_body(message, sources.pools.current(backend_role::prefill),
                                                 sources.pools.current(backend_role::decode));
  co_await response.send_whole(200, "application/json", body);
}

net::awaitable<void> serve_remove(pool_manager& pools, client_response& response,
                                  const instances_request& request) {
  const auto removed = pools.remove(request.role, request.instances);
  const std::string message = remove_message(request.role, removed);
  spdlog::info("/instances/remove: {}", message);
  const std::string body = instances_answer_body(message, pools.current(backend_role::prefill),
                                                 pools.current(backend_role::decode));
  co_await response.send_whole(200, "application/json", body);
}

}  // namespace

bool peer_is_loopback(const tcp::socket& socket) {
  error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  if (ec) return false;
  const auto address = peer.address();
  if (address.is_loopback()) return true;
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6()).is_loopback();
  }
  return false;
}

net::awaitable<void> serve_admin_route(const admin_sources& sources, client_response& response,
                                       const http::request<http::string_body>& request, route r) {
  if (r == route::instances) {
    const std::string body = instances_list_body(sources.pools);
    co_await response.send_whole(200, "application/json", body);
    co_return;
  }
  if (r == route::reset_prefix_cache) {
    const std::string_view target{request.target().data(), request.target().size()};
    const auto mark = target.find('?');
    const std::string_view query = mark == std::string_view::npos ? std::string_view{} : target.substr(mark);
    co_await serve_reset_prefix_cache(sources.backends, sources.config, response, query);
    co_return;
  }
  const auto parsed = parse_instances_request(request.body());
  if (!parsed.ok()) {
    co_await response.send_error(errc::bad_request, parsed.error);
    co_return;
  }
  if (r == route::instances_add) {
    co_await serve_add(sources, response, parsed);
  } else {
    co_await serve_remove(sources.pools, response, parsed);
  }
}

}  // namespace pd_proxy
