// One client connection: reads requests, routes them, writes responses, watches for disconnects.
#pragma once

#include "pd_proxy/net/backend_connection.hpp"
#include "pd_proxy/net/proxy_state.hpp"

namespace pd_proxy {

/// Serves HTTP/1.1 requests on `socket` until the client closes, an error, a timeout or `Connection: close`.
/// Routes: POST /v1/completions and /v1/chat/completions (PD flow), GET /healthcheck, /health, /v1/models.
/// While a request talks to backends, the client socket is watched: if the client goes away the request is
/// cancelled, which closes its backend connections and releases its reservations. Runs on one worker; `pool`
/// is that worker's. Never throws.
net::awaitable<void> run_client_session(tcp::socket socket, proxy_state& state, backend_pool& pool);

}  // namespace pd_proxy
