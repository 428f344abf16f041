#include "pd_proxy/core/scheduling/power_of_two_policy.hpp"

#include "pd_proxy/core/scheduling/least_loaded_policy.hpp"

namespace pd_proxy {

backend* power_of_two_policy::pick(const request_context& request) {
  const std::size_t n = candidates_.size();
  if (n == 0) return nullptr;
  const std::size_t drawn = rng_.below(n);
  std::size_t first = candidates_.first_untried(drawn, request);
  if (first == n) return candidates_[drawn].target;  // every candidate was tried: any may be picked again
  if (n == 1) return candidates_[first].target;
  // A second position distinct from `first`, uniform over the others.
  std::size_t other = rng_.below(n - 1);
  if (other >= first) ++other;
  std::size_t second = candidates_.first_untried(other, request);
  if (second == first) return candidates_[first].target;  // the scan from `other` came back to `first`
  const auto& a = candidates_[first];
  const auto& b = candidates_[second];
  return least_loaded_policy::key(b.load) < least_loaded_policy::key(a.load) ? b.target : a.target;
}

}  // namespace pd_proxy
