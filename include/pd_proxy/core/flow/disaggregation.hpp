// Conditional disaggregation (--disagg-min-prompt-tokens): whether a request's prompt is long enough to be
// worth a prefill hop, or goes straight to a decoder that prefills it locally (as Dynamo and llm-d do).
#pragma once

#include <cstddef>

#include "pd_proxy/core/scheduling/request_context.hpp"

namespace pd_proxy {

/// True when a request whose body is `body_bytes` long skips the prefill hop: its estimated prompt is below
/// `min_prompt_tokens`. 0 never skips (always disaggregate). One shift and one compare; no allocation.
constexpr bool skips_prefill(std::size_t min_prompt_tokens, std::size_t body_bytes) {
  return estimated_prompt_tokens(body_bytes) < min_prompt_tokens;
}

}  // namespace pd_proxy
