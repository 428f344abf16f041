#include "pd_proxy/core/observe/metrics_shard.hpp"

#include <algorithm>
#include <cmath>

namespace pd_proxy {

std::size_t latency_bucket_of(double seconds) {
  return static_cast<std::size_t>(
      std::lower_bound(latency_bucket_bounds.begin(), latency_bucket_bounds.end(), seconds) -
      latency_bucket_bounds.begin());
}

void latency_histogram_shard::observe(double seconds) {
  if (!(seconds >= 0)) return;
  buckets[latency_bucket_of(seconds)].add();
  sum_ns.add(static_cast<std::uint64_t>(std::llround(std::min(seconds, 1e9) * 1e9)));
}

std::size_t status_slot(int status) {
  if (status < first_counted_status || status >= first_counted_status + static_cast<int>(status_slots))
    return status_slots - 1;
  return static_cast<std::size_t>(status - first_counted_status);
}

void metrics_shard::record(const request_record& r) {
  requests[static_cast<std::size_t>(r.route)][status_slot(r.status)].add();
  if (r.prefill_retries > 0) retries[static_cast<std::size_t>(backend_role::prefill)].add(r.prefill_retries);
  if (r.decode_retries > 0) retries[static_cast<std::size_t>(backend_role::decode)].add(r.decode_retries);
  if (r.outcome == request_outcome::client_abort) client_disconnects.add();
  if (r.local_prefill) local_prefills.add();
  if (r.prefill_skipped) skipped_prefills.add();
  ttft.observe(seconds_between(r.received, r.first_byte));
  prefill.observe(seconds_between(r.prefill_start, r.prefill_done));
  if (request_record::reached(r.first_byte)) decode.observe(seconds_between(r.decode_start, r.end));
  duration.observe(seconds_between(r.received, r.end));
}

void metrics_shard::backend_error(backend_role role, std::string_view backend, std::string_view kind) {
  std::lock_guard lock(errors_mutex_);
  ++backend_errors_[backend_error_key{role, std::string(backend), kind}];
}

namespace {

void add_histogram(const latency_histogram_shard& from, latency_histogram_totals& to) {
  for (std::size_t i = 0; i < latency_buckets; ++i) {
    const std::uint64_t n = from.buckets[i].value();
    to.buckets[i] += n;
    to.count += n;
  }
  to.sum += static_cast<double>(from.sum_ns.value()) / 1e9;
}

}  // namespace

void metrics_shard::add_to(metrics_totals& totals) const {
  for (std::size_t route = 0; route < request_route_count; ++route) {
    for (std::size_t slot = 0; slot < status_slots; ++slot) {
      totals.requests[route][slot] += requests[route][slot].value();
    }
  }
  for (std::size_t role = 0; role < retries.size(); ++role) totals.retries[role] += retries[role].value();
  totals.client_disconnects += client_disconnects.value();
  totals.local_prefills += local_prefills.value();
  totals.skipped_prefills += skipped_prefills.value();
  add_histogram(ttft, totals.ttft);
  add_histogram(itl, totals.itl);
  add_histogram(prefill, totals.prefill);
  add_histogram(decode, totals.decode);
  add_histogram(duration, totals.duration);
  std::lock_guard lock(errors_mutex_);
  for (const auto& [key, n] : backend_errors_) totals.backend_errors[key] += n;
}

void metrics_shard::forget_backend_errors(const std::set<backend_label>& living) {
  std::lock_guard lock(errors_mutex_);
  std::erase_if(backend_errors_, [&](const auto& entry) {
    const auto& [role, backend, kind] = entry.first;
    return !living.contains(backend_label{role, backend});
  });
}

namespace {

std::atomic<std::uint64_t> next_metrics_id{1};

// The calling thread's shard of the proxy_metrics whose id is `owner` (a thread records for one proxy).
struct shard_binding {
  std::uint64_t owner = 0;
  metrics_shard* shard = nullptr;
};
thread_local shard_binding bound;

}  // namespace

proxy_metrics::proxy_metrics() : id_(next_metrics_id.fetch_add(1, std::memory_order_relaxed)) {}

proxy_metrics::~proxy_metrics() = default;

metrics_shard& proxy_metrics::local() {
  if (bound.owner == id_) return *bound.shard;
  const auto self = std::this_thread::get_id();
  std::lock_guard lock(mutex_);
  auto it = std::find_if(shards_.begin(), shards_.end(), [&](const auto& s) { return s.first == self; });
  if (it == shards_.end()) {
    shards_.emplace_back(self, std::make_unique<metrics_shard>());
    it = std::prev(shards_.end());
  }
  bound = {id_, it->second.get()};
  return *bound.shard;
}

metrics_totals proxy_metrics::totals() const {
  metrics_totals totals;
  std::lock_guard lock(mutex_);
  for (const auto& [thread, shard] : shards_) shard->add_to(totals);
  return totals;
}

void proxy_metrics::forget_backend_errors(const std::set<backend_label>& living) {
  std::lock_guard lock(mutex_);
  for (auto& [thread, shard] : shards_) shard->forget_backend_errors(living);
}

std::size_t proxy_metrics::shards() const {
  std::lock_guard lock(mutex_);
  return shards_.size();
}

}  // namespace pd_proxy
