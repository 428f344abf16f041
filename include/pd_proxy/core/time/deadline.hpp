// Deadlines from configured limits, on any clock (steady_clock in the I/O layer, manual_clock in tests).
#pragma once

#include <algorithm>
#include <chrono>

#include "pd_proxy/core/config/config.hpp"

namespace pd_proxy {

/// The largest limit a deadline honours (1e9 s, the CLI's maximum): `now + limit` never overflows.
inline constexpr seconds_d max_deadline_limit{1e9};

/// `now + limit`, or `time_point::max()` (no deadline) when `limit` is zero, negative or NaN. Limits above
/// max_deadline_limit saturate to it.
template <class Clock>
typename Clock::time_point deadline_after(seconds_d limit, typename Clock::time_point now) {
  if (!(limit.count() > 0)) return Clock::time_point::max();
  const seconds_d bounded = std::min(limit, max_deadline_limit);
  return now + std::chrono::duration_cast<typename Clock::duration>(bounded);
}

/// What is left of `deadline` at `now` as a limit for the next step: zero (no limit) for no deadline, and
/// never less than 1 µs otherwise, so that an expired deadline still times the step out instead of
/// disabling its limit.
template <class Clock>
seconds_d time_left(typename Clock::time_point deadline, typename Clock::time_point now) {
  if (deadline == Clock::time_point::max()) return seconds_d{0};
  return std::max(seconds_d{1e-6}, std::chrono::duration_cast<seconds_d>(deadline - now));
}

}  // namespace pd_proxy
