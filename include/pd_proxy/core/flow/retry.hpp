// When and how soon a failed backend attempt is tried again.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "pd_proxy/core/backends/backend_failure.hpp"
#include "pd_proxy/core/config/config.hpp"
#include "pd_proxy/core/health/answer_health.hpp"

namespace pd_proxy {

/// A 2xx answer: the backend did what was asked.
constexpr bool is_success_status(int status) {
  return status >= 200 && status < 300;
}

/// A backend answer the PD flow retries on another backend (before the client got a byte): 429 and 5xx.
/// Every other non-2xx status is the backend's verdict on the request and is passed to the client.
constexpr bool is_retryable_status(int status) {
  return counts_against_breaker(status);  // the same statuses: the backend is broken or overloaded
}

/// The failure of a decoder's first read: a 2xx answer whose body ended before its first byte failed as a
/// broken transport would (it is retried; an empty 200 never reaches the client). Otherwise `failure`.
constexpr backend_failure first_read_failure(backend_failure failure, std::size_t bytes_read) {
  return failure == backend_failure::none && bytes_read == 0 ? backend_failure::transport : failure;
}

/// The X-Request-Id of both legs once the k-th new prefill (k >= 1) of a request started:
/// "<id>-reprefill<k>". A prefiller may still hold the KV under the old id, and a backend refuses a duplicate
/// id.
std::string reprefill_request_id(std::string_view request_id, int k);

/// The delay before attempt `attempt` (2, 3, ...): `base` doubled per attempt after the second, at most 1024
/// times `base`, so that no attempt count overflows it (attempt 2: base, 3: 2·base, ... 12 and later:
/// 1024·base).
seconds_d retry_backoff(seconds_d base, int attempt);

/// Whether a decode retry first runs the prefill again: with --decode-retry-kv reprefill, once the failed
/// decoder received the whole request (it may have pulled the KV, which the prefiller then frees). A decoder
/// that was never reached, or not sent the whole request, pulled nothing: its KV is reused in either mode.
constexpr bool decode_retry_needs_prefill(decode_retry_kv mode, bool decoder_received_request) {
  return mode == decode_retry_kv::reprefill && decoder_received_request;
}

}  // namespace pd_proxy
