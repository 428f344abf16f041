#include "pd_proxy/core/json/json_scan.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>

namespace pd_proxy {
namespace {

TEST(json_scan, finds_top_level_values_of_every_type) {
  const std::string_view doc =
      R"( { "id" : "x\"}{[" , "n":-1.5e3,"arr":[1,{"k":"]"}],"o":{"kv_transfer_params":1},"t":true,"z":null,)"
      R"("kv_transfer_params" : {"remote_block_ids":[[1,2]],"s":"a\\"}} )";
  EXPECT_EQ(find_top_level_member(doc, "id"), R"("x\"}{[")");
  EXPECT_EQ(find_top_level_member(doc, "n"), "-1.5e3");
  EXPECT_EQ(find_top_level_member(doc, "arr"), R"([1,{"k":"]"}])");
  EXPECT_EQ(find_top_level_member(doc, "t"), "true");
  EXPECT_EQ(find_top_level_member(doc, "z"), "null");
  EXPECT_EQ(find_top_level_member(doc, "kv_transfer_params"), R"({"remote_block_ids":[[1,2]],"s":"a\\"})");
  EXPECT_FALSE(find_top_level_member(doc, "k"));  // nested keys are not top-level
}

TEST(json_scan, last_duplicate_wins_and_empty_objects) {
  EXPECT_EQ(find_top_level_member(R"({"a":1,"a":2})", "a"), "2");
  EXPECT_FALSE(find_top_level_member("{}", "a"));
  EXPECT_FALSE(find_top_level_member("[1]", "a"));
}

TEST(json_scan, malformed_input_gives_nothing) {
  for (std::string_view bad :
       {R"({"a":)", R"({"a":"x)", R"({"a":1 "b":2})", R"({a:1})", R"({"a":[1,2})", ""}) {
    EXPECT_FALSE(find_top_level_member(bad, "a")) << bad;
  }
}

TEST(json_validation, accepts_well_formed_values) {
  for (std::string_view good :
       {R"({})", R"( [] )", R"("")", "0", "-0", "-0.5e-7", "1E+2", "123456789012345678901234567890", "true",
        "false", "null", R"({"a":[1,2,{"b":null}],"c":"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"})",
        "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"", "\n\t{ \"k\" : [ ] }\r\n"}) {
    EXPECT_TRUE(is_valid_json(good)) << good;
  }
}

TEST(json_validation, rejects_what_rfc_8259_rejects) {
  for (std::string_view bad : {"",
                               " ",
                               "{",
                               R"({"a"})",
                               R"({"a":1,})",
                               "[1,]",
                               "[,1]",
                               "01",
                               "-",
                               "1.",
                               ".5",
                               "1e",
                               "+1",
                               "0x10",
                               "NaN",
                               "tru",
                               "nul",
                               "True",
                               R"({'a':1})",
                               R"({a:1})",
                               R"("\x")",
                               R"("\u12G4")",
                               R"("\uDE00")",
                               R"("\uD83D")",
                               R"("\uD83D\u0041")",
                               "\"a\x01b\"",
                               "\"\xC0\xAF\"",
                               "\"\xED\xA0\x80\"",
                               "\"\xF4\x90\x80\x80\"",
                               "\"\xE2\x82\"",
                               "\"\x80\"",
                               "1 2",
                               R"({"a":1}})",
                               R"({"a" 1})",
                               R"("abc)"}) {
    EXPECT_FALSE(is_valid_json(bad)) << bad;
  }
}

TEST(json_validation, bounds_nesting_depth) {
  const std::string deep = std::string(200, '[') + std::string(200, ']');
  EXPECT_FALSE(is_valid_json(deep));
  EXPECT_TRUE(is_valid_json(deep, 200));
  EXPECT_TRUE(is_valid_json(std::string(128, '[') + std::string(128, ']')));
}

bool nlohmann_overflows(const std::string& doc) {
  try {
    const auto parsed = nlohmann::json::parse(doc);
    return parsed.is_discarded();
  } catch (const nlohmann::json::exception& e) {
    return std::string(e.what()).find("number overflow") != std::string::npos;
  }
  return false;
}

// A special character (quote, backslash escape, control, UTF-8 sequence, a stray byte) at every offset of a
// long string, on both sides of every 8-byte boundary the validator steps over.
TEST(json_validation, long_strings_are_checked_at_every_offset) {
  const std::string plain(24, 'a');
  const struct {
    std::string_view piece;
    bool valid;
  } cases[] = {
      {"\\\"", true},  {"\\n", true},   {"\\u00e9", true}, {"\xC3\xA9", true}, {"\xF0\x9F\x98\x80", true},
      {"\x01", false}, {"\x1F", false}, {"\\x", false},    {"\xC3", false},    {"\xED\xA0\x80", false},
      {"\x80", false}, {"\x7F", true},  {" ", true},       {"\"", false}};
  for (std::size_t at = 0; at <= plain.size(); ++at) {
    for (const auto& c : cases) {
      const std::string doc = "[\"" + plain.substr(0, at) + std::string(c.piece) + plain.substr(at) + "\"]";
      EXPECT_EQ(is_valid_json(doc), c.valid) << "at " << at << ": " << doc;
      EXPECT_EQ(is_valid_json(doc), nlohmann::json::accept(doc)) << doc;
    }
  }
}

// Differential: random byte mutations of real documents are accepted exactly when nlohmann accepts them.
TEST(json_validation, agrees_with_nlohmann_on_random_mutations) {
  const std::string seeds[] = {
      R"({"do_remote_prefill":true,"remote_block_ids":[0,1,2],"remote_engine_id":"e-1","remote_host":"10.0.0.1",)"
      R"("remote_port":5559,"tp_size":1,"x":-1.25e-3,"s":"caf\u00e9 \ud83d\ude00","n":null,"o":{"a":[]}})",
      "[\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\", 0, -0.0, 1e9, false, {\"k\": \"v\\n\"}]",
      // long strings: their plain runs are checked eight bytes at a time
      R"({"long":"abcdefghijklmnopqrstuvwxyz0123456789 ABCDEFGHIJ","esc":"0123456789abcdef\"tail0123456789",)"
      "\"u\":\"0123456789\xC3\xA9"
      "abcdefgh01234567\xF0\x9F\x98\x80"
      "ijklmnopqrstu\"}"};
  const std::string alphabet = "{}[]\":,\\ -+.0123456789eEtrufalsn\x01\x7F\xC3\xA9\xED\xF4\x80uDd";
  std::mt19937 rng(20261129);
  int accepted = 0, checked = 0;
  for (const auto& seed : seeds) {
    for (int round = 0; round < 4000; ++round) {
      std::string doc = seed;
      const int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits && !doc.empty(); ++e) {
        const std::size_t at = rng() % doc.size();
        const char c = alphabet[rng() % alphabet.size()];
        switch (rng() % 3) {
          case 0:
            doc[at] = c;
            break;
          case 1:
            doc.insert(doc.begin() + static_cast<std::ptrdiff_t>(at), c);
            break;
          default:
            doc.erase(at, 1);
            break;
        }
      }
      const bool expected = nlohmann::json::accept(doc);
      if (!expected && is_valid_json(doc)) {  // the one known difference: numbers beyond double's range
        ASSERT_TRUE(nlohmann_overflows(doc)) << doc;
        continue;
      }
      ASSERT_EQ(is_valid_json(doc), expected) << doc;
      accepted += expected ? 1 : 0;
      ++checked;
    }
  }
  EXPECT_GT(accepted, checked / 20);  // the mutations exercise both answers
}

TEST(json_unescape, decodes_every_escape_to_utf8) {
  std::string out = "prefix:";
  EXPECT_TRUE(append_json_unescaped(R"(a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\u20AC\uD83D\uDE00 \u0000z)", out));
  EXPECT_EQ(out,
            std::string("prefix:a\"b\\c/d\b\f\n\r\tA\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80 ") + '\0' + "z");
  out.clear();
  EXPECT_TRUE(append_json_unescaped("caf\xC3\xA9 plain", out));
  EXPECT_EQ(out, "caf\xC3\xA9 plain");
}

TEST(json_unescape, rejects_invalid_escapes_and_leaves_the_output_as_it_was) {
  for (std::string_view bad : {R"(\x)", R"(\)", R"(a\u12)", R"(\u12G4)", R"(\uD800)", R"(\uDC00x)",
                               R"(\uD83D\u0041)", R"(\uD83D\uD83D)", R"(\U0041)"}) {
    std::string out = "kept";
    EXPECT_FALSE(append_json_unescaped(bad, out)) << bad;
    EXPECT_EQ(out, "kept") << bad;
  }
}

}  // namespace
}  // namespace pd_proxy
