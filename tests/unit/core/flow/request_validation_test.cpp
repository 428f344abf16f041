#include "pd_proxy/core/flow/request_validation.hpp"

#include <gtest/gtest.h>

#include "pd_proxy/core/flow/request_rewrite.hpp"

namespace pd_proxy {
namespace {

constexpr std::string_view bad_prompt =
    "`prompt` must be a string, an array of strings, an array of integers or an array of arrays of integers";

// The message check() gives for `body`, or "" when the body is accepted.
std::string error_of(std::string body) {
  auto checked = client_request::check(std::move(body));
  EXPECT_EQ(checked.request.has_value(), checked.error.empty());
  return checked.error;
}

TEST(request_validation, prompt_shapes) {
  for (const char* ok : {R"("")", R"("hello")", R"("a \"q\" \\ \/ \b\f\n\r\t \u00e9 \uD83D\uDE00")",
                         R"("\ud800 lone")", "\"caf\xC3\xA9\"", "[]", R"(["a"])", R"(["a", "b" , ""])", "[1]",
                         "[0,-1, 50256 ,123456789012345678901]", "[[1,2],[3]]", "[[]]", "[ [ 1 ] , [ ] ]",
                         R"(["0123456789abcdef0123456789abcdef"])"}) {
    EXPECT_EQ(member_shape_error("prompt", ok), "") << ok;
  }
  for (const char* bad : {"1",
                          "null",
                          "true",
                          "{}",
                          R"({"a":1})",
                          "[1.5]",
                          "[1e3]",
                          "[01]",
                          "[-]",
                          "[1,]",
                          "[,1]",
                          "[1 2]",
                          R"([1,"a"])",
                          R"(["a",1])",
                          "[[1],2]",
                          "[1,[2]]",
                          "[[1.0]]",
                          "[[\"a\"]]",
                          "[[[1]]]",
                          "[null]",
                          "[true]",
                          "[{}]",
                          R"("\x")",
                          R"("\u12")",
                          R"("\u12G4")",
                          "\"raw\ttab\"",
                          "\"raw\nnewline\"",
                          "[\"0123456789\x01\"]",
                          "[",
                          "[1",
                          R"("a)",
                          R"(["a")",
                          "[[1]",
                          "[1]]",
                          "[1]x"}) {
    EXPECT_EQ(member_shape_error("prompt", bad), bad_prompt) << bad;
  }
}

TEST(request_validation, every_position_of_a_special_byte_in_a_long_prompt_string_is_seen) {
  for (std::size_t at = 0; at < 100; ++at) {  // across the 16- and 32-byte blocks of the fast path
    const std::string before(at, 'x'), after(100 - at, 'y');
    EXPECT_EQ(member_shape_error("prompt", "\"" + before + "\x01" + after + "\""), bad_prompt) << at;
    EXPECT_EQ(member_shape_error("prompt", "\"" + before + "\x1F" + after + "\""), bad_prompt) << at;
    EXPECT_EQ(member_shape_error("prompt", "\"" + before + "\"" + after + "\""), bad_prompt) << at;
    EXPECT_EQ(member_shape_error("prompt", "\"" + before + "\\q" + after + "\""), bad_prompt) << at;
    EXPECT_EQ(member_shape_error("prompt", "\"" + before + "\\n\x20\x7F\xC3\xA9" + after + "\""), "") << at;
    EXPECT_EQ(member_shape_error("prompt", "\"" + before + "\\\"" + after + "\""), "") << at;
  }
}

TEST(request_validation, messages_shapes) {
  for (const char* ok : {R"([{"role":"user","content":"hi"}])", R"([ {} , {"a":[1,{"b":2}]} ])"}) {
    EXPECT_EQ(member_shape_error("messages", ok), "") << ok;
  }
  for (const char* bad : {"[]", "[ ]", "null", "{}", R"("hi")", "[1]", R"(["hi"])", "[{},1]", "[[{}]]",
                          "[{},]", "[{}}", "[{} {}]"}) {
    EXPECT_EQ(member_shape_error("messages", bad), "`messages` must be a non-empty array of objects") << bad;
  }
}

TEST(request_validation, stream_shapes) {
  for (const char* ok : {"true", "false", "null"}) EXPECT_EQ(member_shape_error("stream", ok), "") << ok;
  for (const char* bad : {"1", "0", R"("true")", "[]", "{}", "True", "nul"}) {
    EXPECT_EQ(member_shape_error("stream", bad), "`stream` must be true, false or null") << bad;
  }
}

TEST(request_validation, token_limits) {
  for (const char* ok : {"1", "16", "null", "123456789012345678901234567890"}) {
    EXPECT_EQ(member_shape_error("max_tokens", ok), "") << ok;
  }
  for (const char* bad : {"0", "-0", "-1", "1.0", "1e3", "16.5", R"("16")", "true", "[16]", "01", "+1"}) {
    EXPECT_EQ(member_shape_error("max_tokens", bad), "`max_tokens` must be a positive integer or null")
        << bad;
  }
  for (const char* ok : {"0", "-0", "1", "4096", "null"}) {
    EXPECT_EQ(member_shape_error("min_tokens", ok), "") << ok;
    EXPECT_EQ(member_shape_error("max_completion_tokens", ok), "") << ok;
  }
  for (const char* bad : {"-1", "2.0", R"("2")", "false", "{}", "00"}) {
    EXPECT_EQ(member_shape_error("min_tokens", bad), "`min_tokens` must be a non-negative integer or null")
        << bad;
    EXPECT_EQ(member_shape_error("max_completion_tokens", bad),
              "`max_completion_tokens` must be a non-negative integer or null")
        << bad;
  }
}

TEST(request_validation, unknown_members_are_not_checked) {
  for (const char* name : {"model", "temperature", "n", "Prompt", "prompts", "max_tokens_x", ""}) {
    EXPECT_EQ(member_shape_error(name, "[1.5, {]"), "") << name;
  }
  EXPECT_EQ(error_of(R"({"model":"m","extra":{"anything":[1,"x",null]},"temperature":-3.5})"), "");
}

TEST(request_validation, a_checked_member_is_found_by_its_decoded_name) {
  EXPECT_EQ(error_of(R"({"pr\u006fmpt":1})"), bad_prompt);
  EXPECT_EQ(error_of(R"({"max_t\u006fkens":0})"), "`max_tokens` must be a positive integer or null");
}

TEST(request_validation, the_first_wrong_member_in_body_order_is_named) {
  EXPECT_EQ(error_of(R"({"max_tokens":0,"prompt":1})"), "`max_tokens` must be a positive integer or null");
  EXPECT_EQ(error_of(R"({"prompt":1,"max_tokens":0})"), bad_prompt);
}

TEST(request_validation, a_repeated_member_is_named) {
  EXPECT_EQ(error_of(R"({"stream":false,"prompt":"p","stream":true})"), "`stream` appears more than once");
  EXPECT_EQ(error_of(R"({"stream":false,"str\u0065am":true})"), "`stream` appears more than once");
  EXPECT_EQ(error_of(R"({"kv_transfer_params":{},"prompt":"p","kv_transfer_params":{"a":1}})"),
            "`kv_transfer_params` appears more than once");
  EXPECT_EQ(error_of(R"({"b":1,"a":1,"a":2,"b":3})"), "`b` appears more than once");
  EXPECT_EQ(error_of(R"({"a":{"x":1,"x":2}})"), "") << "nested objects are the backend's business";
  // Shape problems come first.
  EXPECT_EQ(error_of(R"({"stream":1,"stream":true})"), "`stream` must be true, false or null");
}

TEST(request_validation, repeated_members_among_many) {
  std::string body = "{";
  for (int i = 0; i < 1000; ++i) body += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  EXPECT_EQ(error_of(body + "\"z\":1}"), "");
  EXPECT_EQ(error_of(body + "\"k500\":1,\"k7\":2}"), "`k7` appears more than once");
  std::string small = "{";
  for (int i = 0; i < 32; ++i) small += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  EXPECT_EQ(error_of(small + "\"k31\":1}"), "`k31` appears more than once");  // 33 members: the sorted path
  small.back() = '}';
  EXPECT_EQ(error_of(small), "");
}

TEST(request_validation, a_long_repeated_name_is_cut_in_the_message) {
  const std::string name = std::string(63, 'n') + "\xC3\xA9" + std::string(100, 'x');
  const std::string error = error_of("{\"" + name + "\":1,\"" + name + "\":2}");
  EXPECT_EQ(error, "`" + std::string(63, 'n') + "...` appears more than once");
}

TEST(request_validation, invalid_utf8_names_the_member_that_holds_it) {
  EXPECT_EQ(error_of("{\"model\":\"m\",\"prompt\":\"caf\xE9\"}"), "`prompt` is not valid UTF-8");
  EXPECT_EQ(error_of("{\"messages\":[{\"content\":\"\xC0\xAF\"}]}"), "`messages` is not valid UTF-8");
  EXPECT_EQ(error_of("{\"x\":{\"deep\":[\"\xED\xA0\x80\"]}}"), "`x` is not valid UTF-8");
  EXPECT_EQ(error_of("{\"k\xFF\":1}"), "a member name is not valid UTF-8");
  // UTF-8 comes before shapes and repeats.
  EXPECT_EQ(error_of("{\"stream\":1,\"a\":\"\xFF\"}"), "`a` is not valid UTF-8");
  // Well-formed multi-byte text and escaped lone surrogates pass.
  EXPECT_EQ(error_of("{\"prompt\":\"\xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80\",\"x\":\"\\udc00\"}"), "");
}

}  // namespace
}  // namespace pd_proxy
