#include "pd_proxy/core/sse_parser.hpp"

#include <nlohmann/json.hpp>

namespace pd_proxy {

sse_event_kind classify(const sse_event& event) {
  std::string_view data = event.data;
  if (data.empty()) return sse_event_kind::empty;
  if (data == "[DONE]") return sse_event_kind::done;
  if (event.type == "error") return sse_event_kind::error;
  // vLLM and OpenAI write errors as {"error": {...}}: "error" is the first key. Checking that is O(1); a
  // search of every token event for the word would cost more than the rest of the relay.
  auto skip_space = [&](std::size_t i) {
    while (i < data.size() && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r')) ++i;
    return i;
  };
  std::size_t i = skip_space(0);
  if (i >= data.size() || data[i] != '{') return sse_event_kind::token;
  i = skip_space(i + 1);
  if (data.substr(i, 7) != "\"error\"") return sse_event_kind::token;
  const auto parsed = nlohmann::json::parse(data.begin(), data.end(), nullptr, /*allow_exceptions=*/false);
  return parsed.is_object() && parsed.contains("error") ? sse_event_kind::error : sse_event_kind::token;
}

}  // namespace pd_proxy
