#include "pd_proxy/core/request_rewrite.hpp"

#include "pd_proxy/core/json_scan.hpp"

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

constexpr std::string_view six_key_params =
    R"({"do_remote_decode":true,"do_remote_prefill":false,"remote_engine_id":null,"remote_block_ids":null,)"
    R"("remote_host":null,"remote_port":null})";

// Appends `"key":value` with a separating comma when needed.
void append_member(std::string& out, std::string_view key, std::string_view value) {
  if (out.size() > 1) out.push_back(',');
  out.push_back('"');
  out.append(key);
  out.append("\":");
  out.append(value);
}

}  // namespace

std::optional<client_request> client_request::parse(std::string body) {
  return parse_scanned(std::move(body), /*normalised=*/false);
}

std::optional<client_request> client_request::parse_scanned(std::string body, bool normalised) {
  client_request r;
  r.text_ = std::move(body);
  bool escaped_key = false;
  const bool ok = for_each_top_level_member(r.text_, [&](const json_member& m) {
    r.members_.push_back(m);
    if (r.key(m).find('\\') != std::string_view::npos) escaped_key = true;
  });
  if (!ok) return std::nullopt;
  if (escaped_key && !normalised) {
    // Decode the escapes once: dump writes a key with escapes only for quotes, backslashes and control
    // characters, none of which can spell a name the rewrites look for.
    auto parsed = parse_json_object(r.text_);
    if (!parsed) return std::nullopt;
    return parse_scanned(dump_json(*parsed), /*normalised=*/true);
  }
  for (const auto& m : r.members_) {
    if (r.key(m) == "stream") r.stream_ = r.value(m) == "true";
  }
  return r;
}

std::string make_prefill_body(const client_request& request) {
  std::string out;
  out.reserve(request.size() + 256);
  out.push_back('{');
  bool has_stream = false, has_max = false, has_min = false, has_kv = false;
  for (const auto& m : request.members()) {
    const std::string_view key = request.key(m);
    if (key == "stream") {
      append_member(out, key, "false");
      has_stream = true;
    } else if (key == "max_tokens") {
      append_member(out, key, "1");
      has_max = true;
    } else if (key == "min_tokens") {
      append_member(out, key, "1");
      has_min = true;
    } else if (key == "max_completion_tokens") {
      append_member(out, key, "1");
    } else if (key == "kv_transfer_params") {
      append_member(out, key, six_key_params);
      has_kv = true;
    } else if (key != "stream_options") {
      append_member(out, key, request.value(m));
    }
  }
  if (!has_stream) append_member(out, "stream", "false");
  if (!has_max) append_member(out, "max_tokens", "1");
  if (!has_min) append_member(out, "min_tokens", "1");
  if (!has_kv) append_member(out, "kv_transfer_params", six_key_params);
  out.push_back('}');
  return out;
}

std::string make_decode_body(const client_request& request, std::optional<std::string_view> kv_transfer_params) {
  std::string out;
  out.reserve(request.size() + (kv_transfer_params ? kv_transfer_params->size() : 0) + 32);
  out.push_back('{');
  bool placed = false;
  for (const auto& m : request.members()) {
    const std::string_view key = request.key(m);
    if (key != "kv_transfer_params") {
      append_member(out, key, request.value(m));
    } else if (kv_transfer_params && !placed) {
      append_member(out, key, *kv_transfer_params);
      placed = true;
    }
  }
  if (kv_transfer_params && !placed) append_member(out, "kv_transfer_params", *kv_transfer_params);
  out.push_back('}');
  return out;
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

double decode_score(std::size_t body_bytes) { return static_cast<double>(body_bytes); }

}  // namespace pd_proxy
