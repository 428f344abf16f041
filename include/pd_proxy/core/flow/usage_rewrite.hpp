// The prefiller's figure for prompt_tokens_details.cached_tokens, put into the decoder's final usage (issue
// "usage that tells the truth"): the decoder pulled the prompt's KV, so its own figure says nothing of the
// prefix cache. Pure text splices: every other byte of the decoder's answer stays as it was.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pd_proxy {

class client_request;

/// The prefill answer's `usage.prompt_tokens_details.cached_tokens` as written (a non-negative integer's
/// digits), or empty when the answer has none (no usage, details null or absent, not an integer).
std::string_view prefill_cached_tokens(std::string_view prefill_answer);

/// Whether the client's stream ends with a usage chunk: its `stream_options.include_usage` is `true`. (An
/// engine that forces usage into every stream, vLLM's --enable-force-include-usage, sends one regardless;
/// such a chunk is relayed as the decoder wrote it.)
bool asks_for_stream_usage(const client_request& request);

/// Whether a streamed event's data is the final usage chunk of an OpenAI stream: a JSON object whose
/// `choices` is an empty array and whose `usage` is an object (vLLM's `stream_options.include_usage` chunk).
bool is_final_usage_chunk(std::string_view data);

/// `answer` (a JSON object with a top-level `usage` object) with `usage.prompt_tokens_details.cached_tokens`
/// set to `cached_tokens` (digits): the number replaced where the member exists; otherwise the member, or a
/// `prompt_tokens_details` object holding it (replacing `null`), appended as the object's last member. Keys
/// and their order are kept. nullopt when `answer` has no usage object (nothing to rewrite).
std::optional<std::string> with_cached_tokens(std::string_view answer, std::string_view cached_tokens);

/// `sse` (whole events of a stream) with every single-line `data:` whose JSON is_final_usage_chunk()
/// rewritten by with_cached_tokens(); every other byte, line endings included, as it was. Whether anything
/// changed is in `changed`.
std::string with_cached_tokens_in_events(std::string_view sse, std::string_view cached_tokens, bool& changed);

}  // namespace pd_proxy
