// The route table: which path is which route, which methods it serves, what guards it (an API key, the admin
// key) and the `route` label it has in the access log and the metrics. client_session routes with it and
// request_record labels with it: one table for both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pd_proxy {

/// Every route the proxy serves, and `unknown` for any other path.
enum class route : std::uint8_t {
  completions,         // POST /v1/completions: the PD flow
  chat_completions,    // POST /v1/chat/completions: the PD flow
  models,              // GET /v1/models: asked of the backends
  health,              // GET /health: the process is up
  healthcheck,         // GET /healthcheck: counts of instances and requests
  ready,               // GET /ready: whether a request could be served now
  metrics,             // GET /metrics: the Prometheus exposition
  instances,           // GET /instances: the admin list
  instances_add,       // POST /instances/add
  instances_remove,    // POST /instances/remove
  reset_prefix_cache,  // POST /reset_prefix_cache
  metaserver,          // POST /v1/metaserver: decoder-first's call-backs (unknown under other protocols);
                       // open: the call-back ids are the credential (docs/security.md)
  unknown,             // no route: 404
};

/// The `route` label: one of a fixed set, so that a client cannot create label values (any other path, and
/// the admin routes, are `other`).
enum class request_route : std::uint8_t {
  completions,
  chat_completions,
  models,
  health,
  healthcheck,
  ready,
  metrics,
  other,
};
inline constexpr std::size_t request_route_count = 8;

/// "/v1/completions", "/v1/chat/completions", "/v1/models", "/health", "/healthcheck", "/ready", "/metrics",
/// "other".
std::string_view to_string(request_route label);

/// What a route asks of the client before it is served.
enum class route_guard : std::uint8_t {
  open,     // nothing: health, readiness and metrics stay open
  api_key,  // --api-key / --api-key-file (the OpenAI routes)
  admin,    // --admin-api-key, or a loopback client without it
};

/// The path of a request target in origin form ("/v1/models?x") or absolute form ("http://host/v1/models"),
/// without its query string.
std::string_view path_of(std::string_view target);

/// The route of `path` (without its query; exact match, no trailing-slash folding).
route route_of(std::string_view path);
/// Its `route` label.
request_route label_of(route r);
/// The label of a request path (without its query): label_of(route_of(path)).
request_route route_of_path(std::string_view path);
/// What the route asks of the client (`open` for `unknown`).
route_guard guard_of(route r);

/// The methods a route serves, as an Allow header value: "POST", or "GET, HEAD" (HEAD is served wherever GET
/// is); empty for `unknown`.
std::string_view allowed_methods(route r);
/// Whether `method` (the request line's method, case-sensitive: "GET", "HEAD", "POST", ...) is served on `r`.
bool method_allowed(route r, std::string_view method);

/// A 405: the body text and the Allow header line (with its CRLF).
struct method_refusal {
  std::string text;   // "<METHOD> is not allowed on <path>"
  std::string allow;  // "Allow: <allowed_methods>\r\n"
};
/// nullopt when `method` is served on `r` (a known route); else the 405 to answer for `path`.
std::optional<method_refusal> check_method(route r, std::string_view method, std::string_view path);

}  // namespace pd_proxy
