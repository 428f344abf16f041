// A request the proxy refused before routing it (the reader's framing and size checks, --max-connections):
// counted in pd_proxy_requests_total and written to the access log like a routed request.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "pd_proxy/core/observe/request_record.hpp"
#include "pd_proxy/net/observe/record_sinks.hpp"

namespace pd_proxy {

struct refusal {
  int status = 0;                              // the status sent to the client; 0: nothing was refused
  request_route route = request_route::other;  // from the request path when the request line was read
  request_outcome outcome = request_outcome::invalid_request;
  std::string_view method;  // a static string (Beast's verb names); empty when no request line was read
  std::string request_id;   // the answer's X-Request-Id
  std::uint64_t bytes_sent = 0;
  std::chrono::system_clock::time_point answered{};  // when the answer's write ended (the access log's ts)
};

/// The outcome of a refusal answered with `status`: `rejected` for a 503 (an overload the client may retry),
/// else `invalid_request` (the request itself was refused: 400, 413, 501, ...). Unlike outcome_of_status, a
/// 5xx refusal is never `ok`.
request_outcome refusal_outcome(int status);

/// Counts `refused` on the calling thread's metrics shard and queues its access-log line (with
/// `client_address`, "ip:port" or empty). Does nothing when `refused.status` is 0.
void record_refusal(record_sinks sinks, refusal&& refused, std::string_view client_address);

}  // namespace pd_proxy
