// A backend's load in fixed point: the exact form the scheduler accounts in and policies order by.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace pd_proxy {

/// Load in millionths of a token. Integer sums and differences are exact, so releasing a reservation
/// returns a backend to exactly the load it had before, and equal loads compare equal (no float residue).
struct fixed_load {
  static constexpr std::int64_t units_per_token = 1'000'000;
  /// The largest score one reservation may carry (10^9 tokens); larger scores are clamped to it, so that
  /// sums of realistic numbers of reservations stay far from int64 overflow.
  static constexpr double max_tokens = 1e9;

  std::int64_t tokens = 0;     // active_tokens, in units
  std::int64_t kv = 0;         // active_kv, in units
  std::uint32_t inflight = 0;  // requests currently holding a reservation

  /// `score` tokens in units, rounded to the nearest unit. NaN and negative scores count as 0, scores above
  /// max_tokens as max_tokens. The caller keeps the returned value and releases exactly that.
  static std::int64_t units(double score) {
    if (!(score > 0)) return 0;
    return std::llround(std::min(score, max_tokens) * static_cast<double>(units_per_token));
  }
  static double tokens_of(std::int64_t units) {
    return static_cast<double>(units) / static_cast<double>(units_per_token);
  }

  friend bool operator==(const fixed_load&, const fixed_load&) = default;
};

/// The reference's priority, active_tokens + 0.3 * active_kv, times 10 in fixed-point units: exact, so equal
/// loads compare equal. What least-loaded orders by and power-of-two compares.
constexpr std::int64_t load_key(const fixed_load& load) {
  return 10 * load.tokens + 3 * load.kv;
}

}  // namespace pd_proxy
