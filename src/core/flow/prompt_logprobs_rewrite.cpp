#include "pd_proxy/core/flow/prompt_logprobs_rewrite.hpp"

#include <algorithm>
#include <cstddef>

#include "pd_proxy/core/flow/request_rewrite.hpp"
#include "pd_proxy/core/json/json_scan.hpp"

namespace pd_proxy {
namespace {

constexpr std::string_view key = "prompt_logprobs";
constexpr std::string_view first_member = R"("prompt_logprobs":)";
constexpr std::string_view next_member = R"(,"prompt_logprobs":)";

bool is_object(std::string_view raw) {
  return raw.size() >= 2 && raw.front() == '{' && raw.back() == '}';
}

bool is_array(std::string_view raw) {
  return raw.size() >= 2 && raw.front() == '[' && raw.back() == ']';
}

bool is_digits(std::string_view raw) {
  return !raw.empty() && raw.size() <= 19 &&
         std::all_of(raw.begin(), raw.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The offset of `part` (a view into `whole`) in `whole`.
std::size_t offset_in(std::string_view whole, std::string_view part) {
  return static_cast<std::size_t>(part.data() - whole.data());
}

// Calls `on_element(std::string_view)` with each element of the JSON array `array` as written. Stops at the
// first malformed element (values are skipped by matching brackets and strings, not validated).
template <class OnElement>
void for_each_element(std::string_view array, OnElement&& on_element) {
  using namespace json_scan_detail;
  if (!is_array(array)) return;
  std::size_t i = skip_space(array, 1);
  while (i < array.size() - 1) {
    const std::size_t end = skip_value(array, i);
    if (end == std::string_view::npos || end == i) return;
    on_element(array.substr(i, end - i));
    i = skip_space(array, end);
    if (i >= array.size() || array[i] != ',') return;
    i = skip_space(array, i + 1);
  }
}

// A prompt_logprobs value worth keeping: a well-formed array.
std::optional<std::string_view> logprobs_value(std::string_view object) {
  const auto value = find_top_level_member(object, key);
  if (!value || !is_array(*value) || !is_valid_json(*value)) return std::nullopt;
  return value;
}

// One splice of the answer: bytes [at, at + removed) become `member` (a key, or nothing) then `value`.
struct edit {
  std::size_t at = 0;
  std::size_t removed = 0;
  std::string_view member;
  std::string_view value;
};

// The edit that sets `object`'s (a view into `answer`) prompt_logprobs to `value`.
edit set_logprobs(std::string_view answer, std::string_view object, std::string_view value) {
  if (const auto old = find_top_level_member(object, key))
    return {offset_in(answer, *old), old->size(), {}, value};
  const bool empty = json_scan_detail::skip_space(object, 1) == object.size() - 1;
  return {offset_in(answer, object) + object.size() - 1, 0, empty ? first_member : next_member, value};
}

}  // namespace

bool asks_prompt_logprobs(const client_request& request) {
  for (const json_member& member : request.members()) {
    if (request.name(member) == key) return request.value(member) != "null";
  }
  return false;
}

void read_prompt_logprobs(std::string_view prefill_answer, prompt_logprobs& out) {
  out.clear();
  if (const auto top = logprobs_value(prefill_answer)) out.top_level.assign(*top);
  const auto choices = find_top_level_member(prefill_answer, "choices");
  if (!choices) return;
  for_each_element(*choices, [&](std::string_view choice) {
    if (!is_object(choice)) return;
    const auto index = find_top_level_member(choice, "index");
    const auto value = logprobs_value(choice);
    if (index && is_digits(*index) && value)
      out.choices.push_back({std::string(*index), std::string(*value)});
  });
}

prompt_logprobs_pending prompt_logprobs_pending::all_of(const prompt_logprobs& logprobs) {
  prompt_logprobs_pending pending;
  pending.top_level = !logprobs.top_level.empty();
  pending.choices.assign(logprobs.choices.size(), true);
  pending.choices_left = logprobs.choices.size();
  return pending;
}

std::optional<std::string> with_prompt_logprobs(std::string_view answer, const prompt_logprobs& logprobs,
                                                prompt_logprobs_pending& pending) {
  if (pending.done() || !is_object(answer)) return std::nullopt;
  const auto choices = find_top_level_member(answer, "choices");
  if (!choices || !is_array(*choices)) return std::nullopt;
  std::vector<edit> edits;
  if (pending.top_level) {
    edits.push_back(set_logprobs(answer, answer, logprobs.top_level));
    pending.top_level = false;
  }
  if (pending.choices_left > 0) {
    for_each_element(*choices, [&](std::string_view choice) {
      if (!is_object(choice)) return;
      const auto index = find_top_level_member(choice, "index");
      if (!index) return;
      for (std::size_t i = 0; i < logprobs.choices.size(); ++i) {
        if (!pending.choices[i] || logprobs.choices[i].index != *index) continue;
        edits.push_back(set_logprobs(answer, choice, logprobs.choices[i].value));
        pending.choices[i] = false;
        --pending.choices_left;
        break;
      }
    });
  }
  if (edits.empty()) return std::nullopt;
  // The top-level member is appended at the answer's end, after any choice's.
  std::sort(edits.begin(), edits.end(), [](const edit& a, const edit& b) { return a.at < b.at; });
  std::size_t size = answer.size();
  for (const edit& e : edits) size += e.member.size() + e.value.size() - e.removed;
  std::string out;
  out.reserve(size);
  std::size_t from = 0;
  for (const edit& e : edits) {
    out.append(answer.substr(from, e.at - from)).append(e.member).append(e.value);
    from = e.at + e.removed;
  }
  out.append(answer.substr(from));
  return out;
}

}  // namespace pd_proxy
