// POST /v1/metaserver (--pd-protocol decoder-first): a decoder's call-back with its KV parameters.
#pragma once

#include <string>

#include "pd_proxy/net/flow/signal_board.hpp"
#include "pd_proxy/net/http/client_response.hpp"

namespace pd_proxy {

/// Hands the posted JSON object to the request that waits for its `request_id` and answers what that request
/// says once its prefill ended: 200 {"status":"ok"}, or 502 {"detail":...} when the prefill failed or the
/// request ended first. A `request_id` no request waits for (unknown, missing, already called back, or its
/// request finished) is answered 404 {"detail":"Unknown metaserver request_id: '...'"} and nothing is sent
/// anywhere; a body that is no JSON object 400. Stops at once when the coroutine is cancelled (the caller
/// went away). `body` must outlive the coroutine.
net::awaitable<void> serve_metaserver(signal_board& board, client_response& response, std::string& body);

}  // namespace pd_proxy
