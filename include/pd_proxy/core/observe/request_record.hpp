// What one client request did, filled in by the I/O shell as the request runs: the access log's line and the
// metrics' observations are computed from it when the request ends (pure functions, unit-tested).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "pd_proxy/core/backends/backend_failure.hpp"
#include "pd_proxy/core/http/routes.hpp"
#include "pd_proxy/core/observe/request_outcome.hpp"

namespace pd_proxy {

/// The outcome of a request the proxy answered itself (not the PD flow) from its status.
request_outcome outcome_of_status(int status);

/// The `kind` label of pd_proxy_backend_errors_total: the failure's name ("connect", "timeout",
/// "transport", "too_large"), or for an answer "http_429" / "http_5xx".
std::string_view failure_kind(backend_failure failure);
std::string_view answer_kind(int status);

struct request_record {
  using clock = std::chrono::steady_clock;

  std::string request_id;
  std::string_view method;                     // a static string (Beast's verb names)
  request_route route = request_route::other;  // the label (core/http/routes)
  int status = 0;                              // the status sent to the client; 0 while none was
  request_outcome outcome = request_outcome::ok;
  std::string prefiller;  // host:port of the last prefill attempt; empty when there was none
  std::string decoder;    // host:port of the last decode attempt
  std::uint32_t prefill_retries = 0;
  std::uint32_t decode_retries = 0;
  bool local_prefill = false;    // the prefiller returned no kv_transfer_params
  bool prefill_skipped = false;  // below --disagg-min-prompt-tokens: no prefill leg, the decoder prefilled
  backend_failure last_failure = backend_failure::none;
  std::uint64_t prompt_bytes = 0;  // the client's request body
  std::uint64_t bytes_sent = 0;    // written to the client for this response (head and framing included)
  // Time points; a default (epoch) value means "not reached".
  clock::time_point received{};                           // the request was read whole
  clock::time_point prefill_start{};                      // the last prefill attempt began
  clock::time_point prefill_done{};                       // its answer arrived
  clock::time_point decode_start{};                       // the last decode attempt began
  clock::time_point first_byte{};                         // the first decoder byte was written to the client
  clock::time_point end{};                                // the response ended (or the client went away)
  std::chrono::system_clock::time_point wall_received{};  // for the access log's "ts"
  std::string client_address;                             // "ip:port"; empty when not known

  static bool reached(clock::time_point t) { return t != clock::time_point{}; }
  void clear_backends() {
    prefiller.clear();
    decoder.clear();
  }
};

/// Seconds from `from` to `to` when both were reached (and `to` is not before `from`), else a negative value.
double seconds_between(request_record::clock::time_point from, request_record::clock::time_point to);

/// The access log's line for `record`: one JSON object, newline-terminated, with `ts` (UTC, ISO 8601,
/// milliseconds), `request_id`, `method`, `route`, `status`, `outcome`, `prefiller`, `decoder`, `retries`
/// (both legs), `prefill_retries`, `decode_retries`, `prefill_skipped` (true or false), `prompt_bytes`,
/// `bytes_sent`, `prefill_ms`, `ttft_ms`,
/// `duration_ms` (null when the request did not reach that point) and `client_address`.
std::string access_log_line(const request_record& record);
/// The same line appended to `out` (no allocation when `out` has room).
void append_access_log_line(std::string& out, const request_record& record);

}  // namespace pd_proxy
