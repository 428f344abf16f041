// How a request's leg ended on its backend, as its circuit breaker counts it.
#pragma once

#include <cstdint>

#include "pd_proxy/core/health/answer_health.hpp"

namespace pd_proxy {

/// failed: a connect error, reset, timeout, 5xx, 429 or a broken stream. succeeded: any other answer (2xx,
/// or a 4xx: the backend judged the request). abandoned: nothing to attribute (the client went away, the
/// drain stopped it).
enum class leg_result : std::uint8_t { succeeded, failed, abandoned };

/// The breaker's reading of a backend's answer with `status` (core/health/answer_health): 5xx and 429 are
/// failures (the backend is broken or overloaded); any other status means the backend is alive and judged
/// the request.
constexpr leg_result leg_result_of_answer(int status) {
  return counts_against_breaker(status) ? leg_result::failed : leg_result::succeeded;
}

}  // namespace pd_proxy
