#include "pd_proxy/core/flow/usage_rewrite.hpp"

#include <algorithm>
#include <cstddef>

#include "pd_proxy/core/flow/request_rewrite.hpp"
#include "pd_proxy/core/json/json_scan.hpp"
#include "pd_proxy/core/sse/data_line_rewrite.hpp"

namespace pd_proxy {
namespace {

bool is_object(std::string_view raw) {
  return raw.size() >= 2 && raw.front() == '{' && raw.back() == '}';
}

bool is_digits(std::string_view raw) {
  return !raw.empty() && raw.size() <= 19 &&
         std::all_of(raw.begin(), raw.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The offset of `part` (a view into `whole`) in `whole`.
std::size_t offset_in(std::string_view whole, std::string_view part) {
  return static_cast<std::size_t>(part.data() - whole.data());
}

// Where a member is appended to `object` (raw, `{...}`): at its closing brace.
std::size_t closing_brace(std::string_view object) {
  return object.size() - 1;
}
bool is_empty_object(std::string_view object) {
  return json_scan_detail::skip_space(object, 1) == object.size() - 1;
}

}  // namespace

std::string_view prefill_cached_tokens(std::string_view prefill_answer) {
  const auto usage = find_top_level_member(prefill_answer, "usage");
  if (!usage || !is_object(*usage)) return {};
  const auto details = find_top_level_member(*usage, "prompt_tokens_details");
  if (!details || !is_object(*details)) return {};
  const auto cached = find_top_level_member(*details, "cached_tokens");
  if (!cached || !is_digits(*cached)) return {};
  return *cached;
}

bool asks_for_stream_usage(const client_request& request) {
  for (const json_member& member : request.members()) {
    if (request.name(member) != "stream_options") continue;
    const auto include_usage = find_top_level_member(request.value(member), "include_usage");
    return include_usage && *include_usage == "true";
  }
  return false;
}

bool is_final_usage_chunk(std::string_view data) {
  if (data.empty() || data.front() != '{' || data.find("\"usage\"") == std::string_view::npos) return false;
  const auto choices = find_top_level_member(data, "choices");
  if (!choices || choices->size() < 2 || choices->front() != '[' ||
      json_scan_detail::skip_space(*choices, 1) != choices->size() - 1) {
    return false;
  }
  const auto usage = find_top_level_member(data, "usage");
  return usage && is_object(*usage);
}

std::optional<std::string> with_cached_tokens(std::string_view answer, std::string_view cached_tokens) {
  const auto usage = find_top_level_member(answer, "usage");
  if (!usage || !is_object(*usage)) return std::nullopt;
  // One splice: bytes [at, at + removed) of `answer` become `inserted`.
  std::size_t at = 0, removed = 0;
  std::string inserted;
  const auto details = find_top_level_member(*usage, "prompt_tokens_details");
  if (details && is_object(*details)) {
    if (const auto cached = find_top_level_member(*details, "cached_tokens")) {
      at = offset_in(answer, *cached);
      removed = cached->size();
      inserted = cached_tokens;
    } else {
      at = offset_in(answer, *details) + closing_brace(*details);
      inserted.append(is_empty_object(*details) ? "" : ",")
          .append("\"cached_tokens\":")
          .append(cached_tokens);
    }
  } else if (details) {  // null (or any other non-object): replaced by an object holding the figure
    at = offset_in(answer, *details);
    removed = details->size();
    inserted.append("{\"cached_tokens\":").append(cached_tokens).append("}");
  } else {
    at = offset_in(answer, *usage) + closing_brace(*usage);
    inserted.append(is_empty_object(*usage) ? "" : ",")
        .append("\"prompt_tokens_details\":{\"cached_tokens\":")
        .append(cached_tokens)
        .append("}");
  }
  std::string out;
  out.reserve(answer.size() + inserted.size());
  out.append(answer.substr(0, at)).append(inserted).append(answer.substr(at + removed));
  return out;
}

std::string with_cached_tokens_in_events(std::string_view sse, std::string_view cached_tokens,
                                         bool& changed) {
  changed = false;
  return rewrite_data_lines(sse, [&](std::string_view data) -> std::optional<std::string> {
    if (!is_final_usage_chunk(data)) return std::nullopt;
    auto rewritten = with_cached_tokens(data, cached_tokens);
    if (rewritten) changed = true;
    return rewritten;
  });
}

}  // namespace pd_proxy
