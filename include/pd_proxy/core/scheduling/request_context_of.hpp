// What a client's request gives the scheduler: the model, a size estimate and the keys affinity policies
// route by. Built once per request, in core, so every protocol and policy sees the same inputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "pd_proxy/core/scheduling/request_context.hpp"

namespace pd_proxy {

class client_request;

/// How much of the rendered prompt the prefix key covers: 256 tokens' worth at the proxy's estimate of 4
/// bytes a token.
inline constexpr std::size_t default_prefix_key_bytes = 1024;

/// A 64-bit hash of `bytes` that is the same in every process, build and replica (FNV-1a 64 with a
/// splitmix64 finalizer, so that nearby inputs spread over a hash ring). Never 0, which means "no key".
std::uint64_t affinity_hash(std::string_view bytes);

/// The scheduling context of `request` (tried stays empty: a leg fills it):
/// - `model`: the top-level `model` string without its quotes (a view of the request's text, valid while
///   the text lives), or empty;
/// - `estimated_prompt_tokens`: the body's size / 4, the estimate the reference's scores use (no tokenizer);
/// - `prefix_key`: affinity_hash of the first `prefix_bytes` of the raw JSON text of `prompt` (completions)
///   or of `messages` (chat: every message in order with its role, as the client wrote them, so the turns
///   of one conversation share a key once their history is longer than the window), 0 when the request has
///   neither member. The text is hashed as written: two clients that render the same prompt with different
///   whitespace or escapes get different keys;
/// - `session_key`: affinity_hash(session_id) when `session_id` (the value of the session header) is not
///   empty, else 0 (session_id: the value of --session-header, default X-Session-Id).
/// O(members + prefix_bytes); no allocation; never throws.
request_context request_context_of(const client_request& request, std::string_view session_id = {},
                                   std::size_t prefix_bytes = default_prefix_key_bytes);

}  // namespace pd_proxy
