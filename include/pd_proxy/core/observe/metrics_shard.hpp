// The proxy's metrics as per-thread shards: each I/O thread records into its own shard (plain counters and
// histogram bucket arrays: no lock, no read-modify-write instruction, no cache line shared with another
// writer), and a scrape sums the shards. Exposition (Prometheus text format) is the I/O shell's
// (net/observe/metrics_exposition).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "pd_proxy/core/backends/backend_address.hpp"
#include "pd_proxy/core/backends/registry.hpp"
#include "pd_proxy/core/observe/request_record.hpp"

namespace pd_proxy {

/// Upper bounds (seconds) of every latency histogram's buckets: 5 ms to 10 min, dense where LLM latencies
/// live (inter-token 10-100 ms, time to first token 0.1-10 s, whole streams up to minutes).
inline constexpr std::array<double, 26> latency_bucket_bounds{
    0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1,
    1.5,   2,    3,    5,    7.5,  10,   15,  20,   30,  60,  120, 300,  600};
inline constexpr std::size_t latency_buckets = latency_bucket_bounds.size() + 1;  // and +Inf

/// Index of the bucket that `seconds` falls in (the first bound >= seconds; the last index is +Inf).
std::size_t latency_bucket_of(double seconds);

/// A counter with a single writer (the shard's thread) and any number of readers: the writer's update is a
/// relaxed load and store (a plain add on x86), readers see some recent value.
class shard_counter {
 public:
  void add(std::uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

/// One thread's share of a latency histogram: per-bucket (not cumulative) counts and the sum in ns.
struct latency_histogram_shard {
  std::array<shard_counter, latency_buckets> buckets;
  shard_counter sum_ns;
  /// Negative values are ignored.
  void observe(double seconds);
};

/// A latency histogram summed over the shards.
struct latency_histogram_totals {
  std::array<std::uint64_t, latency_buckets> buckets{};  // per bucket, not cumulative
  std::uint64_t count = 0;
  double sum = 0;  // seconds
};

/// pd_proxy_backend_errors_total's labels: role, backend (host:port) and kind (a static string).
using backend_error_key = std::tuple<backend_role, std::string, std::string_view>;

/// Status codes counted per route: 100-599 (others count as 599).
inline constexpr int first_counted_status = 100;
inline constexpr std::size_t status_slots = 500;
std::size_t status_slot(int status);

/// Every metric summed over the shards (what a scrape reads).
struct metrics_totals {
  std::array<std::array<std::uint64_t, status_slots>, request_route_count> requests{};
  std::array<std::uint64_t, 2> retries{};  // by backend_role (prefill, decode)
  std::uint64_t client_disconnects = 0;
  std::uint64_t local_prefills = 0;
  std::uint64_t skipped_prefills = 0;
  latency_histogram_totals ttft, itl, prefill, decode, duration;
  std::map<backend_error_key, std::uint64_t> backend_errors;
};

/// One thread's metrics. Every member but backend errors is written by its thread only; a scrape reads them
/// from another thread. Backend errors (rare: a failed attempt) take the shard's own mutex, which only a
/// scrape contends for.
struct alignas(64) metrics_shard {
  std::array<std::array<shard_counter, status_slots>, request_route_count> requests;
  std::array<shard_counter, 2> retries;
  shard_counter client_disconnects;
  shard_counter local_prefills;
  shard_counter skipped_prefills;    // requests below --disagg-min-prompt-tokens: no prefill leg
  latency_histogram_shard ttft;      // request received -> first decode byte written to the client
  latency_histogram_shard itl;       // between writes of relayed SSE events to the client
  latency_histogram_shard prefill;   // the last prefill attempt: sent -> answered
  latency_histogram_shard decode;    // the last decode attempt: sent -> relay ended
  latency_histogram_shard duration;  // request received -> response ended

  /// A request ended: its route and status, retries, disconnect, local or skipped prefill and latencies.
  void record(const request_record& record);
  /// One failed attempt on a backend.
  void backend_error(backend_role role, std::string_view backend, std::string_view kind);
  /// Adds this shard's values to `totals`.
  void add_to(metrics_totals& totals) const;
  /// Drops the backend errors of every backend whose label is not in `living`.
  void forget_backend_errors(const std::set<backend_label>& living);

 private:
  mutable std::mutex errors_mutex_;
  std::map<backend_error_key, std::uint64_t> backend_errors_;
};

/// The shards of one proxy. Thread-safe.
class proxy_metrics {
 public:
  proxy_metrics();
  ~proxy_metrics();
  proxy_metrics(const proxy_metrics&) = delete;
  proxy_metrics& operator=(const proxy_metrics&) = delete;

  /// The calling thread's shard. A thread's first call registers its shard (under a mutex, once); later calls
  /// are a thread_local lookup. Use the shard only on the thread that got it.
  metrics_shard& local();
  /// Every shard summed.
  metrics_totals totals() const;
  /// The number of shards (threads that recorded).
  std::size_t shards() const;
  /// Drops every shard's pd_proxy_backend_errors_total series of backends whose label is not in `living`
  /// (backend_registry::living_labels: removed and no longer held by any request). Takes each shard's error
  /// mutex in turn; the request path is not slowed otherwise. A late error of a backend already forgotten
  /// starts its series again, and the next call forgets it again.
  void forget_backend_errors(const std::set<backend_label>& living);

  /// pd_proxy_log_dropped_total's source: log lines the asynchronous logger dropped. Returns 0 until the
  /// logger is wired to it. Set it before the workers start.
  std::function<std::uint64_t()> log_dropped = [] { return std::uint64_t{0}; };

  /// pd_proxy_config_reloads_total{result}: SIGHUP reloads applied, and rejected (the running configuration
  /// stayed).
  std::atomic<std::uint64_t> reloads_applied{0};
  std::atomic<std::uint64_t> reloads_rejected{0};

 private:
  const std::uint64_t id_;  // unique in the process: thread_local bindings are keyed by it, not the address
  mutable std::mutex mutex_;
  std::vector<std::pair<std::thread::id, std::unique_ptr<metrics_shard>>> shards_;
};

}  // namespace pd_proxy
