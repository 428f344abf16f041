#include "pd_proxy/core/json/utf8.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pd_proxy {
namespace {

constexpr std::size_t npos = std::string_view::npos;

TEST(utf8, well_formed_text_has_no_invalid_byte) {
  using namespace std::string_literals;
  for (const std::string& ok :
       {""s, "a"s, "plain ascii, longer than one eight-byte word"s, "\xC3\xA9"s, "\xE2\x82\xAC"s,
        "\xF0\x9F\x98\x80"s, "\xEF\xBF\xBF"s, "\xF4\x8F\xBF\xBF"s, "\xED\x9F\xBF"s, "nul \0 inside"s}) {
    EXPECT_EQ(find_invalid_utf8(ok), npos) << ok;
  }
}

TEST(utf8, the_offset_of_the_first_bad_byte) {
  const struct {
    std::string text;
    std::size_t offset;
  } cases[] = {
      {"\xFF", 0},
      {"abc\x80", 3},                           // a lone continuation byte
      {"\xC0\xAF", 0},                          // overlong
      {"\xC1\xBF", 0},                          // overlong
      {"\xE0\x80\xAF", 0},                      // overlong
      {"\xF0\x80\x80\xAF", 0},                  // overlong
      {"\xED\xA0\x80", 0},                      // a surrogate (U+D800)
      {"\xED\xBF\xBF", 0},                      // a surrogate (U+DFFF)
      {"\xF4\x90\x80\x80", 0},                  // above U+10FFFF
      {"\xF5\x80\x80\x80", 0},                  // never valid
      {"ok \xC3", 3},                           // truncated at the end
      {"ok \xE2\x82", 3},                       // truncated at the end
      {"\xE2\x82(", 0},                         // cut by ASCII
      {"0123456789abcdef\xC3\xA9xyz\xFE", 21},  // after a fast ASCII run and a good sequence
      {"01234567\xFF", 8},
  };
  for (const auto& c : cases) EXPECT_EQ(find_invalid_utf8(c.text), c.offset) << c.text;
}

TEST(utf8, every_position_of_a_bad_byte_in_long_ascii_is_found) {
  for (std::size_t at = 0; at < 150; ++at) {  // across 8-, 16- and 64-byte blocks
    std::string text(150, 'x');
    text[at] = '\x80';
    EXPECT_EQ(find_invalid_utf8(text), at);
    text[at] = '\xC3';
    if (at + 1 < text.size()) {
      text[at + 1] = '\xA9';
      EXPECT_EQ(find_invalid_utf8(text), npos) << at;
    }
  }
}

}  // namespace
}  // namespace pd_proxy
