// Random: a uniformly random candidate, blind to load.
#pragma once

#include "pd_proxy/core/scheduling/candidate_list.hpp"
#include "pd_proxy/core/scheduling/policy_rng.hpp"
#include "pd_proxy/core/scheduling/selection_policy.hpp"

namespace pd_proxy {

/// A uniformly random candidate (policy_settings::seed fixes the sequence). When the draw is a tried
/// backend, the next untried one in pool order is taken instead (so a retry never repeats a backend while
/// another exists). O(1) per pick plus one step per tried backend.
class random_policy final : public selection_policy {
 public:
  explicit random_policy(const policy_settings& settings) : rng_(settings.seed) {}

  void add(backend& b, const fixed_load& load) override { candidates_.add(b, load); }
  void remove(backend& b) override { candidates_.remove(b); }
  void load_changed(backend& b, const fixed_load& load) override { (void)b, (void)load; }
  backend* pick(const request_context& request) override;

 private:
  candidate_list candidates_;
  policy_rng rng_;
};

}  // namespace pd_proxy
