// Runs one PD request: executes the actions of its pd_flow (core/flow/pd_flow.hpp) on sockets.
#pragma once

#include <string_view>

#include "pd_proxy/core/admission/body_budget.hpp"
#include "pd_proxy/core/flow/pd_flow.hpp"
#include "pd_proxy/core/flow/request_rewrite.hpp"
#include "pd_proxy/core/observe/request_record.hpp"
#include "pd_proxy/net/backend/connection_pool.hpp"
#include "pd_proxy/net/flow/stop_list.hpp"
#include "pd_proxy/net/http/client_response.hpp"
#include "pd_proxy/net/proxy_state.hpp"

namespace pd_proxy {

struct pd_request {
  std::string_view route;  // backend path: "/v1/completions" or "/v1/chat/completions"
  client_request& body;    // the client's request, scanned; released once the decoder's first byte came
  body_budget::reservation& body_hold;    // its share of --max-buffered-body-bytes, released with it
  std::string_view request_id;            // X-Request-Id of both legs
  request_record& record;                 // what the request did: backends, retries, times (filled in here)
  std::string_view backend_headers = {};  // forwarded client headers of both legs (forwarded_header_lines)
  std::string_view session_id = {};       // the client's session header (session_header), for scheduling
};

/// Runs the whole PD flow and writes the whole response; the decisions are pd_flow's, this coroutine only
/// reserves backends, moves bytes and reports what happened. Prefill and decode failures before the first
/// byte to the client are retried on other backends, up to --max-retries attempts per leg, and otherwise end
/// in a JSON error (502/503/504, or the backend's own 4xx); after the first byte a failure becomes an SSE
/// error event (streams) or a truncated body (JSON). Every load reservation is released on every path. When
/// the coroutine is cancelled (the client went away) it stops at once and closes both backend connections.
/// Once the decoder's first byte arrived no leg can be retried, so the client's request and the decode body
/// are freed while the answer streams: a long stream holds its buffers, not its prompt. Both legs' bodies are
/// spliced from the client's text (one copy of the prompt per request). The request is linked into
/// `stoppable` while it runs: when the drain deadline stops it, it ends with 503 "proxy shutting down" (an
/// SSE error event once the stream started) instead of being cut. Returns how the request ended; when the
/// client went away (the coroutine's cancellation aborted a backend operation) that is client_gone.
net::awaitable<pd_outcome> run_pd_flow(proxy_state& state, connection_pool& pool, stop_list& stoppable,
                                       const pd_request& request, client_response& response);

}  // namespace pd_proxy
