#include "pd_proxy/core/sse_parser.hpp"

#include <nlohmann/json.hpp>

namespace pd_proxy {

sse_event_kind classify(const sse_event& event) {
  std::string_view data = event.data;
  if (data.empty()) return sse_event_kind::empty;
  if (data == "[DONE]") return sse_event_kind::done;
  if (event.type == "error") return sse_event_kind::error;
  if (data.find("\"error\"") == std::string_view::npos) return sse_event_kind::token;
  const auto parsed = nlohmann::json::parse(data.begin(), data.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && parsed.contains("error")) return sse_event_kind::error;
  return sse_event_kind::token;
}

}  // namespace pd_proxy
