// What the metrics scraper learnt, for the proxy's own /metrics: its scrape counts and each backend's last
// load.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "pd_proxy/core/backends/backend.hpp"
#include "pd_proxy/core/backends/engine_load.hpp"

namespace pd_proxy {

/// The scraper writes (one scrape per backend per --metrics-scrape-interval), a scrape of the proxy's
/// /metrics reads. Holds one entry per backend whose last scrape succeeded. Thread-safe: a mutex held for one
/// map operation; the counters are relaxed atomics.
class engine_reports {
 public:
  /// A scrape of backend `id` read `load`: counted as ok, and kept as its last load.
  void scraped(backend_id id, const engine_load& load);
  /// A scrape of backend `id` failed: counted, and its last load is forgotten (it is no longer known).
  void failed(backend_id id);
  /// Backend `id` left the pools: its last load is forgotten (not counted).
  void forget(backend_id id);

  /// The load of `id`'s last scrape when that scrape succeeded, else nullopt.
  std::optional<engine_load> last(backend_id id) const;
  std::uint64_t scrapes_ok() const { return ok_.load(std::memory_order_relaxed); }
  std::uint64_t scrapes_failed() const { return failed_.load(std::memory_order_relaxed); }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<backend_id, engine_load> last_;  // under mutex_
  std::atomic<std::uint64_t> ok_{0};
  std::atomic<std::uint64_t> failed_{0};
};

}  // namespace pd_proxy
