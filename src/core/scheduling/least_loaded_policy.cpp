#include "pd_proxy/core/scheduling/least_loaded_policy.hpp"

#include <limits>

namespace pd_proxy {

std::size_t least_loaded_policy::pick(std::span<const backend_load> loads, const std::vector<bool>& excluded) {
  // Priorities closer than this are ties: releases leave float residue around zero.
  constexpr double tie_epsilon = 1e-6;
  const std::size_t n = loads.size();
  std::size_t best = n;
  double best_priority = std::numeric_limits<double>::infinity();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (cursor_ + k) % n;
    if (!excluded.empty() && excluded[i]) continue;
    const double p = priority(loads[i]);
    if (p < best_priority - tie_epsilon) {
      best = i;
      best_priority = p;
    }
  }
  if (best == n) best = cursor_ % n;  // unreachable when the contract holds
  cursor_ = (best + 1) % n;
  return best;
}

std::unique_ptr<selection_policy> make_policy(const std::string& name) {
  if (name == "least-loaded") return std::make_unique<least_loaded_policy>();
  return nullptr;
}

}  // namespace pd_proxy
