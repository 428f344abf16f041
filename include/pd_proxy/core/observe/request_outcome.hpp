// How a request ended: the one outcome of the PD flow, the access log, the counters and the logs.
#pragma once

#include <cstdint>
#include <string_view>

namespace pd_proxy {

/// How a request ended, as the access log says it.
enum class request_outcome : std::uint8_t {
  ok,                // answered in full (any 2xx, or a route's own answer such as /ready's 503)
  client_abort,      // the client went away before its response ended
  backend_error,     // backends failed (502, or a failure after the stream began)
  timeout,           // a backend limit passed (504, or a stalled stream)
  rejected,          // --max-inflight: queue full or timed out (429)
  no_backend,        // a role had no usable backend (503)
  shutting_down,     // the drain refused or stopped the request (503)
  backend_rejected,  // a backend's own non-retryable answer (4xx) was passed through
  invalid_request,   // the proxy refused the request itself (4xx: bad JSON, unknown route, ...)
};

/// "ok", "client_abort", "backend_error", "timeout", "rejected", "no_backend", "shutting_down",
/// "backend_rejected", "invalid_request".
std::string_view to_string(request_outcome outcome);

}  // namespace pd_proxy
