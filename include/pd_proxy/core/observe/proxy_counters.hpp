// The process-wide counters of PD requests.
#pragma once

#include <atomic>
#include <cstdint>

namespace pd_proxy {

/// Monotonic counters, updated with relaxed atomics from any worker.
struct proxy_counters {
  std::atomic<std::uint64_t> pd_requests{0};         // PD requests started
  std::atomic<std::uint64_t> local_prefills{0};      // prefiller returned no kv_transfer_params
  std::atomic<std::uint64_t> client_disconnects{0};  // client went away before its response ended
  std::atomic<std::uint64_t> prefill_retries{0};     // prefill attempts after the first
  std::atomic<std::uint64_t> decode_retries{0};      // decode attempts after the first
  std::atomic<std::uint64_t> midstream_failures{0};  // decoder failed after bytes reached the client
};

/// Increments a count of requests in flight (e.g. proxy_state::request_num) for its lifetime.
class inflight_guard {
 public:
  explicit inflight_guard(std::atomic<std::int64_t>& n) : n_(n) {
    n_.fetch_add(1, std::memory_order_relaxed);
  }
  ~inflight_guard() { n_.fetch_sub(1, std::memory_order_relaxed); }
  inflight_guard(const inflight_guard&) = delete;
  inflight_guard& operator=(const inflight_guard&) = delete;

 private:
  std::atomic<std::int64_t>& n_;
};

}  // namespace pd_proxy
