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
  // Cumulative prefix-cache counters in tokens (vllm:prefix_cache_hits_total / _queries_total), 0 when the
  // engine does not export them.
  double prefix_cache_hits = 0;
  double prefix_cache_queries = 0;
  // False: the engine could not be read (failed or timed-out scrape, unparsable answer); the other values
  // are meaningless and policies fall back to this proxy's own accounting until the next good report.
  bool known = true;
  std::chrono::steady_clock::time_point read_at{};  // when the engine was read
};

}  // namespace pd_proxy
