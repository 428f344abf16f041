// When and how soon a failed backend attempt is tried again.
#pragma once

#include "pd_proxy/core/config.hpp"

namespace pd_proxy {

/// A backend answer the PD flow retries on another backend (before the client got a byte): 429 and 5xx.
/// Every other non-2xx status is the backend's verdict on the request and is passed to the client.
constexpr bool is_retryable_status(int status) {
  return status == 429 || status >= 500;
}

/// The delay before attempt `attempt` (2, 3, ...): `base` doubled per attempt after the second, at most 1024
/// times `base`, so that no attempt count overflows it (attempt 2: base, 3: 2·base, ... 12 and later:
/// 1024·base).
seconds_d retry_backoff(seconds_d base, int attempt);

}  // namespace pd_proxy
