#include "pd_proxy/core/scheduling/random_policy.hpp"

namespace pd_proxy {

backend* random_policy::pick(const request_context& request) {
  const std::size_t n = candidates_.size();
  if (n == 0) return nullptr;
  const std::size_t drawn = rng_.below(n);
  std::size_t chosen = candidates_.first_untried(drawn, request);
  if (chosen == n) chosen = drawn;  // every candidate was tried: any may be picked again
  return candidates_[chosen].target;
}

}  // namespace pd_proxy
