// Pure rewrites of the client's OpenAI request into the prefill and decode request bodies.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pd_proxy/core/json/json_scan.hpp"

namespace pd_proxy {

/// Key order is preserved so backends see the client's fields in the client's order.
using json = nlohmann::ordered_json;

/// Parses a client request body. Returns nullopt unless it is a JSON object (invalid JSON, invalid UTF-8
/// and non-object documents are all rejected). Never throws.
std::optional<json> parse_json_object(std::string_view text);

/// True when the client asked for an SSE stream (`"stream": true`).
bool wants_stream(const json& client_request);

struct client_request_parse;

/// A client's request body, scanned once: its top-level members as written. The rewrites splice these raw
/// member texts instead of parsing the body into a document and serialising it again, so backends receive
/// the client's bytes (numbers, escapes, key order, spacing) unchanged except where a member is replaced.
/// Nested syntax is validated only in the members input_error checks: elsewhere a backend rejects it with its
/// own 400, which is passed through.
class client_request {
 public:
  /// Scans `body` and checks it. The request is nullopt, and `error` says why (the client's 400 message),
  /// when the body is not a JSON object at the top level (including a key with an invalid escape), or when
  /// input_error (request_validation.hpp) finds a problem: invalid UTF-8, a checked member of the wrong shape
  /// (`stream` anything but `true`, `false` or `null`: vLLM would coerce `1` or `"yes"` to true while the
  /// proxy could not relay a stream it did not expect), a member written twice. Keys written with escapes
  /// (`"str\u0065am"`) are decoded for name(), so no member hides from the checks and the rewrites.
  /// Allocates the member list, plus the decoded names only when a key has an escape. Never throws (but
  /// bad_alloc).
  static client_request_parse check(std::string body);
  /// check(body).request.
  static std::optional<client_request> parse(std::string body);

  /// True when the client asked for an SSE stream (its one top-level `stream` is `true`).
  bool stream() const { return stream_; }
  std::size_t size() const { return text_.size(); }
  std::string_view text() const { return text_; }
  const std::vector<json_member>& members() const { return members_; }
  /// The key of `m` (one of members()) as written, without its quotes: escapes are not decoded.
  std::string_view key(const json_member& m) const {
    return std::string_view(text_).substr(m.key_pos, m.key_len);
  }
  /// The key of `m` (one of members()) decoded: equal to key(m) unless that has escapes. O(1) without
  /// escaped keys, O(log escaped keys) otherwise.
  std::string_view name(const json_member& m) const { return decoded_.empty() ? key(m) : decoded_name(m); }
  std::string_view value(const json_member& m) const {
    return std::string_view(text_).substr(m.value_pos, m.value_len);
  }

  /// Frees the text, the member list and the decoded names (size() becomes 0, members() empty; stream() is
  /// kept), for a request whose text nothing needs any more. Spliced bodies of it become invalid.
  void release() {
    std::string().swap(text_);
    std::vector<json_member>().swap(members_);
    std::string().swap(names_);
    std::vector<decoded_key>().swap(decoded_);
  }

 private:
  std::string_view decoded_name(const json_member& m) const;  // name(m) when some key has escapes

  struct decoded_key {
    std::size_t key_pos;   // the member's key_pos: decoded_ is sorted by it
    std::size_t pos, len;  // the decoded name in names_
  };

  std::string text_;
  std::vector<json_member> members_;
  std::string names_;                 // decoded names of the keys written with escapes, one after another
  std::vector<decoded_key> decoded_;  // one per key written with escapes, in member order
  bool stream_ = false;
};

/// What client_request::check found.
struct client_request_parse {
  std::optional<client_request> request;
  std::string error;  // why there is no request, for the client's 400; empty when there is one
};

/// A body assembled from views: runs of the client's text, constant snippets, and the kv params text, in
/// order; written with one gather write. Valid while the client_request (and the kv text) live and are not
/// released or moved (a moved short text may move its bytes). Constant pieces are string literals.
struct spliced_body {
  std::vector<std::string_view> pieces;
  /// The body's length in bytes: the sum of the pieces'.
  std::size_t size() const;
  /// The pieces joined (for tests, tools and the string wrappers).
  std::string str() const;
};

/// The prefill leg's body: the client's request with `stream:false`, `max_tokens:1`, `min_tokens:1`,
/// `max_completion_tokens:1` only if the client sent that key, `stream_options` removed and
/// `kv_transfer_params` replaced by the six-key `do_remote_decode` object (members are matched on their
/// decoded names; a replaced one is written with its plain name). Replaced members keep their place; missing
/// ones are appended in that order. Every other member is the client's text, byte for byte, and consecutive
/// ones are one piece with the client's own separators, so the piece count grows with the rewritten members
/// only. Never throws (but bad_alloc).
spliced_body splice_prefill_body(const client_request& request);

/// The same with `kv_transfer_params` (raw JSON text, byte for byte) as the prefill's kv_transfer_params
/// instead of the six-key object (decoder-first); empty means the six-key object.
spliced_body splice_prefill_body(const client_request& request, std::string_view kv_transfer_params);

/// The decode leg's body: the client's request unchanged except `kv_transfer_params`, which is
/// `kv_transfer_params` (raw JSON text of the prefiller's object, byte for byte) at the place of the client's
/// first one, or appended, when given, and removed otherwise (a client cannot make a decoder pull KV from an
/// address of its choosing); and, with `drop_prompt_logprobs`, without `prompt_logprobs` (the prefiller's
/// figures answer them: core/flow/prompt_logprobs_rewrite.hpp). Pieces as in splice_prefill_body. Never
/// throws (but bad_alloc).
spliced_body splice_decode_body(const client_request& request,
                                std::optional<std::string_view> kv_transfer_params,
                                bool drop_prompt_logprobs = false);

/// splice_prefill_body(request).str().
std::string make_prefill_body(const client_request& request);

/// splice_decode_body(request, kv_transfer_params, drop_prompt_logprobs).str().
std::string make_decode_body(const client_request& request,
                             std::optional<std::string_view> kv_transfer_params,
                             bool drop_prompt_logprobs = false);

/// The raw text of the `kv_transfer_params` object of a prefill answer; nullopt when the answer is not a
/// JSON object or the member is missing, null, not a non-empty object, or malformed. Only that member is
/// validated (strictly, by is_valid_json); the rest of the answer is skipped. No allocation.
std::optional<std::string_view> find_kv_transfer_params(std::string_view prefill_response_body);

/// The same object, parsed by nlohmann (for tests and tools); nullopt also when nlohmann refuses the text
/// that find_kv_transfer_params accepts: a number beyond a double's range (5e600).
std::optional<json> extract_kv_transfer_params(std::string_view prefill_response_body);

/// Serialises without throwing: invalid UTF-8 in strings is replaced, not an error.
std::string dump_json(const json& value);

/// The reference's load scores: prefill `(L/4)*0.0345 + 120.0745`, decode `L`, L = body length in bytes.
double prefill_score(std::size_t body_bytes);
double decode_score(std::size_t body_bytes);

}  // namespace pd_proxy
