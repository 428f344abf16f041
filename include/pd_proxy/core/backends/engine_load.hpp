// A backend's load as its engine reports it, for policies that weigh the engines' real queues.
#pragma once

#include <chrono>
#include <cstdint>

namespace pd_proxy {

/// What an engine said about its own load (vLLM's /metrics), read by a component outside the request path
/// and handed to the role's policy through scheduler::report_load. Values are as exported: counts of
/// requests, and the KV cache's use as a fraction in [0, 1].
struct engine_load {
  double running = 0;         // vllm:num_requests_running
  double waiting = 0;         // vllm:num_requests_waiting
  double kv_cache_usage = 0;  // vllm:kv_cache_usage_perc (older vLLM: vllm:gpu_cache_usage_perc)
  std::chrono::steady_clock::time_point read_at{};  // when the engine was read
};

}  // namespace pd_proxy
