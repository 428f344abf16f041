// Queue-aware: the backend whose engine has the fewest requests queued and running.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "pd_proxy/core/scheduling/load_ordered_index.hpp"
#include "pd_proxy/core/scheduling/selection_policy.hpp"

namespace pd_proxy {

/// Least queue wins. A backend's queue is what its engine last reported (scheduler::report_load: running +
/// waiting, from its /metrics) plus the requests this proxy sent it since that report, so several proxy
/// replicas in front of the same engines see each other's traffic through the engines, with no shared
/// state. A backend without a usable report (none yet, the last scrape failed: engine_load::known false, or
/// the report is older than policy_settings::report_ttl) counts this proxy's requests in flight on it.
/// Ties rotate in pool order; tried backends are avoided (load_ordered_index).
///
/// A pick is O(log n), plus O(log n) per stale report found at the head of the order (each is found once);
/// a load change or report is O(log n).
class queue_aware_policy final : public selection_policy {
 public:
  explicit queue_aware_policy(const policy_settings& settings)
      : report_ttl_(settings.report_ttl), now_(settings.now) {}

  void add(backend& b, const fixed_load& load) override;
  void remove(backend& b) override;
  void load_changed(backend& b, const fixed_load& load) override;
  void load_reported(backend& b, const engine_load& load) override;
  backend* pick(const request_context& request) override;

  /// The queue the policy weighs `b` by (requests); 0 when `b` is not a candidate. For tests and logs.
  double queue(const backend& b) const;

 private:
  struct backend_state {
    bool reported = false;    // the engine's report is in use
    double engine_queue = 0;  // running + waiting, as last reported
    policy_settings::clock::time_point received{};
    std::uint32_t sent_since_report = 0;  // requests reserved on it since the report
    std::uint32_t inflight = 0;           // this proxy's requests holding a reservation on it
  };
  /// The queue as an index key: thousandths of a request.
  static std::int64_t key(const backend_state& s);
  bool stale(const backend_state& s, policy_settings::clock::time_point now) const;

  policy_settings::clock::duration report_ttl_;
  policy_settings::clock::time_point (*now_)();
  load_ordered_index index_;
  std::unordered_map<backend_id, backend_state> states_;
};

}  // namespace pd_proxy
