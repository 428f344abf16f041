#include "pd_proxy/core/json/json_scan.hpp"

#include <cstdint>
#include <cstring>

namespace pd_proxy {
namespace json_scan_detail {

inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

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

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The code unit of the escape `\uXXXX` at `t[i]`, or -1 when there is none.
int code_unit_at(std::string_view t, std::size_t i) {
  if (i + 6 > t.size() || t[i] != '\\' || t[i + 1] != 'u') return -1;
  int unit = 0;
  for (std::size_t k = i + 2; k < i + 6; ++k) {
    const int digit = hex_digit(t[k]);
    if (digit < 0) return -1;
    unit = unit * 16 + digit;
  }
  return unit;
}

// A strict recursive-descent checker; every function takes the index of its first character and returns the
// index just past what it accepted, or npos.
class json_validator {
 public:
  json_validator(std::string_view t, int max_depth) : t_(t), max_depth_(max_depth) {}

  bool accept() {
    const std::size_t end = value(json_scan_detail::skip_space(t_, 0), 0);
    return end != npos && json_scan_detail::skip_space(t_, end) == t_.size();
  }

 private:
  static constexpr std::size_t npos = std::string_view::npos;

  std::size_t value(std::size_t i, int depth) {
    if (i >= t_.size()) return npos;
    switch (t_[i]) {
      case '{':
        return object(i, depth + 1);
      case '[':
        return array(i, depth + 1);
      case '"':
        return string(i);
      case 't':
        return literal(i, "true");
      case 'f':
        return literal(i, "false");
      case 'n':
        return literal(i, "null");
      default:
        return number(i);
    }
  }

  std::size_t object(std::size_t i, int depth) {
    if (depth > max_depth_) return npos;
    i = json_scan_detail::skip_space(t_, i + 1);
    if (i < t_.size() && t_[i] == '}') return i + 1;
    while (i < t_.size() && t_[i] == '"') {
      i = json_scan_detail::skip_space(t_, string(i));
      if (i >= t_.size() || t_[i] != ':') return npos;
      i = json_scan_detail::skip_space(t_, value(json_scan_detail::skip_space(t_, i + 1), depth));
      if (i >= t_.size()) return npos;
      if (t_[i] == '}') return i + 1;
      if (t_[i] != ',') return npos;
      i = json_scan_detail::skip_space(t_, i + 1);
    }
    return npos;
  }

  std::size_t array(std::size_t i, int depth) {
    if (depth > max_depth_) return npos;
    i = json_scan_detail::skip_space(t_, i + 1);
    if (i < t_.size() && t_[i] == ']') return i + 1;
    while (i < t_.size()) {
      i = json_scan_detail::skip_space(t_, value(i, depth));
      if (i >= t_.size()) return npos;
      if (t_[i] == ']') return i + 1;
      if (t_[i] != ',') return npos;
      i = json_scan_detail::skip_space(t_, i + 1);
    }
    return npos;
  }

  std::size_t literal(std::size_t i, std::string_view word) const {
    return t_.substr(i, word.size()) == word ? i + word.size() : npos;
  }

  bool digit_at(std::size_t i) const { return i < t_.size() && t_[i] >= '0' && t_[i] <= '9'; }
  std::size_t digits(std::size_t i) const {  // one or more
    if (!digit_at(i)) return npos;
    while (digit_at(i)) ++i;
    return i;
  }

  std::size_t number(std::size_t i) const {
    if (i < t_.size() && t_[i] == '-') ++i;
    if (!digit_at(i)) return npos;
    i = t_[i] == '0' ? i + 1 : digits(i);
    if (i < t_.size() && t_[i] == '.') {
      i = digits(i + 1);
      if (i == npos) return npos;
    }
    if (i < t_.size() && (t_[i] == 'e' || t_[i] == 'E')) {
      ++i;
      if (i < t_.size() && (t_[i] == '+' || t_[i] == '-')) ++i;
      i = digits(i);
    }
    return i;
  }

  static bool continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

  // Whether a string character needs more than a step over it: a quote, a backslash, a control character or
  // a byte of a multi-byte UTF-8 sequence.
  static bool special(unsigned char c) { return c < 0x20 || c >= 0x80 || c == '"' || c == '\\'; }

  // Whether any of the 8 bytes in `w` is special(); exact (the classic SWAR tests for a zero byte and for a
  // byte below n, which may misreport which byte, never whether one exists).
  static bool any_special(std::uint64_t w) {
    constexpr std::uint64_t ones = 0x0101010101010101ULL;
    constexpr std::uint64_t highs = 0x8080808080808080ULL;
    const auto has_zero = [](std::uint64_t v) { return (v - ones) & ~v & highs; };
    const std::uint64_t below_space = (w - ones * 0x20) & ~w & highs;
    return ((w & highs) | below_space | has_zero(w ^ (ones * '"')) | has_zero(w ^ (ones * '\\'))) != 0;
  }

  // The first index from `i` on whose character is special() (or the end): eight bytes a step while none
  // is, as most of a string's bytes are not.
  std::size_t skip_plain(std::size_t i) const {
    while (i + 8 <= t_.size()) {
      std::uint64_t w;
      std::memcpy(&w, t_.data() + i, sizeof w);
      if (any_special(w)) break;
      i += 8;
    }
    while (i < t_.size() && !special(static_cast<unsigned char>(t_[i]))) ++i;
    return i;
  }

  // `i` at the opening quote.
  std::size_t string(std::size_t i) const {
    ++i;
    while (i < t_.size()) {
      i = skip_plain(i);
      if (i >= t_.size()) return npos;
      const auto c = static_cast<unsigned char>(t_[i]);
      if (c == '"') return i + 1;
      if (c < 0x20) return npos;
      if (c == '\\') {
        if (i + 1 >= t_.size()) return npos;
        const char e = t_[i + 1];
        if (e == 'u') {
          const int unit = code_unit_at(t_, i);
          if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF)) return npos;
          if (unit >= 0xD800 && unit <= 0xDBFF) {  // a high surrogate must be followed by an escaped low one
            const int low = code_unit_at(t_, i + 6);
            if (low < 0xDC00 || low > 0xDFFF) return npos;
            i += 6;
          }
          i += 6;
          continue;
        }
        if (e == '\0' || std::strchr("\"\\/bfnrt", e) == nullptr) return npos;
        i += 2;
        continue;
      }
      if (c < 0x80) {
        ++i;
        continue;
      }
      i = utf8_sequence(i);
      if (i == npos) return npos;
    }
    return npos;
  }

  // A well-formed UTF-8 sequence (no overlongs, no surrogates, at most U+10FFFF) starting at `i`.
  std::size_t utf8_sequence(std::size_t i) const {
    const auto at = [&](std::size_t k) { return k < t_.size() ? static_cast<unsigned char>(t_[k]) : 0; };
    const unsigned char c = at(i);
    if (c >= 0xC2 && c <= 0xDF) return continuation(at(i + 1)) ? i + 2 : npos;
    if (c >= 0xE0 && c <= 0xEF) {
      const unsigned char c1 = at(i + 1);
      const bool ok1 = c == 0xE0   ? (c1 >= 0xA0 && c1 <= 0xBF)
                       : c == 0xED ? (c1 >= 0x80 && c1 <= 0x9F)
                                   : continuation(c1);
      return ok1 && continuation(at(i + 2)) ? i + 3 : npos;
    }
    if (c >= 0xF0 && c <= 0xF4) {
      const unsigned char c1 = at(i + 1);
      const bool ok1 = c == 0xF0   ? (c1 >= 0x90 && c1 <= 0xBF)
                       : c == 0xF4 ? (c1 >= 0x80 && c1 <= 0x8F)
                                   : continuation(c1);
      return ok1 && continuation(at(i + 2)) && continuation(at(i + 3)) ? i + 4 : npos;
    }
    return npos;
  }

  std::string_view t_;
  int max_depth_;
};

}  // namespace

bool is_valid_json(std::string_view text, int max_depth) {
  return json_validator(text, max_depth).accept();
}

namespace {

void append_utf8(std::string& out, unsigned long cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

bool append_json_unescaped(std::string_view raw, std::string& out) {
  const std::size_t old_size = out.size();
  const auto fail = [&] {
    out.resize(old_size);
    return false;
  };
  std::size_t i = 0;
  while (i < raw.size()) {
    const void* hit = std::memchr(raw.data() + i, '\\', raw.size() - i);
    const std::size_t escape =
        hit ? static_cast<std::size_t>(static_cast<const char*>(hit) - raw.data()) : raw.size();
    out.append(raw.substr(i, escape - i));
    if (escape == raw.size()) break;
    if (escape + 1 >= raw.size()) return fail();
    const char letter = raw[escape + 1];
    if (letter == 'u') {
      const int unit = code_unit_at(raw, escape);
      if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF)) return fail();
      if (unit >= 0xD800 && unit <= 0xDBFF) {  // a high surrogate: an escaped low one must follow
        const int low = code_unit_at(raw, escape + 6);
        if (low < 0xDC00 || low > 0xDFFF) return fail();
        append_utf8(out, 0x10000 + ((static_cast<unsigned long>(unit) - 0xD800) << 10) +
                             (static_cast<unsigned long>(low) - 0xDC00));
        i = escape + 12;
      } else {
        append_utf8(out, static_cast<unsigned long>(unit));
        i = escape + 6;
      }
      continue;
    }
    char decoded = 0;
    switch (letter) {
      case '"':
        decoded = '"';
        break;
      case '\\':
        decoded = '\\';
        break;
      case '/':
        decoded = '/';
        break;
      case 'b':
        decoded = '\b';
        break;
      case 'f':
        decoded = '\f';
        break;
      case 'n':
        decoded = '\n';
        break;
      case 'r':
        decoded = '\r';
        break;
      case 't':
        decoded = '\t';
        break;
      default:
        return fail();
    }
    out.push_back(decoded);
    i = escape + 2;
  }
  return true;
}

std::optional<std::string_view> find_top_level_member(std::string_view t, std::string_view key) {
  std::optional<std::string_view> found;
  const bool ok = for_each_top_level_member(t, [&](const json_member& m) {
    if (t.substr(m.key_pos, m.key_len) == key) found = t.substr(m.value_pos, m.value_len);
  });
  if (!ok) return std::nullopt;
  return found;
}

}  // namespace pd_proxy
