// A count of requests in flight held for a scope: what the drain waits on.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

namespace pd_proxy {

/// Increments `n` for its lifetime (relaxed: a gauge, read by the drain and the metrics). Movable: the count
/// goes with the guard (a coroutine frame can own it).
class inflight_guard {
 public:
  explicit inflight_guard(std::atomic<std::int64_t>& n) : n_(&n) {
    n_->fetch_add(1, std::memory_order_relaxed);
  }
  ~inflight_guard() {
    if (n_ != nullptr) n_->fetch_sub(1, std::memory_order_relaxed);
  }
  inflight_guard(inflight_guard&& other) noexcept : n_(std::exchange(other.n_, nullptr)) {}
  inflight_guard& operator=(inflight_guard&&) = delete;
  inflight_guard(const inflight_guard&) = delete;
  inflight_guard& operator=(const inflight_guard&) = delete;

 private:
  std::atomic<std::int64_t>* n_;
};

}  // namespace pd_proxy
