// The admin routes: GET /instances, POST /instances/add, POST /instances/remove, POST /reset_prefix_cache.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "pd_proxy/core/backends/registry.hpp"
#include "pd_proxy/core/config/config.hpp"
#include "pd_proxy/core/http/routes.hpp"
#include "pd_proxy/core/pools/pool_manager.hpp"
#include "pd_proxy/net/http/client_response.hpp"
#include "pd_proxy/net/net.hpp"

namespace pd_proxy {

/// What the admin routes use; every reference outlives the request (proxy_state owns them).
struct admin_sources {
  pool_manager& pools;                        // the run-time pools: listed, added to, removed from
  const backend_registry& backends;           // /reset_prefix_cache asks them all
  const proxy_config& config;                 // the start-up configuration: probe and reset limits
  const std::atomic<bool>& draining;          // an add that waits for its probes answers 503 once it is set
  std::atomic<std::int64_t>& other_requests;  // an add in progress counts here, for the drain
};

/// Whether the peer of `socket` is a loopback address (127.0.0.0/8, ::1, or ::ffff:127.x.y.z).
bool peer_is_loopback(const tcp::socket& socket);

/// Serves one admin request on `r` (an admin route of core/http/routes, whose access and method the caller
/// checked): 400 for a bad body, else the route's answer (docs/pools.md).
net::awaitable<void> serve_admin_route(const admin_sources& sources, client_response& response,
                                       const http::request<http::string_body>& request, route r);

/// POST /reset_prefix_cache: `query` (with its '?', or empty) forwarded to every backend of both roles at
/// once, each within its own timeout; 200 when all answer 2xx, else 502 with the per-backend results.
net::awaitable<void> serve_reset_prefix_cache(const backend_registry& backends, const proxy_config& config,
                                              client_response& response, std::string_view query);

}  // namespace pd_proxy
