#include "pd_proxy/core/flow/request_validation.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "pd_proxy/core/flow/request_rewrite.hpp"
#include "pd_proxy/core/json/json_scan.hpp"
#include "pd_proxy/core/json/utf8.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace pd_proxy {
namespace {

constexpr std::size_t npos = std::string_view::npos;

constexpr std::string_view bad_prompt =
    "`prompt` must be a string, an array of strings, an array of integers or an array of arrays of integers";
constexpr std::string_view bad_messages = "`messages` must be a non-empty array of objects";
constexpr std::string_view bad_stream = "`stream` must be true, false or null";
constexpr std::string_view bad_max_tokens = "`max_tokens` must be a positive integer or null";
constexpr std::string_view bad_max_completion_tokens =
    "`max_completion_tokens` must be a non-negative integer or null";
constexpr std::string_view bad_min_tokens = "`min_tokens` must be a non-negative integer or null";

// Names longer than this are cut in messages.
constexpr std::size_t max_quoted_name = 64;

bool is_plain(unsigned char c) {
  return c >= 0x20 && c != '"' && c != '\\';
}

// The index of the first quote, backslash or control character at or after `i`, or t.size(): 32 bytes per
// step with SSE2, else 8.
std::size_t skip_plain(std::string_view t, std::size_t i) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i below_space = _mm_set1_epi8(0x1F);
  const auto special = [&](std::size_t k) {  // one bit per byte of the 16 at t[k]
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(t.data() + k));
    const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(block, below_space), block);  // unsigned <= 0x1F
    return static_cast<unsigned>(_mm_movemask_epi8(
        _mm_or_si128(control, _mm_or_si128(_mm_cmpeq_epi8(block, quote), _mm_cmpeq_epi8(block, backslash)))));
  };
  while (i + 32 <= t.size()) {
    const unsigned mask = special(i) | (special(i + 16) << 16);
    if (mask != 0) return i + static_cast<std::size_t>(std::countr_zero(mask));
    i += 32;
  }
  while (i + 16 <= t.size()) {
    const unsigned mask = special(i);
    if (mask != 0) return i + static_cast<std::size_t>(std::countr_zero(mask));
    i += 16;
  }
#else
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  constexpr std::uint64_t high_bits = 0x8080808080808080ULL;
  const auto has_zero_byte = [](std::uint64_t v) { return ((v - ones) & ~v & high_bits) != 0; };
  while (i + 8 <= t.size()) {
    std::uint64_t word;
    std::memcpy(&word, t.data() + i, sizeof word);
    const bool control = ((word - ones * 0x20) & ~word & high_bits) != 0;  // exact for "any byte < 0x20"
    if (control || has_zero_byte(word ^ (ones * '"')) || has_zero_byte(word ^ (ones * '\\'))) break;
    i += 8;
  }
#endif
  while (i < t.size() && is_plain(static_cast<unsigned char>(t[i]))) ++i;
  return i;
}

std::size_t skip_space(std::string_view t, std::size_t i) {
  while (i < t.size() && (t[i] == ' ' || t[i] == '\n' || t[i] == '\r' || t[i] == '\t')) ++i;
  return i;
}

//------------------------------------------------------------------------------
// Strict recognisers: each takes the index of its first character and returns the index just past what it
// accepted, or npos.

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// A JSON string (RFC 8259 grammar; bytes >= 0x80 are taken as they are: UTF-8 is checked on the whole body).
std::size_t skip_string(std::string_view t, std::size_t i) {
  if (i >= t.size() || t[i] != '"') return npos;
  ++i;
  while (true) {
    i = skip_plain(t, i);
    if (i >= t.size()) return npos;
    if (t[i] == '"') return i + 1;
    if (t[i] != '\\' || i + 1 >= t.size()) return npos;  // a control character, or a cut escape
    const char e = t[i + 1];
    if (e == 'u') {
      if (i + 6 > t.size() || !std::all_of(t.begin() + static_cast<std::ptrdiff_t>(i + 2),
                                           t.begin() + static_cast<std::ptrdiff_t>(i + 6), is_hex)) {
        return npos;
      }
      i += 6;
    } else if (e != '\0' && std::strchr("\"\\/bfnrt", e) != nullptr) {
      i += 2;
    } else {
      return npos;
    }
  }
}

bool is_digit(std::string_view t, std::size_t i) {
  return i < t.size() && t[i] >= '0' && t[i] <= '9';
}

// A JSON integer: `-?(0|[1-9][0-9]*)`, not followed by a fraction or an exponent.
std::size_t skip_integer(std::string_view t, std::size_t i) {
  if (i < t.size() && t[i] == '-') ++i;
  if (!is_digit(t, i)) return npos;
  if (t[i] == '0') {
    ++i;
  } else {
    while (is_digit(t, i)) ++i;
  }
  if (i < t.size() && (t[i] == '.' || t[i] == 'e' || t[i] == 'E')) return npos;
  return i;
}

// An object, skipped by matching brackets (its content is not validated).
std::size_t skip_object(std::string_view t, std::size_t i) {
  if (i >= t.size() || t[i] != '{') return npos;
  return json_scan_detail::skip_value(t, i);
}

// An array whose elements all pass `element`; empty only when `allow_empty`.
template <class Element>
std::size_t skip_array(std::string_view t, std::size_t i, bool allow_empty, Element element) {
  if (i >= t.size() || t[i] != '[') return npos;
  i = skip_space(t, i + 1);
  if (i < t.size() && t[i] == ']') return allow_empty ? i + 1 : npos;
  while (true) {
    i = element(t, i);
    if (i == npos) return npos;
    i = skip_space(t, i);
    if (i >= t.size()) return npos;
    if (t[i] == ']') return i + 1;
    if (t[i] != ',') return npos;
    i = skip_space(t, i + 1);
  }
}

// Elements for skip_array, as lambdas so that each array loop is its own inlined instance.
constexpr auto string_element = [](std::string_view t, std::size_t i) { return skip_string(t, i); };
constexpr auto integer_element = [](std::string_view t, std::size_t i) { return skip_integer(t, i); };
constexpr auto integer_array_element = [](std::string_view t, std::size_t i) {
  return skip_array(t, i, true, integer_element);
};
constexpr auto object_element = [](std::string_view t, std::size_t i) { return skip_object(t, i); };

// A prompt: a string, or an array of strings, of integers or of integer arrays (the first element decides).
bool is_prompt(std::string_view v) {
  if (v.empty()) return false;
  if (v[0] == '"') return skip_string(v, 0) == v.size();
  const std::size_t first = skip_space(v, 1);
  if (first >= v.size()) return false;
  std::size_t end = npos;
  if (v[first] == '"') {
    end = skip_array(v, 0, true, string_element);
  } else if (v[first] == '[') {
    end = skip_array(v, 0, true, integer_array_element);
  } else {
    end = skip_array(v, 0, true, integer_element);
  }
  return end == v.size();
}

bool is_integer(std::string_view v) {
  return skip_integer(v, 0) == v.size();
}

bool is_negative(std::string_view integer) {
  return integer.front() == '-' && integer != "-0";
}

bool is_zero(std::string_view integer) {
  return integer == "0" || integer == "-0";
}

std::string quoted(std::string_view name) {
  std::size_t cut = name.size();
  if (cut > max_quoted_name) {
    cut = max_quoted_name;
    while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80)
      --cut;  // not inside a character
  }
  std::string out;
  out.reserve(cut + 5);
  out += '`';
  out += name.substr(0, cut);
  out += cut < name.size() ? "...`" : "`";
  return out;
}

// The message for invalid UTF-8 at `offset` of the body: it names the member whose value holds it.
std::string utf8_error(const client_request& request, std::size_t offset) {
  for (const auto& m : request.members()) {
    if (offset < m.key_pos - 1) break;
    if (offset < m.key_pos + m.key_len + 1) return "a member name is not valid UTF-8";
    if (offset >= m.value_pos && offset < m.value_pos + m.value_len) {
      return quoted(request.name(m)) + " is not valid UTF-8";
    }
  }
  return "the request body is not valid UTF-8";
}

// The first member (in body order) whose decoded name a later member repeats, or npos.
std::size_t first_repeated(const client_request& request) {
  const auto& members = request.members();
  if (members.size() <= 32) {  // pairwise, without allocating
    for (std::size_t a = 0; a < members.size(); ++a) {
      const std::string_view name = request.name(members[a]);
      for (std::size_t b = a + 1; b < members.size(); ++b) {
        if (request.name(members[b]) == name) return a;
      }
    }
    return npos;
  }
  std::vector<std::pair<std::string_view, std::size_t>> index;  // (name, position), sorted
  index.reserve(members.size());
  for (std::size_t k = 0; k < members.size(); ++k) index.emplace_back(request.name(members[k]), k);
  std::sort(index.begin(), index.end());
  std::size_t first = npos;
  for (std::size_t k = 0; k + 1 < index.size(); ++k) {
    if (index[k].first == index[k + 1].first) first = std::min(first, index[k].second);
  }
  return first;
}

}  // namespace

std::string_view member_shape_error(std::string_view name, std::string_view value) {
  if (name == "stream") {
    return value == "true" || value == "false" || value == "null" ? std::string_view() : bad_stream;
  }
  if (name == "prompt") return is_prompt(value) ? std::string_view() : bad_prompt;
  if (name == "messages") {
    return skip_array(value, 0, false, object_element) == value.size() ? std::string_view() : bad_messages;
  }
  if (name == "max_tokens") {
    const bool ok = value == "null" || (is_integer(value) && !is_negative(value) && !is_zero(value));
    return ok ? std::string_view() : bad_max_tokens;
  }
  if (name == "max_completion_tokens" || name == "min_tokens") {
    const bool ok = value == "null" || (is_integer(value) && !is_negative(value));
    if (ok) return {};
    return name == "min_tokens" ? bad_min_tokens : bad_max_completion_tokens;
  }
  return {};
}

std::string input_error(const client_request& request) {
  const std::size_t invalid = find_invalid_utf8(request.text());
  if (invalid != npos) return utf8_error(request, invalid);
  for (const auto& m : request.members()) {
    const std::string_view error = member_shape_error(request.name(m), request.value(m));
    if (!error.empty()) return std::string(error);
  }
  const std::size_t repeated = first_repeated(request);
  if (repeated != npos) return quoted(request.name(request.members()[repeated])) + " appears more than once";
  return {};
}

}  // namespace pd_proxy
