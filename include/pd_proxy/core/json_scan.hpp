// A fast scan of a JSON object's top-level members, without building a document.
#pragma once

#include <optional>
#include <string_view>

namespace pd_proxy {

/// The raw text of the value of top-level member `key` in the JSON object `text` (e.g. `{"a":1}` and "a" give
/// "1"), or nullopt when `text` is not an object, has no such member, or is malformed before it. Keys are
/// compared as written (a key spelled with escapes does not match); when a key occurs twice, the last wins,
/// as in nlohmann::json. Values are skipped by matching brackets and strings, not validated: parse the
/// returned text to use it. O(n), no allocation.
std::optional<std::string_view> find_top_level_member(std::string_view text, std::string_view key);

}  // namespace pd_proxy
