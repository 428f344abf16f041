#include "pd_proxy/core/flow/retry.hpp"

#include <algorithm>
#include <cmath>

namespace pd_proxy {

seconds_d retry_backoff(seconds_d base, int attempt) {
  return base * std::ldexp(1.0, std::clamp(attempt, 2, 12) - 2);
}

std::string reprefill_request_id(std::string_view request_id, int k) {
  std::string id(request_id);
  id += "-reprefill";
  id += std::to_string(k);
  return id;
}

}  // namespace pd_proxy
