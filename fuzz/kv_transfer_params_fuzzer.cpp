// Target: the kv_transfer_params validator (find_kv_transfer_params, extract_kv_transfer_params), which
// decides what of a prefiller's answer reaches the decoder, checked against nlohmann::json.
//
// Input: a prefill answer body. Aborts when the validator returns text that is not a non-empty JSON object
// within the answer, when the decode body built with it is not valid JSON carrying exactly that object, or
// when, for an answer nlohmann parses as an object (keys written without escapes: the validator matches the
// key as written, and a prefiller writes it plainly; and without NUL bytes, which nlohmann takes for the end
// of the input), it disagrees with nlohmann about whether the (last)
// kv_transfer_params is a non-empty object and about its value. Two differences are allowed: an object
// nested deeper than is_valid_json's default limit (128) is refused, and an object holding a number beyond a
// double's range (5e600) is found and forwarded as written, while nlohmann refuses it ("number overflow", so
// extract_kv_transfer_params, which parses with nlohmann, returns nothing for it).
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "pd_proxy/core/flow/request_rewrite.hpp"
#include "pd_proxy/core/json/json_scan.hpp"

namespace {

using json = nlohmann::json;

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "kv_transfer_params_fuzzer: %s\n", what);
    std::abort();
  }
}

json parse(std::string_view text) {
  return json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

/// True when nlohmann refuses `text` only for a number beyond a double's range (out_of_range.406).
bool overflows_a_double(std::string_view text) {
  try {
    static_cast<void>(json::parse(text.begin(), text.end()));
  } catch (const json::out_of_range& e) {
    return e.id == 406;
  } catch (const json::exception&) {
    return false;
  }
  return false;
}

bool has_escaped_key(std::string_view text) {
  bool escaped = false;
  pd_proxy::for_each_top_level_member(text, [&](const pd_proxy::json_member& m) {
    escaped = escaped || text.substr(m.key_pos, m.key_len).find('\\') != std::string_view::npos;
  });
  return escaped;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view answer(reinterpret_cast<const char*>(data), size);
  const auto kv = pd_proxy::find_kv_transfer_params(answer);
  const auto extracted = pd_proxy::extract_kv_transfer_params(answer);
  const bool overflow = kv && overflows_a_double(*kv);
  check(kv.has_value() == (extracted.has_value() || overflow), "extract agrees with find");

  json kv_value;
  if (kv) {
    check(kv->data() >= answer.data() && kv->data() + kv->size() <= answer.data() + answer.size(),
          "the text lies within the answer");
    check(pd_proxy::is_valid_json(*kv), "the text is valid JSON");
    if (overflow) return 0;  // nlohmann cannot read it: nothing to compare it with
    kv_value = parse(*kv);
    check(kv_value.is_object() && !kv_value.empty(), "the text is a non-empty object");
    check(parse(pd_proxy::dump_json(*extracted)) == kv_value, "extract parses the text");

    const auto client = pd_proxy::client_request::parse(R"({"model":"m","kv_transfer_params":7,"x":[1]})");
    check(client.has_value(), "the fixed client request");
    const std::string decode = pd_proxy::make_decode_body(*client, *kv);
    const json d = parse(decode);
    check(d.is_object() && d.at("kv_transfer_params") == kv_value && d.at("x") == json::array({1}),
          "the decode body carries the object");
  }

  const json document = parse(answer);
  // nlohmann takes a NUL byte between tokens for the end of the input (json_scan_differential_fuzzer.cpp).
  const bool has_nul = answer.find('\0') != std::string_view::npos;
  if (!document.is_object() || has_escaped_key(answer) || has_nul) return 0;
  const auto it = document.find("kv_transfer_params");
  const bool expected = it != document.end() && it->is_object() && !it->empty();
  if (expected && !kv) {
    const auto raw = pd_proxy::find_top_level_member(answer, "kv_transfer_params");
    check(raw && !pd_proxy::is_valid_json(*raw) && pd_proxy::is_valid_json(*raw, INT_MAX),
          "a non-empty object is refused only for its depth");
    return 0;
  }
  check(expected == kv.has_value(), "nlohmann and the validator agree on the presence");
  if (kv) check(*it == kv_value, "nlohmann and the validator agree on the value");
  return 0;
}
