// A strict reader of the TOML subset a settings file uses: top-level `key = value` lines whose values are
// strings, integers, floats, booleans or arrays of them. Everything else TOML has (tables, dotted keys,
// inline tables, dates) is refused with a message, never misread.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pd_proxy {

/// One `key = value` of the file.
struct toml_setting {
  std::string key;                  // as the key identity function gave it
  std::vector<std::string> values;  // one for a scalar, one per element for an array (possibly none)
  bool is_array = false;
  int line = 0;  // 1-based line of the key
};

struct toml_settings {
  std::vector<toml_setting> settings;  // in file order
  std::string error;                   // "line N: ..." when the text is not valid; `settings` is then empty

  bool ok() const { return error.empty(); }
};

/// How keys are compared for duplicates: two keys with the same identity are the same key.
using toml_key_identity = std::function<std::string(std::string_view)>;

/// Parses `text` as TOML (v1.0) restricted to the subset above:
/// - keys: bare (A-Za-z0-9_-) or quoted ("..." with escapes, '...'); a dotted key is refused;
/// - strings: basic ("..." with \b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX, the code point written as UTF-8),
///   literal ('...'), multi-line basic ("""...""", a line-ending backslash joins lines) and multi-line
///   literal ('''...'''); the value is the decoded text;
/// - integers: decimal with optional sign and '_' between digits, 0x/0o/0b: the value is the decimal text;
/// - floats (incl. inf, nan) and true/false: the value is the text as written, '_' removed;
/// - arrays: the elements' values, over several lines, with comments and a trailing comma; nested arrays and
///   inline tables are refused;
/// - comments from '#' outside strings to the end of the line; blank lines; CRLF line ends.
/// A key set twice (compared by `identity`) is refused naming both lines, as TOML requires. Messages name
/// the line and the key but never quote a value (a value may be a secret).
toml_settings parse_toml_settings(std::string_view text, const toml_key_identity& identity = {});

}  // namespace pd_proxy
