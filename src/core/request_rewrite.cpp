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

std::string make_prefill_body(const json& client_request) {
  json prefill = client_request;
  prefill["stream"] = false;
  prefill["max_tokens"] = 1;
  prefill["min_tokens"] = 1;
  if (prefill.contains("max_completion_tokens")) prefill["max_completion_tokens"] = 1;
  prefill.erase("stream_options");
  prefill["kv_transfer_params"] = json{{"do_remote_decode", true},  {"do_remote_prefill", false},
                                       {"remote_engine_id", nullptr}, {"remote_block_ids", nullptr},
                                       {"remote_host", nullptr},      {"remote_port", nullptr}};
  return dump_json(prefill);
}

std::string make_decode_body(const json& client_request, const json* kv_transfer_params) {
  json decode = client_request;
  if (kv_transfer_params != nullptr && !kv_transfer_params->is_null()) {
    decode["kv_transfer_params"] = *kv_transfer_params;
  } else {
    decode.erase("kv_transfer_params");
  }
  return dump_json(decode);
}

std::optional<json> extract_kv_transfer_params(std::string_view prefill_response_body) {
  // Only this member is parsed: the rest of the answer (choices, usage, logprobs) is skipped unbuilt.
  const auto raw = find_top_level_member(prefill_response_body, "kv_transfer_params");
  if (!raw) return std::nullopt;
  auto kv = parse_json_object(*raw);
  if (!kv || kv->empty()) return std::nullopt;
  return kv;
}

double prefill_score(std::size_t body_bytes) {
  return (static_cast<double>(body_bytes) / 4.0) * 0.0345 + 120.0745;
}

double decode_score(std::size_t body_bytes) { return static_cast<double>(body_bytes); }

}  // namespace pd_proxy
