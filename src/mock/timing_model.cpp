#include "pd_proxy/mock/timing_model.hpp"

#include <algorithm>
#include <cmath>

namespace pd_proxy::mock {

duration prefill_time(const timing_params& p, int prompt_tokens, int cached_tokens) {
  const int computed = std::max(0, prompt_tokens - std::clamp(cached_tokens, 0, std::max(0, prompt_tokens)));
  return duration(static_cast<long long>(std::llround(p.prefill_us_per_token * computed)));
}

duration decode_step_time(const timing_params& p, int running) {
  const double ms = p.decode_ms_per_token + p.decode_ms_per_seq * std::max(0, running - 1);
  return duration(static_cast<long long>(std::llround(ms * 1000.0)));
}

timing_params no_delay() {
  return timing_params{0, 0, 0, 0};
}

}  // namespace pd_proxy::mock
