// The admin routes: GET /instances, POST /instances/add, POST /instances/remove, POST /reset_prefix_cache.
#pragma once

#include <string_view>

#include "pd_proxy/net/backend/connection_pool.hpp"
#include "pd_proxy/net/http/client_response.hpp"
#include "pd_proxy/net/net.hpp"
#include "pd_proxy/net/proxy_state.hpp"

namespace pd_proxy {

/// Whether `path` is one of the admin routes.
bool is_admin_route(std::string_view path);

/// Whether the peer of `socket` is a loopback address (127.0.0.0/8, ::1, or ::ffff:127.x.y.z).
bool peer_is_loopback(const tcp::socket& socket);

/// Serves one admin request (a path is_admin_route accepts): 401/403 unless core/http/authorization's
/// decide_admin_access allows it, 405 for a wrong method, 400 for a bad body, else the route's answer
/// (docs/pools.md).
net::awaitable<void> serve_admin_route(proxy_state& state, client_response& response,
                                       const http::request<http::string_body>& request,
                                       bool client_is_loopback);

/// POST /reset_prefix_cache: `query` (with its '?', or empty) forwarded to every backend of both roles at
/// once, each within its own timeout; 200 when all answer 2xx, else 502 with the per-backend results.
net::awaitable<void> serve_reset_prefix_cache(proxy_state& state, client_response& response,
                                              std::string_view query);

}  // namespace pd_proxy
