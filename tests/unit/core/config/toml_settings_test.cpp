// The strict TOML reader of --config: TOML's strings, numbers and arrays as TOML reads them; duplicate keys,
// unterminated strings and the parts of TOML no setting uses refused with the line, never with a value.
#include "pd_proxy/core/config/toml_settings.hpp"

#include <gtest/gtest.h>

namespace pd_proxy {
namespace {

// The one value of a file holding `key = <value>`; the error when there is one.
std::string value_of(const std::string& value) {
  const auto r = parse_toml_settings("key = " + value + "\n");
  if (!r.ok()) return "error: " + r.error;
  EXPECT_EQ(r.settings.size(), 1u);
  EXPECT_EQ(r.settings.front().values.size(), 1u);
  return r.settings.front().values.front();
}

std::string error_of(std::string_view text) {
  const auto r = parse_toml_settings(text);
  EXPECT_FALSE(r.ok()) << text;
  EXPECT_TRUE(r.settings.empty());
  return r.error;
}

TEST(toml_settings, basic_strings_decode_their_escapes) {
  EXPECT_EQ(value_of(R"("a\nb")"), "a\nb");
  EXPECT_EQ(value_of(R"("tab\there \"quoted\" back\\slash")"), "tab\there \"quoted\" back\\slash");
  EXPECT_EQ(value_of(R"("\b\f\r")"), "\b\f\r");
  EXPECT_EQ(value_of(R"("caf\u00E9 \U0001F600")"), "caf\xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ(value_of(R"("k#not-a-comment")"), "k#not-a-comment");
  EXPECT_EQ(value_of(R"("")"), "");
}

TEST(toml_settings, literal_strings_are_taken_as_written) {
  EXPECT_EQ(value_of(R"('C:\keys\a.txt')"), R"(C:\keys\a.txt)");
  EXPECT_EQ(value_of(R"('say "hi"' # comment)"), R"(say "hi")");
}

TEST(toml_settings, multi_line_strings) {
  EXPECT_EQ(value_of("\"\"\"\nline 1\nline 2\"\"\""), "line 1\nline 2");
  EXPECT_EQ(value_of("\"\"\"one \\\n    two\"\"\""), "one two");  // a line-ending backslash joins
  EXPECT_EQ(value_of("\"\"\"a\\tb\"\"\""), "a\tb");
  EXPECT_EQ(value_of("'''\nraw \\n '''"), "raw \\n ");
  EXPECT_EQ(value_of("\"\"\"ends with a quote\"\"\"\""), "ends with a quote\"");
  const auto r = parse_toml_settings("a = \"\"\"\nx\r\ny\"\"\"\r\nb = 1\r\n");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.settings.at(0).values.at(0), "x\ny");
  EXPECT_EQ(r.settings.at(1).line, 4);
}

TEST(toml_settings, numbers_and_booleans) {
  EXPECT_EQ(value_of("8100"), "8100");
  EXPECT_EQ(value_of("-1"), "-1");
  EXPECT_EQ(value_of("+5"), "+5");
  EXPECT_EQ(value_of("1_000_000"), "1000000");
  EXPECT_EQ(value_of("0x1F"), "31");
  EXPECT_EQ(value_of("0o17"), "15");
  EXPECT_EQ(value_of("0b101"), "5");
  EXPECT_EQ(value_of("0.5"), "0.5");
  EXPECT_EQ(value_of("1e3"), "1e3");
  EXPECT_EQ(value_of("-2.5E-3"), "-2.5E-3");
  EXPECT_EQ(value_of("inf"), "inf");
  EXPECT_EQ(value_of("true"), "true");
  EXPECT_EQ(value_of("false"), "false");
  for (const char* bad : {"0123", "1__0", "_1", "1_", "1.", ".5", "1e", "0x", "0xG", "tru", "127.0.0.1",
                          "0x8000000000000000"}) {
    EXPECT_NE(value_of(bad).find("error: line 1: "), std::string::npos) << bad;
  }
  EXPECT_NE(value_of("1979-05-27T07:32:00Z").find("dates"), std::string::npos);
}

TEST(toml_settings, arrays_span_lines_with_comments_and_a_trailing_comma) {
  const auto r = parse_toml_settings(R"(ports = [
  9000,  # node 1
  9100,  # node 2
]
hosts = ["a", 'b']
empty = []
)");
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.settings.size(), 3u);
  EXPECT_TRUE(r.settings[0].is_array);
  EXPECT_EQ(r.settings[0].values, (std::vector<std::string>{"9000", "9100"}));
  EXPECT_EQ(r.settings[1].values, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.settings[1].line, 5);
  EXPECT_TRUE(r.settings[2].values.empty());
}

TEST(toml_settings, a_key_set_twice_is_refused_naming_the_second_line) {
  EXPECT_EQ(error_of("port = 1\n# comment\nport = 2\n"),
            "line 3: 'port' is set again (first on line 1); TOML forbids setting a key twice");
  // With an identity that folds spellings, two spellings of one key are the same key.
  const auto fold = [](std::string_view k) {
    std::string s(k);
    for (auto& c : s)
      if (c == '_') c = '-';
    return s;
  };
  const auto r = parse_toml_settings("max_retries = 1\nmax-retries = 2\n", fold);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error.rfind("line 2: 'max-retries' is set again (first on line 1)", 0), 0u) << r.error;
  // Quoted and bare spellings of one key are one key too.
  EXPECT_NE(error_of("port = 1\n\"port\" = 2\n").find("line 2"), std::string::npos);
}

TEST(toml_settings, malformed_text_is_refused_with_the_line_and_without_the_value) {
  const std::string secret = "s3cr3t-value";
  const auto check = [&](const std::string& text, const std::string& expected) {
    const std::string error = error_of(text);
    EXPECT_EQ(error.rfind(expected, 0), 0u) << text << " -> " << error;
    EXPECT_EQ(error.find(secret), std::string::npos) << error;
    EXPECT_EQ(error.find("s3cr3t"), std::string::npos) << error;
  };
  check("host = \"127.0.0.1\nport = 1\n", "line 1: a string has no closing '\"'");
  check("a = 1\nkey = \"" + secret + "\n", "line 2: a string has no closing");
  check("key = '" + secret + "\n", "line 1: a string has no closing");
  check("key = \"\"\"" + secret + "\n", "line 1: a multi-line string has no closing delimiter");
  check("key = \"" + secret + "\\q\"\n", "line 1: an unknown escape sequence");
  check("key = \"" + secret + "\\u12\"\n", "line 1: \\u and \\U take");
  check("key = \"\\uD800\"\n", "line 1: a \\u or \\U escape that is not a Unicode scalar value");
  check("key = " + secret + "\n", "line 1: a value must be a string");
  check("key = \"" + secret + "\" extra\n", "line 1: expected the end of the line");
  check("key = \"a\" \"" + secret + "\"\n", "line 1: expected the end of the line");
  check(secret + "\n", "line 1: expected 'key = value'");
  check("key =\n", "line 1: a value is missing");
  check("\n\n[pools]\nport = 1\n", "line 3: tables such as [pools] are not supported");
  check("[[pools]]\n", "line 1: tables such as [pools] are not supported");
  check("a.b = 1\n", "line 1: dotted keys such as 'a.' are not supported");
  check("key = [\"" + secret + "\"\n", "line 1: the array of 'key' has no closing ']'");
  check("key = [1 2]\n", "line 1: expected ',' or ']' in the array of 'key'");
  check("key = [[1]]\n", "line 1: arrays of arrays are not supported");
  check("key = {a = 1}\n", "line 1: inline tables are not supported");
  check("key = \"a\x01b\"\n", "line 1: a control character in a string");
}

TEST(toml_settings, comments_blank_lines_and_crlf) {
  const auto r = parse_toml_settings("# header\r\n\r\n  port = 1 # trailing\r\n\tlog = 'x'");
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.settings.size(), 2u);
  EXPECT_EQ(r.settings[0].key, "port");
  EXPECT_EQ(r.settings[0].line, 3);
  EXPECT_FALSE(r.settings[0].is_array);
  EXPECT_EQ(r.settings[1].values.front(), "x");
  EXPECT_TRUE(parse_toml_settings("").ok());
  EXPECT_TRUE(parse_toml_settings("\xEF\xBB\xBFport = 1\n").ok());  // a byte order mark
}

}  // namespace
}  // namespace pd_proxy
