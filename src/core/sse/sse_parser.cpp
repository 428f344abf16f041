#include "pd_proxy/core/sse/sse_parser.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace pd_proxy {

sse_event_kind classify(const sse_event& event) {
  if (event.truncated) return sse_event_kind::token;  // what is left of it proves nothing
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

void sse_parser::overlong_line(std::string_view rest, bool ends) {
  char head[6];  // enough to tell "data:" and "event:" from the rest
  std::size_t n = 0;
  for (std::size_t k = 0; k < line_.size() && n < sizeof head; ++k) head[n++] = line_[k];
  for (std::size_t k = 0; k < rest.size() && n < sizeof head; ++k) head[n++] = rest[k];
  const std::string_view start(head, n);
  std::string().swap(line_);
  skipping_line_ = !ends;
  if (start.empty() || start.front() == ':') return;  // a comment: nothing of meaning is lost
  has_fields_ = true;
  if (start.starts_with("data:")) {
    has_data_ = true;
    truncate();
  } else if (start.starts_with("event:")) {
    truncate();
  }  // another field is ignored anyway
}

void sse_parser::grow(std::string& s, std::size_t need) {
  // std::string's own growth could double a buffer past the bound: allocate the new capacity exactly.
  std::string grown;
  grown.reserve(std::min(max_sse_line_bytes, std::max(need, 2 * s.capacity())));
  grown.append(s);
  s.swap(grown);
  if (s.capacity() > trim_capacity) large_ = true;
}

void sse_parser::trim() {
  large_ = false;
  for (std::string* s : {&line_, &data_, &type_}) {
    if (s->capacity() <= trim_capacity) continue;
    if (s->empty()) {
      std::string().swap(*s);
    } else {
      large_ = true;
    }
  }
}

}  // namespace pd_proxy
