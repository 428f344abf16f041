// Power of two choices: two random candidates, the less loaded wins.
#pragma once

#include "pd_proxy/core/scheduling/candidate_list.hpp"
#include "pd_proxy/core/scheduling/policy_rng.hpp"
#include "pd_proxy/core/scheduling/selection_policy.hpp"

namespace pd_proxy {

/// Draws two distinct untried candidates at random and takes the one with the lower least-loaded key
/// (active_tokens + 0.3 * active_kv from this proxy's reservations; the first drawn on a tie). Nearly as
/// even as least-loaded under steady load (Mitzenmacher's power of two choices), but several proxy
/// replicas, each with its own view, do not all herd onto the same least-loaded backend. A draw that hits a
/// tried backend moves to the next untried one in pool order. O(1) per pick plus one step per tried backend.
class power_of_two_policy final : public selection_policy {
 public:
  explicit power_of_two_policy(const policy_settings& settings) : rng_(settings.seed) {}

  void add(backend& b, const fixed_load& load) override { candidates_.add(b, load); }
  void remove(backend& b) override { candidates_.remove(b); }
  void load_changed(backend& b, const fixed_load& load) override { candidates_.load_changed(b, load); }
  backend* pick(const request_context& request) override;

 private:
  candidate_list candidates_;
  policy_rng rng_;
};

}  // namespace pd_proxy
