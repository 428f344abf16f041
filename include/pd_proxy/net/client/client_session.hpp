// One client connection: reads requests, routes them, writes responses, watches for disconnects.
#pragma once

#include "pd_proxy/net/backend/connection_pool.hpp"
#include "pd_proxy/net/flow/stop_list.hpp"
#include "pd_proxy/net/proxy_state.hpp"

namespace pd_proxy {

/// Serves HTTP/1.1 requests on `socket` until the client closes, an error, a timeout or `Connection: close`.
/// Routes (core/http/routes): POST /v1/completions and /v1/chat/completions (PD flow); GET or HEAD
/// /healthcheck, /health, /ready, /metrics, /v1/models; the admin routes (/instances, /instances/add,
/// /instances/remove, /reset_prefix_cache). While a request talks to backends, the client socket is watched:
/// if the client goes away the request is cancelled, which closes its backend connections and releases its
/// reservations. While the proxy drains, a request is answered 503 "proxy shutting down" and the connection
/// closes. Runs on one worker; `pool` and `stoppable` are that worker's. A cancellation of the coroutine (the
/// drain's last step) ends the session: the operation in progress is aborted and the connection closes. Never
/// throws.
net::awaitable<void> run_client_session(tcp::socket socket, proxy_state& state, connection_pool& pool,
                                        stop_list& stoppable);

}  // namespace pd_proxy
