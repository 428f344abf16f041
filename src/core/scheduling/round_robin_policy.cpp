#include "pd_proxy/core/scheduling/round_robin_policy.hpp"

namespace pd_proxy {

backend* round_robin_policy::pick(const request_context& request) {
  const std::size_t n = candidates_.size();
  if (n == 0) return nullptr;
  const std::size_t start = cursor_ % n;
  std::size_t chosen = candidates_.first_untried(start, request);
  if (chosen == n) chosen = start;  // every candidate was tried: any may be picked again
  cursor_ = chosen + 1;
  return candidates_[chosen].target;
}

}  // namespace pd_proxy
