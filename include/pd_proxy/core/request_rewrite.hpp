// Pure rewrites of the client's OpenAI request into the prefill and decode request bodies.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace pd_proxy {

/// Key order is preserved so backends see the client's fields in the client's order.
using json = nlohmann::ordered_json;

/// Parses a client request body. Returns nullopt unless it is a JSON object (invalid JSON, invalid UTF-8
/// and non-object documents are all rejected). Never throws.
std::optional<json> parse_json_object(std::string_view text);

/// True when the client asked for an SSE stream (`"stream": true`).
bool wants_stream(const json& client_request);

/// The prefill leg's body: the client's request with `stream:false`, `max_tokens:1`, `min_tokens:1`,
/// `max_completion_tokens:1` only if the client sent that key, `stream_options` removed and
/// `kv_transfer_params` replaced by the six-key `do_remote_decode` object. Never throws.
std::string make_prefill_body(const json& client_request);

/// The decode leg's body: the client's request unchanged except `kv_transfer_params`, which is the
/// prefiller's object verbatim when `kv_transfer_params` is non-null, and removed otherwise (a client
/// cannot make a decoder pull KV from an address of its choosing). Never throws.
std::string make_decode_body(const json& client_request, const json* kv_transfer_params);

/// The `kv_transfer_params` object of a prefill response body; nullopt when the body is not a JSON object
/// or the key is missing, null, not an object or empty (the decoder must then prefill locally).
std::optional<json> extract_kv_transfer_params(std::string_view prefill_response_body);

/// Serialises without throwing: invalid UTF-8 in strings is replaced, not an error.
std::string dump_json(const json& value);

/// The reference's load scores: prefill `(L/4)*0.0345 + 120.0745`, decode `L`, L = body length in bytes.
double prefill_score(std::size_t body_bytes);
double decode_score(std::size_t body_bytes);

}  // namespace pd_proxy
