// What a backend's answer status says of the backend's health: the one reading the breaker (a request's leg,
// core/scheduling/leg_result) and the active health check (net/health/health_probe) both use.
#pragma once

#include <cstdint>

namespace pd_proxy {

enum class answer_health : std::uint8_t {
  alive,       // 1xx-4xx but 429: the backend is up and judged the request (a 404 or 400 is its verdict)
  overloaded,  // 429: the backend is up but refuses work
  broken,      // 5xx: the backend failed
};

constexpr answer_health answer_health_of(int status) {
  if (status >= 500) return answer_health::broken;
  if (status == 429) return answer_health::overloaded;
  return answer_health::alive;
}

/// Whether an answer counts against the backend's circuit breaker: a broken or overloaded backend should get
/// no more requests for a while.
constexpr bool counts_against_breaker(int status) {
  return answer_health_of(status) != answer_health::alive;
}

/// Whether an active health check passes on an answer: the server is up (an overloaded one too, so that a
/// busy engine is not marked down by its own checks; the breaker handles its 429s).
constexpr bool health_check_passes(int status) {
  return answer_health_of(status) != answer_health::broken;
}

}  // namespace pd_proxy
