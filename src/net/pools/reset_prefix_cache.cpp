// POST /reset_prefix_cache, broadcast to every backend at once (the reference proxy asks them one by one).
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "pd_proxy/core/http/http_wire.hpp"
#include "pd_proxy/net/backend/backend_stream.hpp"
#include "pd_proxy/net/pools/admin_routes.hpp"
#include "pd_proxy/net/pools/fan_out.hpp"

namespace pd_proxy {
namespace {

constexpr seconds_d reset_timeout{10.0};      // per backend, connect included
constexpr std::size_t reset_fanout = 64;      // backends asked at the same time
constexpr std::size_t max_reset_body = 4096;  // of a backend's answer, kept for the report

struct reset_result {
  std::shared_ptr<backend> target;
  int status = 0;     // 0: no answer
  std::string error;  // the failure, when there was no answer
  std::string body;   // the backend's answer (cut), for a failure's report
  bool ok() const { return status >= 200 && status < 300; }
};

net::awaitable<void> reset_one(const proxy_config& config, const std::string& target_path,
                               reset_result& result) {
  connection_pool pool(0);  // a connection of its own: the admin plane does not touch the workers' pools
  const backend& target = *result.target;
  const std::string head = format_backend_request_head(
      {"POST", target_path, target.authority(), {}, config.backend_api_key, std::size_t{0}});
  const seconds_d connect =
      config.connect_timeout.count() > 0 ? std::min(config.connect_timeout, reset_timeout) : reset_timeout;
  backend_stream leg(pool, target);
  auto failure = co_await leg.open(head, {}, connect, reset_timeout);
  if (failure != backend_failure::none) {
    result.error = std::string(to_string(failure));
    co_return;
  }
  result.status = leg.status();
  std::string body;
  failure = co_await leg.read_all(body, max_reset_body, reset_timeout);
  if (failure == backend_failure::none) result.body = std::move(body);
  leg.abort();
}

}  // namespace

net::awaitable<void> serve_reset_prefix_cache(const backend_registry& backends, const proxy_config& config,
                                              client_response& response, std::string_view query) {
  const auto set = backends.snapshot();  // holds every backend asked until the answer
  auto results = std::make_shared<std::vector<reset_result>>();
  for (const auto role : {backend_role::prefill, backend_role::decode}) {
    for (const auto& b : set->of(role)) results->push_back(reset_result{b, 0, {}, {}});
  }
  const std::string target_path = "/reset_prefix_cache" + std::string(query);
  // A named std::function: GCC 12 may destroy a temporary in a co_await expression twice.
  std::function<net::awaitable<void>(std::size_t)> task =
      [&config, results, target_path](std::size_t i) -> net::awaitable<void> {
    co_await reset_one(config, target_path, (*results)[i]);
  };
  co_await for_each_concurrently(results->size(), reset_fanout, std::move(task));
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  nlohmann::ordered_json failed = nlohmann::ordered_json::array();
  for (const auto& r : *results) {
    nlohmann::ordered_json entry = {
        {"type", to_string(r.target->role())}, {"instance", r.target->authority()}, {"ok", r.ok()}};
    if (r.status != 0) entry["status"] = r.status;
    if (!r.error.empty()) entry["error"] = r.error;
    if (!r.ok() && !r.body.empty()) entry["body"] = r.body;
    if (!r.ok()) failed.push_back("http://" + r.target->authority());
    list.push_back(std::move(entry));
  }
  const bool all_ok = failed.empty();
  nlohmann::ordered_json body = {{"status", all_ok ? "ok" : "failed"}};
  if (!all_ok) body["failed"] = std::move(failed);
  body["results"] = std::move(list);
  const std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (!all_ok) spdlog::warn("/reset_prefix_cache failed on some backends: {}", text);
  const int status = all_ok ? 200 : 502;
  co_await response.send_whole(status, "application/json", text);
}

}  // namespace pd_proxy
