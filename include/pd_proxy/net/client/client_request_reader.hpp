// Reading one client request under limits and timeouts, and watching a client for a disconnect.
#pragma once

#include <optional>

#include "pd_proxy/core/admission/body_budget.hpp"
#include "pd_proxy/core/config/config.hpp"
#include "pd_proxy/net/http/client_stream.hpp"
#include "pd_proxy/net/net.hpp"
#include "pd_proxy/net/observe/refusal.hpp"
#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy {

struct request_limits {
  std::size_t max_header_bytes = 64 * 1024;
  std::size_t max_body_bytes = 32 * 1024 * 1024;
  seconds_d wait_timeout{75};    // for the request to start (keep-alive idle time)
  seconds_d read_timeout{60};    // for the rest of the request once it started
  seconds_d write_timeout{300};  // for an error answer or "100 Continue"
};

/// A request read whole, and its body's share of --max-buffered-body-bytes.
struct client_message {
  http::request<http::string_body> request;
  body_budget::reservation body_hold;
};

/// Reads one whole request from `socket` (leftover bytes stay in `buffer`). Answers "100 Continue" when the
/// client expects it. Returns nullopt when the connection must end: the client closed or timed out, or the
/// request was rejected, in which case the error response was already written (400 for malformed or ambiguous
/// framing, a missing or repeated Host, or headers over the limit; 413 for a body over the limit; 501 for a
/// Transfer-Encoding other than `chunked`), with the request's X-Request-Id or a fresh one. Its reads and
/// writes are bounded on `timer`, the connection's, shared by its requests one after another.
/// The body is reserved on `bodies` before it is read when its length is known (after, for a chunked body);
/// a body the budget cannot take is answered 503 with Retry-After and the connection closes.
/// When it answered the request itself, it fills `refused` (with a non-zero status) for the caller to record
/// (record_refusal); otherwise `refused` is left untouched.
net::awaitable<std::optional<client_message>> read_client_request(client_stream socket,
                                                                  beast::flat_buffer& buffer,
                                                                  const request_limits& limits,
                                                                  operation_timer& timer, body_budget& bodies,
                                                                  refusal& refused);

/// What watch_client saw besides a disconnect; either means the connection ends after the current response.
struct client_watch {
  bool pipeline_dropped = false;  // more than 64 KiB were pipelined: bytes past that were read and dropped
  bool half_closed = false;       // the client shut down its sending side (only with ignore_half_close)
};

/// Completes when the client is gone: it closed or broke its connection or, unless `ignore_half_close`, shut
/// down its sending side (treated as gone, as nginx does). Meant to be raced (`||`) against the handling of a
/// request so a disconnect cancels that handling. It always keeps reading, however much the client sends:
/// bytes of a pipelined next request are appended to `buffer` up to 64 KiB, later ones are dropped (and
/// `watch.pipeline_dropped` set). With `ignore_half_close`, an end of stream sets `watch.half_closed` and the
/// watch then waits to be cancelled.
net::awaitable<void> watch_client(client_stream socket, beast::flat_buffer& buffer, bool ignore_half_close,
                                  client_watch& watch);

}  // namespace pd_proxy
