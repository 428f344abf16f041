// Pure rewrites of the client's OpenAI request into the prefill and decode request bodies.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pd_proxy/core/json_scan.hpp"

namespace pd_proxy {

/// Key order is preserved so backends see the client's fields in the client's order.
using json = nlohmann::ordered_json;

/// Parses a client request body. Returns nullopt unless it is a JSON object (invalid JSON, invalid UTF-8
/// and non-object documents are all rejected). Never throws.
std::optional<json> parse_json_object(std::string_view text);

/// True when the client asked for an SSE stream (`"stream": true`).
bool wants_stream(const json& client_request);

/// A client's request body, scanned once: its top-level members as written. The rewrites splice these raw
/// member texts instead of parsing the body into a document and serialising it again, so backends receive
/// the client's bytes (numbers, escapes, key order) unchanged except where a member is replaced. Nested
/// syntax is not validated here: a backend rejects it with its own 400, which is passed through.
class client_request {
 public:
  /// nullopt unless `body` is a JSON object at the top level. Keys written with escapes (`"str\u0065am"`)
  /// are normalised through a full parse first, so no member can hide from the rewrites. Never throws.
  static std::optional<client_request> parse(std::string body);

  /// True when the client asked for an SSE stream (`"stream": true`).
  bool stream() const { return stream_; }
  std::size_t size() const { return text_.size(); }
  std::string_view text() const { return text_; }
  const std::vector<json_member>& members() const { return members_; }
  std::string_view key(const json_member& m) const { return std::string_view(text_).substr(m.key_pos, m.key_len); }
  std::string_view value(const json_member& m) const {
    return std::string_view(text_).substr(m.value_pos, m.value_len);
  }

  /// Frees the text and the member list (size() becomes 0, members() empty; stream() is kept), for a
  /// request whose text nothing needs any more.
  void release() {
    std::string().swap(text_);
    std::vector<json_member>().swap(members_);
  }

 private:
  static std::optional<client_request> parse_scanned(std::string body, bool normalised);

  std::string text_;
  std::vector<json_member> members_;
  bool stream_ = false;
};

/// The prefill leg's body: the client's request with `stream:false`, `max_tokens:1`, `min_tokens:1`,
/// `max_completion_tokens:1` only if the client sent that key, `stream_options` removed and
/// `kv_transfer_params` replaced by the six-key `do_remote_decode` object. Replaced members keep their
/// place; missing ones are appended in that order. Never throws.
std::string make_prefill_body(const client_request& request);

/// The decode leg's body: the client's request unchanged except `kv_transfer_params`, which is
/// `kv_transfer_params` (raw JSON text of the prefiller's object, byte for byte) when given, and removed
/// otherwise (a client cannot make a decoder pull KV from an address of its choosing). Never throws.
std::string make_decode_body(const client_request& request, std::optional<std::string_view> kv_transfer_params);

/// The raw text of the `kv_transfer_params` object of a prefill answer; nullopt when the answer is not a
/// JSON object or the member is missing, null, not a non-empty object, or malformed. Only that member is
/// validated (strictly, by is_valid_json); the rest of the answer is skipped. No allocation.
std::optional<std::string_view> find_kv_transfer_params(std::string_view prefill_response_body);

/// The same object, parsed (for tests and tools).
std::optional<json> extract_kv_transfer_params(std::string_view prefill_response_body);

/// Serialises without throwing: invalid UTF-8 in strings is replaced, not an error.
std::string dump_json(const json& value);

/// The reference's load scores: prefill `(L/4)*0.0345 + 120.0745`, decode `L`, L = body length in bytes.
double prefill_score(std::size_t body_bytes);
double decode_score(std::size_t body_bytes);

}  // namespace pd_proxy
