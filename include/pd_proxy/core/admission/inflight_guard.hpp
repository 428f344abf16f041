// A count of requests in flight held for a scope: what the drain waits on.
#pragma once

#include <atomic>
#include <cstdint>

namespace pd_proxy {

/// Increments `n` for its lifetime (relaxed: a gauge, read by the drain and the metrics).
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
