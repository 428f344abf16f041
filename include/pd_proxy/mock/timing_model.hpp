// pd-mock's timing model: how long a prefill and each decode step take.
#pragma once

#include <chrono>

namespace pd_proxy::mock {

struct timing_params {
  double prefill_us_per_token = 40.0;  // prefill cost per prompt token
  double decode_ms_per_token = 15.0;   // one decode step with a single running sequence
  double decode_ms_per_seq = 0.05;     // added to a step per additional running sequence (batching cost)
  double slow_first_token_ms = 0.0;    // extra delay before the first generated token
};

using duration = std::chrono::microseconds;

/// Time to prefill `prompt_tokens`, of which the prefix cache already holds `cached_tokens`: only the
/// uncached tokens are computed (clamped to [0, prompt_tokens]).
duration prefill_time(const timing_params& p, int prompt_tokens, int cached_tokens = 0);

/// Time of one decode step while `running` sequences (including this one, so >= 1) share the engine.
duration decode_step_time(const timing_params& p, int running);

/// Every delay zero (`--no-delay`): the engine answers as fast as it can.
timing_params no_delay();

}  // namespace pd_proxy::mock
