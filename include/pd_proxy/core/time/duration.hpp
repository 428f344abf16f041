// The proxy's one duration type.
#pragma once

#include <chrono>

namespace pd_proxy {

/// Seconds. Every duration the CLI puts in proxy_config is finite, 0 or at least 1 ns, and at most 1e9 s
/// (max_duration_seconds in cli.hpp), so steady_clock::now() plus it never overflows a timer.
using seconds_d = std::chrono::duration<double>;

}  // namespace pd_proxy
