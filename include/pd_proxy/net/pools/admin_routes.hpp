// The admin routes: GET /instances, POST /instances/add, POST /instances/remove, POST /reset_prefix_cache.
#pragma once

#include <string_view>

#include "pd_proxy/net/backend/backend_pool.hpp"
#include "pd_proxy/net/client/client_response.hpp"
#include "pd_proxy/net/net.hpp"
#include "pd_proxy/net/proxy_state.hpp"

namespace pd_proxy {

/// Whether `path` is one of the admin routes.
bool is_admin_route(std::string_view path);

/// The one decision that lets a request reach an admin route. Until the admin key lands (the security
/// work's decide_admin_access(authorization_header, client_is_loopback, admin_key)), loopback clients only;
/// everyone else gets 403.
bool admin_access_allowed(std::string_view authorization_header, bool client_is_loopback);

/// Whether the peer of `socket` is a loopback address (127.0.0.0/8, ::1, or ::ffff:127.x.y.z).
bool peer_is_loopback(const tcp::socket& socket);

/// Serves one admin request (a path is_admin_route accepts): 403 unless admin_access_allowed, 405 for a
/// wrong method, 400 for a bad body, else the route's answer (docs/pools.md).
net::awaitable<void> serve_admin_route(proxy_state& state, client_response& response,
                                       const http::request<http::string_body>& request,
                                       bool client_is_loopback);

/// POST /reset_prefix_cache: `query` (with its '?', or empty) forwarded to every backend of both roles at
/// once, each within its own timeout; 200 when all answer 2xx, else 502 with the per-backend results.
net::awaitable<void> serve_reset_prefix_cache(proxy_state& state, client_response& response,
                                              std::string_view query);

}  // namespace pd_proxy
