// A clock that moves only when a test moves it (as Boost.MySQL's mock_clock): timeouts without sleeping.
#pragma once

#include <chrono>

namespace pd_proxy {

/// Meets the Clock requirements with steady_clock's units. Its time is process-wide: tests that use it set
/// it with reset() first and must not run it from several threads at once.
struct manual_clock {
  using duration = std::chrono::steady_clock::duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<manual_clock>;
  static constexpr bool is_steady = true;

  static time_point now() noexcept { return time_point{current()}; }
  static void advance(duration d) noexcept { current() += d; }
  static void reset() noexcept { current() = duration::zero(); }

 private:
  static duration& current() noexcept {
    static duration value{};
    return value;
  }
};

}  // namespace pd_proxy
