#include "pd_proxy/core/config/toml_settings.hpp"

#include <charconv>
#include <cstdint>
#include <map>
#include <utility>

namespace pd_proxy {
namespace {

bool is_bare_key_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}
bool is_decimal(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_decimal(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_octal(char c) {
  return c >= '0' && c <= '7';
}
bool is_binary(char c) {
  return c == '0' || c == '1';
}
bool is_control(unsigned char c) {
  return (c < 0x20 && c != '\t') || c == 0x7f;
}

// Reads digit ('_'? digit)* of `s` from `i`: at least one digit, each '_' between two digits.
bool read_digits(std::string_view s, std::size_t& i, bool (*digit)(char)) {
  if (i >= s.size() || !digit(s[i])) return false;
  while (i < s.size()) {
    if (digit(s[i])) {
      ++i;
    } else if (s[i] == '_' && i + 1 < s.size() && digit(s[i + 1])) {
      i += 2;
    } else {
      break;
    }
  }
  return true;
}

std::string without_underscores(std::string_view s) {
  std::string out;
  for (const char c : s)
    if (c != '_') out += c;
  return out;
}

// A TOML integer or float token as the text a flag reads ("0x1F" -> "31", "1_000" -> "1000"); false when
// `token` is neither.
bool number_text(std::string_view token, std::string& out) {
  const auto based = [&](bool (*digit)(char), int base) {
    std::size_t i = 2;
    if (!read_digits(token, i, digit) || i != token.size()) return false;
    const std::string digits = without_underscores(token.substr(2));
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
    if (ec != std::errc{} || end != digits.data() + digits.size()) return false;
    out = std::to_string(value);
    return true;
  };
  if (token.size() > 2 && token[0] == '0') {
    if (token[1] == 'x') return based(is_hex, 16);
    if (token[1] == 'o') return based(is_octal, 8);
    if (token[1] == 'b') return based(is_binary, 2);
  }
  std::size_t i = 0;
  if (i < token.size() && (token[i] == '+' || token[i] == '-')) ++i;
  const std::string_view unsigned_part = token.substr(i);
  if (unsigned_part == "inf" || unsigned_part == "nan") {
    out = std::string(token);
    return true;
  }
  const std::size_t int_start = i;
  if (!read_digits(token, i, is_decimal)) return false;
  if (token[int_start] == '0' && i - int_start > 1) return false;  // no leading zeros
  if (i < token.size() && token[i] == '.') {
    ++i;
    if (!read_digits(token, i, is_decimal)) return false;
  }
  if (i < token.size() && (token[i] == 'e' || token[i] == 'E')) {
    ++i;
    if (i < token.size() && (token[i] == '+' || token[i] == '-')) ++i;
    if (!read_digits(token, i, is_decimal)) return false;
  }
  if (i != token.size()) return false;
  out = without_underscores(token);
  return true;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A cursor over the text; every read_* returns false after recording the first error.
class reader {
 public:
  explicit reader(std::string_view text) : text_(text) {}

  toml_settings run(const toml_key_identity& identity) {
    toml_settings out;
    std::map<std::string, int> first_line;
    if (looking_at("\xEF\xBB\xBF")) pos_ += 3;  // a UTF-8 byte order mark, as some editors write
    while (skip_space_and_comments() && !at_end()) {
      toml_setting setting;
      setting.line = line_;
      if (peek() == '[') {
        refuse_table();
        break;
      }
      if (!read_key(setting.key)) break;
      if (identity) setting.key = identity(setting.key);
      skip_blanks();
      if (peek() == '.') {
        fail("dotted keys such as '" + setting.key + ".' are not supported: every key is a flag name");
        break;
      }
      if (peek() != '=') {
        fail("expected 'key = value'");
        break;
      }
      ++pos_;
      skip_blanks();
      if (!read_value(setting) || !end_of_line()) break;
      const auto [it, inserted] = first_line.emplace(setting.key, setting.line);
      if (!inserted) {
        fail_at(setting.line, "'" + setting.key + "' is set again (first on line " +
                                  std::to_string(it->second) + "); TOML forbids setting a key twice");
        break;
      }
      out.settings.push_back(std::move(setting));
    }
    if (!error_.empty()) return toml_settings{{}, error_};
    return out;
  }

 private:
  bool at_end() const { return pos_ >= text_.size(); }
  char peek(std::size_t ahead = 0) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }
  bool looking_at(std::string_view s) const { return text_.substr(pos_, s.size()) == s; }
  bool at_newline() const { return peek() == '\n' || (peek() == '\r' && peek(1) == '\n'); }
  // Moves past a newline (at_newline()).
  void take_newline() {
    pos_ += peek() == '\r' ? 2 : 1;
    ++line_;
  }

  bool fail_at(int line, const std::string& message) {
    if (error_.empty()) error_ = "line " + std::to_string(line) + ": " + message;
    return false;
  }
  bool fail(const std::string& message) { return fail_at(line_, message); }

  void skip_blanks() {
    while (peek() == ' ' || peek() == '\t') ++pos_;
  }
  bool skip_comment() {  // at '#'
    for (; !at_end() && !at_newline(); ++pos_) {
      if (is_control(static_cast<unsigned char>(peek()))) return fail("a control character in a comment");
    }
    return true;
  }
  // Blanks, comments and line ends (between settings and inside arrays).
  bool skip_space_and_comments() {
    for (;;) {
      skip_blanks();
      if (peek() == '#') {
        if (!skip_comment()) return false;
      } else if (at_newline()) {
        take_newline();
      } else {
        return true;
      }
    }
  }
  // After a value: blanks, an optional comment, then a line end or the end of the text.
  bool end_of_line() {
    skip_blanks();
    if (peek() == '#' && !skip_comment()) return false;
    if (at_end()) return true;
    if (at_newline()) {
      take_newline();
      return true;
    }
    return fail("expected the end of the line after the value (one setting per line)");
  }

  void refuse_table() {
    std::size_t start = pos_;
    while (start < text_.size() && text_[start] == '[') ++start;
    std::size_t end = start;
    while (end < text_.size() && (is_bare_key_char(text_[end]) || text_[end] == '.')) ++end;
    const std::string name(text_.substr(start, end - start));
    fail("tables such as [" + name + "] are not supported: every key is a flag name at the top level");
  }

  bool read_key(std::string& key) {
    if (peek() == '"') return read_basic_string(key);
    if (peek() == '\'') return read_literal_string(key);
    const std::size_t start = pos_;
    while (is_bare_key_char(peek())) ++pos_;
    if (pos_ == start) return fail("expected 'key = value'");
    key = std::string(text_.substr(start, pos_ - start));
    return true;
  }

  bool read_value(toml_setting& setting) {
    if (peek() != '[') {
      setting.values.emplace_back();
      return read_scalar(setting.values.back());
    }
    setting.is_array = true;
    ++pos_;
    for (;;) {
      if (!skip_space_and_comments()) return false;
      if (at_end()) return fail_at(setting.line, "the array of '" + setting.key + "' has no closing ']'");
      if (peek() == ']') break;
      setting.values.emplace_back();
      if (!read_scalar(setting.values.back()) || !skip_space_and_comments()) return false;
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != ']') {
        return at_end() ? fail_at(setting.line, "the array of '" + setting.key + "' has no closing ']'")
                        : fail("expected ',' or ']' in the array of '" + setting.key + "'");
      }
    }
    ++pos_;
    return true;
  }

  bool read_scalar(std::string& value) {
    if (looking_at("\"\"\"")) return read_multiline_string(value, true);
    if (looking_at("'''")) return read_multiline_string(value, false);
    if (peek() == '"') return read_basic_string(value);
    if (peek() == '\'') return read_literal_string(value);
    if (peek() == '[') return fail("arrays of arrays are not supported");
    if (peek() == '{') return fail("inline tables are not supported");
    const std::size_t start = pos_;
    while (!at_end() && peek() != ' ' && peek() != '\t' && peek() != ',' && peek() != ']' && peek() != '#' &&
           !at_newline())
      ++pos_;
    const std::string_view token = text_.substr(start, pos_ - start);
    if (token == "true" || token == "false") {
      value = std::string(token);
      return true;
    }
    if (number_text(token, value)) return true;
    if (token.size() >= 5 && is_decimal(token[0]) && token.find(':') != std::string_view::npos)
      return fail("dates and times are not supported");
    if (token.empty()) return fail("a value is missing");
    return fail("a value must be a string (in quotes), a number, true or false");
  }

  // After '\': one escape sequence of a basic string.
  bool read_escape(std::string& value) {
    const char c = peek();
    ++pos_;
    switch (c) {
      case 'b':
        value += '\b';
        return true;
      case 't':
        value += '\t';
        return true;
      case 'n':
        value += '\n';
        return true;
      case 'f':
        value += '\f';
        return true;
      case 'r':
        value += '\r';
        return true;
      case '"':
        value += '"';
        return true;
      case '\\':
        value += '\\';
        return true;
      case 'u':
      case 'U': {
        const std::size_t n = c == 'u' ? 4 : 8;
        std::uint32_t cp = 0;
        for (std::size_t i = 0; i < n; ++i, ++pos_) {
          if (!is_hex(peek())) return fail("\\u and \\U take 4 and 8 hexadecimal digits");
          const char h = peek();
          cp = cp * 16 + static_cast<std::uint32_t>(is_decimal(h) ? h - '0' : (h | 0x20) - 'a' + 10);
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
          return fail("a \\u or \\U escape that is not a Unicode scalar value");
        append_utf8(value, cp);
        return true;
      }
      default:
        return fail(
            "an unknown escape sequence in a string (TOML has \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX "
            "\\UXXXXXXXX; write \\\\ for a backslash)");
    }
  }

  bool read_basic_string(std::string& value) { return read_one_line_string(value, true); }
  bool read_literal_string(std::string& value) { return read_one_line_string(value, false); }

  // At '"' (basic: escapes) or '\'' (literal: none).
  bool read_one_line_string(std::string& value, bool basic) {
    const char quote = basic ? '"' : '\'';
    ++pos_;
    for (;;) {
      if (at_end() || at_newline())
        return fail(basic ? "a string has no closing '\"'" : "a string has no closing \"'\"");
      const char c = peek();
      if (c == quote) break;
      if (basic && c == '\\') {
        ++pos_;
        if (!read_escape(value)) return false;
        continue;
      }
      if (is_control(static_cast<unsigned char>(c))) return fail("a control character in a string");
      value += c;
      ++pos_;
    }
    ++pos_;
    return true;
  }

  // At """ (basic) or ''' (literal). A newline right after the opening delimiter is not part of the value;
  // up to two quotes may precede the closing delimiter.
  bool read_multiline_string(std::string& value, bool basic) {
    const int start_line = line_;
    const char quote = basic ? '"' : '\'';
    pos_ += 3;
    if (at_newline()) take_newline();
    for (;;) {
      if (at_end()) return fail_at(start_line, "a multi-line string has no closing delimiter");
      if (peek() == quote && peek(1) == quote && peek(2) == quote) {
        std::size_t quotes = 3;
        while (peek(quotes) == quote) ++quotes;
        if (quotes > 5) return fail("too many quotes at the end of a multi-line string");
        value.append(quotes - 3, quote);
        pos_ += quotes;
        return true;
      }
      if (at_newline()) {
        take_newline();
        value += '\n';
        continue;
      }
      const char c = peek();
      if (basic && c == '\\') {
        ++pos_;
        std::size_t after = pos_;
        while (after < text_.size() && (text_[after] == ' ' || text_[after] == '\t')) ++after;
        if (after < text_.size() && (text_[after] == '\n' || text_.substr(after, 2) == "\r\n")) {
          pos_ = after;  // a line-ending backslash: the line end and the blanks after it are dropped
          while (skip_blank_or_newline()) {
          }
          continue;
        }
        if (!read_escape(value)) return false;
        continue;
      }
      if (is_control(static_cast<unsigned char>(c))) return fail("a control character in a string");
      value += c;
      ++pos_;
    }
  }
  bool skip_blank_or_newline() {
    if (peek() == ' ' || peek() == '\t') {
      ++pos_;
      return true;
    }
    if (at_newline()) {
      take_newline();
      return true;
    }
    return false;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  int line_ = 1;
  std::string error_;
};

}  // namespace

toml_settings parse_toml_settings(std::string_view text, const toml_key_identity& identity) {
  return reader(text).run(identity);
}

}  // namespace pd_proxy
