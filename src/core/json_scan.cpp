#include "pd_proxy/core/json_scan.hpp"

#include <cstring>

namespace pd_proxy {
namespace json_scan_detail {

inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_space(std::string_view t, std::size_t i) {
  while (i < t.size() && is_space(t[i])) ++i;
  return i;
}

// `i` is at an opening quote; returns the index just past the closing quote, or npos.
std::size_t skip_string(std::string_view t, std::size_t i) {
  ++i;
  while (i < t.size()) {
    const void* hit = std::memchr(t.data() + i, '"', t.size() - i);
    if (hit == nullptr) return std::string_view::npos;
    std::size_t quote = static_cast<std::size_t>(static_cast<const char*>(hit) - t.data());
    std::size_t backslashes = 0;
    while (quote - backslashes > i && t[quote - backslashes - 1] == '\\') ++backslashes;
    if (backslashes % 2 == 0) return quote + 1;
    i = quote + 1;
  }
  return std::string_view::npos;
}

// `i` is at the first character of a value; returns the index just past it, or npos.
std::size_t skip_value(std::string_view t, std::size_t i) {
  if (i >= t.size()) return std::string_view::npos;
  if (t[i] == '"') return skip_string(t, i);
  if (t[i] == '{' || t[i] == '[') {
    int depth = 0;
    while (i < t.size()) {
      const char c = t[i];
      if (c == '"') {
        i = skip_string(t, i);
        if (i == std::string_view::npos) return i;
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return std::string_view::npos;
  }
  while (i < t.size() && t[i] != ',' && t[i] != '}' && t[i] != ']' && !is_space(t[i])) ++i;  // scalar
  return i;
}

}  // namespace json_scan_detail

std::optional<std::string_view> find_top_level_member(std::string_view t, std::string_view key) {
  std::optional<std::string_view> found;
  const bool ok = for_each_top_level_member(t, [&](const json_member& m) {
    if (t.substr(m.key_pos, m.key_len) == key) found = t.substr(m.value_pos, m.value_len);
  });
  if (!ok) return std::nullopt;
  return found;
}

}  // namespace pd_proxy
