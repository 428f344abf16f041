// A fast scan of a JSON object's top-level members, without building a document.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pd_proxy {

/// One top-level member of a JSON object as written: offsets into the scanned text.
struct json_member {
  std::size_t key_pos = 0, key_len = 0;      // the key without its quotes, as written (escapes not decoded)
  std::size_t value_pos = 0, value_len = 0;  // the raw value text
};

/// Calls `on_member(const json_member&)` for every top-level member of the JSON object `text`, in order.
/// Returns false when `text` is not a well-formed object at the top level (values are skipped by matching
/// brackets and strings, not validated). O(n), no allocation.
template <class OnMember>
bool for_each_top_level_member(std::string_view text, OnMember&& on_member);

/// The raw text of the value of top-level member `key` in the JSON object `text` (e.g. `{"a":1}` and "a" give
/// "1"), or nullopt when `text` is not an object, has no such member, or is malformed before it. Keys are
/// compared as written (a key spelled with escapes does not match); when a key occurs twice, the last wins,
/// as in nlohmann::json. Values are skipped by matching brackets and strings, not validated: parse the
/// returned text to use it. O(n), no allocation.
std::optional<std::string_view> find_top_level_member(std::string_view text, std::string_view key);

/// Whether `text` is one well-formed JSON value (RFC 8259: strict number, string and literal grammar, strings
/// valid UTF-8 without raw control characters), optionally surrounded by whitespace, nested at most
/// `max_depth` arrays/objects deep. Accepts what nlohmann::json::accept accepts within that depth, and also
/// numbers beyond a double's range (RFC 8259 allows them; nlohmann rejects them as overflow).
/// O(n), no allocation.
bool is_valid_json(std::string_view text, int max_depth = 128);

/// Appends the text of a JSON string to `out`, decoded to UTF-8. `raw` is the string as written, without its
/// quotes: the escapes `\" \\ \/ \b \f \n \r \t \uXXXX` are decoded (a `\uXXXX` high surrogate followed by an
/// escaped low one gives one code point), every other byte is copied as is (not validated). Returns false,
/// with `out` as it was, on an invalid escape: an unknown letter, fewer than four hex digits, a surrogate
/// without its pair. Allocates only by growing `out`.
bool append_json_unescaped(std::string_view raw, std::string& out);

namespace json_scan_detail {
std::size_t skip_space(std::string_view t, std::size_t i);
std::size_t skip_string(std::string_view t, std::size_t i);  // at a quote; past the closing one, or npos
std::size_t skip_value(std::string_view t, std::size_t i);   // at a value; past it, or npos
}  // namespace json_scan_detail

template <class OnMember>
bool for_each_top_level_member(std::string_view t, OnMember&& on_member) {
  using namespace json_scan_detail;
  std::size_t i = skip_space(t, 0);
  if (i >= t.size() || t[i] != '{') return false;
  i = skip_space(t, i + 1);
  if (i < t.size() && t[i] == '}') return skip_space(t, i + 1) == t.size();
  while (i < t.size()) {
    if (t[i] != '"') return false;
    const std::size_t key_end = skip_string(t, i);
    if (key_end == std::string_view::npos) return false;
    json_member m{i + 1, key_end - i - 2, 0, 0};
    i = skip_space(t, key_end);
    if (i >= t.size() || t[i] != ':') return false;
    i = skip_space(t, i + 1);
    const std::size_t value_end = skip_value(t, i);
    if (value_end == std::string_view::npos || value_end == i) return false;
    m.value_pos = i;
    m.value_len = value_end - i;
    on_member(m);
    i = skip_space(t, value_end);
    if (i < t.size() && t[i] == ',') {
      i = skip_space(t, i + 1);
      continue;
    }
    return i < t.size() && t[i] == '}' && skip_space(t, i + 1) == t.size();
  }
  return false;
}

}  // namespace pd_proxy
