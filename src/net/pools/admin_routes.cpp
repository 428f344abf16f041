#include "pd_proxy/net/pools/admin_routes.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "pd_proxy/core/http/authorization.hpp"
#include "pd_proxy/core/http/error.hpp"
#include "pd_proxy/core/pools/instance_request.hpp"
#include "pd_proxy/net/client/client_request_reader.hpp"
#include "pd_proxy/net/pools/instance_probe.hpp"

namespace pd_proxy {
namespace {

using clock = pool_manager::clock;

std::string join_message(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& part : parts) {
    if (part.empty()) continue;
    if (!out.empty()) out += " ";
    out += part;
  }
  return out;
}

std::string add_message(backend_role role, const add_outcome& added, const std::vector<std::string>& active,
                        const std::vector<std::string>& still_waiting) {
  std::vector<std::string> parts;
  if (!active.empty()) {
    parts.push_back("add " + std::string(to_string(role)) + " instances: " + format_instance_list(active) +
                    ".");
  }
  if (!still_waiting.empty()) {
    parts.push_back("Instances " + format_instance_list(still_waiting) + " are waiting to be added.");
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

std::string instances_list_body(const proxy_state& state) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& info : state.pools.list()) {
    list.push_back({{"type", to_string(info.role)},
                    {"address", info.address},
                    {"id", info.id},
                    {"state", to_string(info.state)},
                    {"inflight", info.load.inflight},
                    {"active_tokens", info.load.active_tokens},
                    {"active_kv", info.load.active_kv}});
  }
  const nlohmann::ordered_json body = {
      {"instances", std::move(list)},
      {"current_prefill_instances", state.pools.current(backend_role::prefill)},
      {"current_decode_instances", state.pools.current(backend_role::decode)}};
  return body.dump();
}

net::awaitable<void> serve_add(proxy_state& state, client_response& response,
                               const instances_request& request) {
  auto added = state.pools.add(request.role, request.instances, clock::now());
  std::vector<probe_target> probing = added.waiting;
  // The first probe is awaited: an instance that answers is active (and listed as current) in the answer.
  co_await probe_and_report(state, std::move(probing));
  const auto current = state.pools.current(request.role);
  std::vector<std::string> active, still_waiting;
  for (const auto& target : added.waiting) {
    const std::string authority = target.address.authority();
    const bool is_active = std::find(current.begin(), current.end(), authority) != current.end();
    (is_active ? active : still_waiting).push_back(authority);
  }
  const std::string message = add_message(request.role, added, active, still_waiting);
  spdlog::info("/instances/add: {}", message);
  const std::string body = instances_answer_body(message, state.pools.current(backend_role::prefill),
                                                 state.pools.current(backend_role::decode));
  co_await response.send_whole(200, "application/json", body);
}

net::awaitable<void> serve_remove(proxy_state& state, client_response& response,
                                  const instances_request& request) {
  const auto removed = state.pools.remove(request.role, request.instances);
  const std::string message = remove_message(request.role, removed);
  spdlog::info("/instances/remove: {}", message);
  const std::string body = instances_answer_body(message, state.pools.current(backend_role::prefill),
                                                 state.pools.current(backend_role::decode));
  co_await response.send_whole(200, "application/json", body);
}

}  // namespace

bool is_admin_route(std::string_view path) {
  return path == "/instances" || path == "/instances/add" || path == "/instances/remove" ||
         path == "/reset_prefix_cache";
}

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

net::awaitable<void> serve_admin_route(proxy_state& state, client_response& response,
                                       const http::request<http::string_body>& request,
                                       bool client_is_loopback) {
  const auto authorization = request[http::field::authorization];
  const auto config = state.current_config();  // the admin key is reloadable
  switch (decide_admin_access({authorization.data(), authorization.size()}, client_is_loopback,
                              config->admin_api_key)) {
    case admin_access::allowed:
      break;
    case admin_access::unauthorized:
      co_await response.send_error(errc::unauthorized, "admin routes need Authorization: Bearer <admin key>",
                                   www_authenticate_header);
      co_return;
    case admin_access::forbidden:
      co_await response.send_error(
          errc::forbidden, "admin routes are served to loopback clients only (no --admin-api-key is set)");
      co_return;
  }
  const std::string_view target{request.target().data(), request.target().size()};
  const std::string_view path = path_of(target);
  const bool list = path == "/instances";
  const bool allowed = list ? (request.method() == http::verb::get || request.method() == http::verb::head)
                            : request.method() == http::verb::post;
  if (!allowed) {
    const std::string allow = list ? "Allow: GET, HEAD\r\n" : "Allow: POST\r\n";
    const std::string text = std::string(request.method_string()) + " is not allowed on " + std::string(path);
    co_await response.send_error(errc::method_not_allowed, text, allow);
    co_return;
  }
  if (list) {
    const std::string body = instances_list_body(state);
    co_await response.send_whole(200, "application/json", body);
    co_return;
  }
  if (path == "/reset_prefix_cache") {
    const auto mark = target.find('?');
    const std::string_view query = mark == std::string_view::npos ? std::string_view{} : target.substr(mark);
    co_await serve_reset_prefix_cache(state, response, query);
    co_return;
  }
  const auto parsed = parse_instances_request(request.body());
  if (!parsed.ok()) {
    co_await response.send_error(errc::bad_request, parsed.error);
    co_return;
  }
  if (path == "/instances/add") {
    co_await serve_add(state, response, parsed);
  } else {
    co_await serve_remove(state, response, parsed);
  }
}

}  // namespace pd_proxy
