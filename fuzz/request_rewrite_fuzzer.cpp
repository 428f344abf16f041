// Target: client_request::check and the prefill/decode rewrites (splice_prefill_body, splice_decode_body) on
// any client body, checked against nlohmann::json.
//
// Aborts when: a spliced body's size() is not its str()'s; a body that nlohmann parses as an object is
// refused for anything but strict input validation (core/flow/request_validation: a member of the wrong
// shape, a member written twice, invalid UTF-8 — its messages name the member in backquotes), or accepted
// with a stream() other than its `stream` being true; and, for such a body, when a rewrite is not valid JSON
// or does not say what it must: the prefill body has stream false, max_tokens 1, min_tokens 1,
// max_completion_tokens 1 only if the client sent it, no stream_options, the six-key kv_transfer_params,
// and every other member as the client's; the decode body has the given kv_transfer_params (or none) and
// every other member as the client's. A body nlohmann rejects is only scanned (values are not validated,
// by contract: a backend answers it with its own 400).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "pd_proxy/core/flow/request_rewrite.hpp"
#include "pd_proxy/core/json/json_scan.hpp"

namespace {

using json = nlohmann::json;

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "request_rewrite_fuzzer: %s\n", what);
    std::abort();
  }
}

json parse(std::string_view text) {
  return json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

// The rewritten body as a document: it must be valid JSON whatever the client sent, when the client's was.
json parse_rewrite(const pd_proxy::spliced_body& body) {
  const std::string text = body.str();
  check(body.size() == text.size(), "a spliced body's size");
  check(pd_proxy::is_valid_json(text, 1 << 20), "a rewrite of a valid body is valid (json_scan)");
  json document = parse(text);
  check(document.is_object(), "a rewrite of a valid body is an object (nlohmann)");
  return document;
}

// Every member of `client` but the `rewritten` ones is in `body` with the same value, and nothing else is.
void check_kept(const json& client, const json& body, std::initializer_list<std::string_view> rewritten) {
  const auto is_rewritten = [&](const std::string& name) {
    for (const auto r : rewritten) {
      if (name == r) return true;
    }
    return false;
  };
  for (const auto& [name, value] : client.items()) {
    if (!is_rewritten(name)) check(body.contains(name) && body.at(name) == value, "a kept member");
  }
  for (const auto& [name, value] : body.items()) {
    if (!is_rewritten(name)) check(client.contains(name), "no member is made up");
  }
}

constexpr std::string_view kv_text =
    R"({"do_remote_prefill":true,"do_remote_decode":false,"remote_engine_id":"e1","remote_block_ids":[1,2],)"
    R"("remote_host":"10.0.0.1","remote_port":7000})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  const auto parsed = pd_proxy::client_request::check(body);
  check(parsed.request.has_value() != !parsed.error.empty(), "a request or an error, not both");
  const json client = parse(body);
  const bool valid_object = client.is_object() && pd_proxy::is_valid_json(body, 1 << 20);

  if (!parsed.request) {
    const bool validation = parsed.error.starts_with("`") || parsed.error.starts_with("a member name");
    check(!valid_object || validation, "a valid object is refused only by input validation");
    return 0;
  }
  const auto& request = *parsed.request;
  check(request.text() == body, "the request keeps the client's text");
  for (const auto& m : request.members()) {
    check(m.key_pos >= 1 && body[m.key_pos - 1] == '"', "a member's key starts after a quote");
    check(m.value_pos + m.value_len <= body.size() && m.value_len > 0, "a member's value lies in the body");
  }

  const auto prefill = pd_proxy::splice_prefill_body(request);
  const auto decode = pd_proxy::splice_decode_body(request, kv_text);
  const auto decode_without = pd_proxy::splice_decode_body(request, std::nullopt);
  check(prefill.size() == prefill.str().size(), "a spliced body's size");
  check(decode.size() == decode.str().size() && decode_without.size() == decode_without.str().size(),
        "a spliced body's size");
  if (!valid_object) return 0;

  check(request.stream() == (client.contains("stream") && client.at("stream") == true), "stream()");

  const json p = parse_rewrite(prefill);
  check(p.at("stream") == false && p.at("max_tokens") == 1 && p.at("min_tokens") == 1, "prefill limits");
  check(p.contains("max_completion_tokens") == client.contains("max_completion_tokens"),
        "max_completion_tokens only when the client sent it");
  if (client.contains("max_completion_tokens")) check(p.at("max_completion_tokens") == 1, "prefill limits");
  check(!p.contains("stream_options"), "no stream_options in the prefill");
  const json& kv = p.at("kv_transfer_params");
  check(kv.size() == 6 && kv.at("do_remote_decode") == true && kv.at("remote_host").is_null(),
        "the prefill's kv_transfer_params");
  check_kept(client, p,
             {"stream", "max_tokens", "min_tokens", "max_completion_tokens", "stream_options",
              "kv_transfer_params"});

  const json d = parse_rewrite(decode);
  check(d.at("kv_transfer_params") == parse(kv_text), "the decode's kv_transfer_params");
  check_kept(client, d, {"kv_transfer_params"});

  const json d0 = parse_rewrite(decode_without);
  check(!d0.contains("kv_transfer_params"), "no client kv_transfer_params reaches the decoder");
  check_kept(client, d0, {"kv_transfer_params"});
  return 0;
}
