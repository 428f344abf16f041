// Runs one PD request on sockets: the --pd-protocol family's machine, driven by basic_pd_driver.
#pragma once

#include "pd_proxy/core/flow/flow_request.hpp"
#include "pd_proxy/core/observe/request_outcome.hpp"
#include "pd_proxy/net/backend/connection_pool.hpp"
#include "pd_proxy/net/flow/pd_driver_deps.hpp"
#include "pd_proxy/net/flow/stop_list.hpp"
#include "pd_proxy/net/http/client_response.hpp"

namespace pd_proxy {

/// Runs the whole PD flow and writes the whole response; the decisions are the protocol machine's, the
/// driver only reserves backends, moves bytes and reports what happened. In two-stage: prefill and decode
/// failures before the first byte to the client are retried on other backends, up to --max-retries attempts
/// per leg, and otherwise end in a JSON error (502/503/504, or the backend's own 4xx); after the first byte a
/// failure becomes an SSE error event (streams) or a truncated body (JSON). Every load reservation is
/// released on every path. When the coroutine is cancelled (the client went away) it stops at once and
/// closes every backend connection. Once the relay began the client's request is freed unless the protocol
/// keeps it for a continuation: a long stream holds its buffers, not its prompt. Bodies are spliced from the
/// client's text. The request is linked into `stoppable` while it runs: when the drain deadline stops it, it
/// ends with 503 "proxy shutting down" (an SSE error event once the stream started) instead of being cut.
/// Returns how the request ended (client_abort when the client went away).
net::awaitable<request_outcome> run_pd_flow(const pd_driver_deps& deps, connection_pool& connections,
                                            stop_list& stoppable, flow_request& request,
                                            client_response& response);

}  // namespace pd_proxy
