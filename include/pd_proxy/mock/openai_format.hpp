// vLLM's OpenAI response formats, byte for byte as vLLM writes them (compact JSON, SSE `data:` events).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pd_proxy/core/flow/request_rewrite.hpp"
#include "pd_proxy/mock/prefix_cache.hpp"

namespace pd_proxy::mock {

/// What one completion looks like, independent of how it is delivered.
struct completion_spec {
  bool chat = false;  // chat.completion(.chunk) instead of text_completion
  std::string id;     // "cmpl-<request id>" or "chatcmpl-<request id>"
  std::string model;
  std::int64_t created = 0;  // unix seconds
  int prompt_tokens = 0;
  int completion_tokens = 0;
  std::optional<json> kv_transfer_params;  // non-streaming responses carry it (null when absent)
  int cached_tokens = 0;  // usage.prompt_tokens_details.cached_tokens: prompt tokens not computed here
  // prompt_logprobs (a choice's for completions, the response's for chat); null when nullopt.
  std::optional<json> prompt_logprobs;
};

/// The response id vLLM derives from X-Request-Id.
std::string response_id(bool chat, std::string_view request_id);

/// The i-th generated token's text, deterministic in the request id (a small English vocabulary).
std::string token_text(std::string_view request_id, int i);

/// A whole non-streaming response whose generated text is `text`, finish_reason "length".
std::string format_full_response(const completion_spec& spec, std::string_view text);

/// Chat only: the first stream event, `delta: {role: assistant, content: ""}`.
std::string format_role_event(const completion_spec& spec);

/// One token event; `last` sets finish_reason "length".
std::string format_token_event(const completion_spec& spec, std::string_view token, bool last);

/// The usage event sent when `stream_options.include_usage` is true: `choices: []` and `usage`.
std::string format_usage_event(const completion_spec& spec);

inline constexpr std::string_view done_event = "data: [DONE]\n\n";

/// vLLM's error object, `{"object":"error","message":..,"type":..,"param":null,"code":N}`.
std::string format_error(int status, std::string_view type, std::string_view message);

/// Characters per token of the prompt estimate (there is no tokenizer).
inline constexpr std::size_t chars_per_token = 4;

/// Prompt tokens estimated from a request: ceil(characters / chars_per_token) over `prompt` (string, list of
/// strings, or token ids: chars_per_token each) and the `content` of `messages` (strings or text parts); at
/// least 1.
int estimate_prompt_tokens(const json& request);

/// The prompt's characters exactly as estimate_prompt_tokens counts them, in order (token ids as 4 bytes
/// each), with a part where each chat message (labelled with its role) or prompt string starts: what the
/// prefix cache hashes, so that roles and message boundaries count without changing the token estimate.
rendered_prompt render_prompt(const json& request);

/// vLLM's prompt_logprobs for `prompt` (render_prompt's text) of `prompt_tokens` tokens: `null` for the first
/// token (nothing precedes it), then for each token `{"<id>": {"logprob": x, "rank": 1, "decoded_token":
/// "<text>"}}`, the token being the next chars_per_token bytes of the prompt, its id and logprob derived from
/// them (deterministic, FNV-1a). Only the prompt token itself is listed, whatever top-k was asked.
json format_prompt_logprobs(std::string_view prompt, int prompt_tokens);

/// What a decoder that pulled the prompt's KV answers when asked for prompt_logprobs: one `null` per prompt
/// token, as it computed none of them (a stand-in for vllm-ascend #13363, told apart from the prefiller's).
json unknown_prompt_logprobs(int prompt_tokens);

/// Tokens to generate: `max_completion_tokens` (chat) or `max_tokens`, 16 when neither is given, at least 1.
int requested_tokens(const json& request, bool chat);

}  // namespace pd_proxy::mock
