// The proxy's error conditions, their HTTP status and the OpenAI-shaped bodies clients receive.
#pragma once

#include <string>
#include <string_view>

namespace pd_proxy {

enum class errc {
  bad_request,         // 400: body is not a JSON object, or the request is malformed
  not_found,           // 404: unknown route
  method_not_allowed,  // 405: known route, wrong method
  payload_too_large,   // 413: body over --max-body-size
  not_implemented,     // 501: a Transfer-Encoding other than chunked
  overloaded,          // 503: --max-connections or --max-buffered-body-bytes reached
  too_many_requests,   // 429: --max-inflight reached and the queue is full or the wait timed out
  shutting_down,       // 503: the proxy is draining (SIGTERM/SIGINT)
  backend_failed,      // 502: a backend failed (transport error or 5xx) on every attempt
  no_backend,          // 503: a pool is empty
  backend_timeout,     // 504: a backend timed out before the first byte reached the client
  internal,            // 500: a bug; never expected
  unauthorized,        // 401: --api-key (or --admin-api-key) set and the request has no matching Bearer token
  forbidden,           // 403: an admin route from a non-loopback client without --admin-api-key
};

int http_status(errc code);

/// The header line that goes with a 503 the client may simply retry (overload, drain).
inline constexpr std::string_view retry_after_header = "Retry-After: 1\r\n";

/// OpenAI error `type`: "invalid_request_error", "server_error", ...
std::string_view error_type(errc code);

/// `{"error":{"message":...,"type":...,"param":null,"code":<status>}}`.
std::string openai_error_body(errc code, std::string_view message);

/// The same object as one SSE event, `data: {...}\n\n`: how a failure is reported once bytes were sent.
std::string sse_error_event(errc code, std::string_view message);

}  // namespace pd_proxy
