// What a PD protocol's state machine is configured with: its own settings, not the proxy's whole
// configuration (flow_settings_of() in core/config picks them out of proxy_config).
#pragma once

#include <cstddef>
#include <string_view>

#include "pd_proxy/core/time/duration.hpp"

namespace pd_proxy {

/// What a decode retry sends to the next decoder (`--decode-retry-kv`).
enum class decode_retry_kv {
  reuse,      // the same kv_transfer_params the prefiller returned (right when the failed decoder had not
              // pulled the KV yet; no extra prefill)
  reprefill,  // run the prefill again on a prefiller and send its fresh kv_transfer_params (right when a
              // decoder may fail after pulling the KV: the prefiller frees its blocks once they are pulled)
};

/// "reuse" or "reprefill", as on the command line.
constexpr std::string_view to_string(decode_retry_kv mode) {
  return mode == decode_retry_kv::reprefill ? "reprefill" : "reuse";
}

/// The settings of one request's flow (a request keeps the ones it started with; a reload applies to new
/// requests).
struct flow_settings {
  int attempts = 1;          // per leg, at least 1 (--max-retries)
  seconds_d retry_delay{0};  // the first back-off (--retry-delay), doubled per attempt
  ::pd_proxy::decode_retry_kv decode_retry_kv = ::pd_proxy::decode_retry_kv::reuse;
  seconds_d prefill_timeout{0};      // a prefill leg, from its send to its whole answer (zero: none)
  seconds_d first_token_timeout{0};  // a decode leg, from its send to its first body byte
  seconds_d stream_idle_timeout{0};  // a relayed body between two reads, and a decoder's error body
  // A prompt estimated below this many tokens skips the prefill hop (--disagg-min-prompt-tokens; 0: never,
  // core/flow/disaggregation.hpp).
  std::size_t disagg_min_prompt_tokens = 0;
  // The prefiller's usage.prompt_tokens_details.cached_tokens replaces the decoder's in the answer's final
  // usage (false: --usage-from-decoder).
  bool usage_from_prefiller = true;
  // decoder-first: the metaserver URL the decoders call back (a view of the request's configuration, which
  // outlives its machine) and how long they have to call back once the decoder was sent the request.
  std::string_view metaserver_url{};
  seconds_d metaserver_timeout{0};
};

}  // namespace pd_proxy
