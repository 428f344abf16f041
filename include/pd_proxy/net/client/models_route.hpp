// GET /v1/models: the model list, asked of every backend at once.
#pragma once

#include <memory>
#include <string_view>

#include "pd_proxy/core/backends/registry.hpp"
#include "pd_proxy/core/config/config.hpp"
#include "pd_proxy/net/backend/connection_pool.hpp"
#include "pd_proxy/net/http/client_response.hpp"

namespace pd_proxy {

/// What the route uses: the backends to ask, the request's configuration (timeouts, keys, body limit) and
/// the worker's connections.
struct models_sources {
  const backend_registry& backends;
  std::shared_ptr<const proxy_config> config;  // not null
  connection_pool& pool;
};

/// Asks every backend for `GET /v1/models` (at most 32 at a time, prefillers and decoders alternating, the
/// usable ones first: unhealthy or open ones only after them) and relays the first 2xx answer to arrive,
/// verbatim; the others are cancelled. All of it happens within one deadline (3 s, or --connect-timeout if
/// shorter for connecting): 72 unresponsive backends cost 3 s, not minutes. Answers 503 when no backend
/// answered 2xx in time. Stops at once when the coroutine is cancelled. `backend_headers` (complete header
/// lines, forwarded_header_lines) go on every backend request.
net::awaitable<void> serve_models(const models_sources& sources, client_response& response,
                                  std::string_view request_id, std::string_view backend_headers = {});

}  // namespace pd_proxy
