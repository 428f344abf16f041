#include "pd_proxy/core/flow/request_rewrite.hpp"

#include <algorithm>

#include "pd_proxy/core/flow/request_validation.hpp"
#include "pd_proxy/core/json/json_scan.hpp"

namespace pd_proxy {

std::optional<json> parse_json_object(std::string_view text) {
  json parsed = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
  return parsed;
}

bool wants_stream(const json& client_request) {
  const auto it = client_request.find("stream");
  return it != client_request.end() && it->is_boolean() && it->get<bool>();
}

std::string dump_json(const json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

namespace {

constexpr std::string_view not_an_object = "the request body is not a JSON object";

// The constant pieces of spliced bodies. Each member is written with a leading comma, dropped (substr(1))
// when it comes first; all are string literals, so their views never dangle.
constexpr std::string_view open_brace = "{";
constexpr std::string_view close_brace = "}";
constexpr std::string_view comma = ",";
constexpr std::string_view stream_false = R"(,"stream":false)";
constexpr std::string_view max_tokens_one = R"(,"max_tokens":1)";
constexpr std::string_view min_tokens_one = R"(,"min_tokens":1)";
constexpr std::string_view max_completion_tokens_one = R"(,"max_completion_tokens":1)";
constexpr std::string_view six_key_params =
    R"(,"kv_transfer_params":{"do_remote_decode":true,"do_remote_prefill":false,"remote_engine_id":null,)"
    R"("remote_block_ids":null,"remote_host":null,"remote_port":null})";
constexpr std::string_view kv_params_key = R"(,"kv_transfer_params":)";

// Builds a spliced body member by member: kept members extend a run of the client's text, which is cut
// into one piece when a member is replaced or dropped.
class splicer {
 public:
  explicit splicer(const client_request& request) : text_(request.text()) {
    body_.pieces.reserve(16);
    body_.pieces.push_back(open_brace);
  }

  // Member `m` goes out as the client wrote it.
  void keep(const json_member& m) {
    if (run_begin_ == npos) run_begin_ = m.key_pos - 1;  // the opening quote
    run_end_ = m.value_pos + m.value_len;
  }

  // Member `m` is left out.
  void drop() { end_run(); }

  // A whole member, written with a leading comma.
  void put(std::string_view member) {
    end_run();
    body_.pieces.push_back(members_ == 0 ? member.substr(1) : member);
    ++members_;
  }

  // A member given as its key (`,"name":`) and its value.
  void put(std::string_view key, std::string_view value) {
    put(key);
    body_.pieces.push_back(value);
  }

  spliced_body finish() {
    end_run();
    body_.pieces.push_back(close_brace);
    return std::move(body_);
  }

 private:
  static constexpr std::size_t npos = std::string_view::npos;

  void end_run() {
    if (run_begin_ == npos) return;
    if (members_ > 0) body_.pieces.push_back(comma);
    body_.pieces.push_back(text_.substr(run_begin_, run_end_ - run_begin_));
    ++members_;
    run_begin_ = npos;
  }

  std::string_view text_;
  spliced_body body_;
  std::size_t run_begin_ = npos, run_end_ = 0;  // the pending run of kept members in text_
  std::size_t members_ = 0;                     // items already in the body (runs count as one)
};

}  // namespace

client_request_parse client_request::check(std::string body) {
  client_request_parse out;
  client_request r;
  r.text_ = std::move(body);
  bool bad_key = false;
  const bool ok = for_each_top_level_member(r.text_, [&](const json_member& m) {
    r.members_.push_back(m);
    std::string_view name = r.key(m);
    if (name.find('\\') != std::string_view::npos) {
      const std::size_t pos = r.names_.size();
      if (!append_json_unescaped(name, r.names_)) {
        bad_key = true;
        return;
      }
      r.decoded_.push_back({m.key_pos, pos, r.names_.size() - pos});
      name = std::string_view(r.names_).substr(pos);
    }
    if (name == "stream") r.stream_ = r.value(m) == "true";  // any other value is refused by input_error
  });
  if (!ok || bad_key) {
    out.error = not_an_object;
    return out;
  }
  out.error = input_error(r);
  if (out.error.empty()) out.request = std::move(r);
  return out;
}

std::optional<client_request> client_request::parse(std::string body) {
  return check(std::move(body)).request;
}

std::string_view client_request::decoded_name(const json_member& m) const {
  const auto it = std::lower_bound(decoded_.begin(), decoded_.end(), m.key_pos,
                                   [](const decoded_key& d, std::size_t pos) { return d.key_pos < pos; });
  if (it == decoded_.end() || it->key_pos != m.key_pos) return key(m);
  return std::string_view(names_).substr(it->pos, it->len);
}

std::size_t spliced_body::size() const {
  std::size_t n = 0;
  for (const auto piece : pieces) n += piece.size();
  return n;
}

std::string spliced_body::str() const {
  std::string out;
  out.reserve(size());
  for (const auto piece : pieces) out.append(piece);
  return out;
}

spliced_body splice_prefill_body(const client_request& request) {
  return splice_prefill_body(request, std::string_view());
}

spliced_body splice_prefill_body(const client_request& request, std::string_view kv_transfer_params) {
  splicer out(request);
  const auto put_kv = [&] {
    if (kv_transfer_params.empty()) {
      out.put(six_key_params);
    } else {
      out.put(kv_params_key, kv_transfer_params);
    }
  };
  bool has_stream = false, has_max = false, has_min = false, has_kv = false;
  for (const auto& m : request.members()) {
    const std::string_view name = request.name(m);
    if (name == "stream") {
      out.put(stream_false);
      has_stream = true;
    } else if (name == "max_tokens") {
      out.put(max_tokens_one);
      has_max = true;
    } else if (name == "min_tokens") {
      out.put(min_tokens_one);
      has_min = true;
    } else if (name == "max_completion_tokens") {
      out.put(max_completion_tokens_one);
    } else if (name == "kv_transfer_params") {
      put_kv();
      has_kv = true;
    } else if (name == "stream_options") {
      out.drop();
    } else {
      out.keep(m);
    }
  }
  if (!has_stream) out.put(stream_false);
  if (!has_max) out.put(max_tokens_one);
  if (!has_min) out.put(min_tokens_one);
  if (!has_kv) put_kv();
  return out.finish();
}

spliced_body splice_decode_body(const client_request& request,
                                std::optional<std::string_view> kv_transfer_params,
                                bool drop_prompt_logprobs) {
  splicer out(request);
  bool placed = false;
  for (const auto& m : request.members()) {
    const std::string_view name = request.name(m);
    if (name != "kv_transfer_params") {
      if (drop_prompt_logprobs && name == "prompt_logprobs") {
        out.drop();
      } else {
        out.keep(m);
      }
    } else if (kv_transfer_params && !placed) {
      out.put(kv_params_key, *kv_transfer_params);
      placed = true;
    } else {
      out.drop();
    }
  }
  if (kv_transfer_params && !placed) out.put(kv_params_key, *kv_transfer_params);
  return out.finish();
}

std::string make_prefill_body(const client_request& request) {
  return splice_prefill_body(request).str();
}

std::string make_decode_body(const client_request& request,
                             std::optional<std::string_view> kv_transfer_params, bool drop_prompt_logprobs) {
  return splice_decode_body(request, kv_transfer_params, drop_prompt_logprobs).str();
}

std::optional<std::string_view> find_kv_transfer_params(std::string_view prefill_response_body) {
  const auto raw = find_top_level_member(prefill_response_body, "kv_transfer_params");
  if (!raw || raw->empty() || raw->front() != '{' || !is_valid_json(*raw)) return std::nullopt;
  // A valid object has a non-space character after its '{': '}' means {}, which carries nothing.
  if ((*raw)[json_scan_detail::skip_space(*raw, 1)] == '}') return std::nullopt;
  return raw;
}

std::optional<json> extract_kv_transfer_params(std::string_view prefill_response_body) {
  const auto raw = find_kv_transfer_params(prefill_response_body);
  if (!raw) return std::nullopt;
  return parse_json_object(*raw);
}

double prefill_score(std::size_t body_bytes) {
  return (static_cast<double>(body_bytes) / 4.0) * 0.0345 + 120.0745;
}

double decode_score(std::size_t body_bytes) {
  return static_cast<double>(body_bytes);
}

}  // namespace pd_proxy
