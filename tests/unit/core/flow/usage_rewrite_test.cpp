#include "pd_proxy/core/flow/usage_rewrite.hpp"

#include <gtest/gtest.h>

#include <string>

#include "pd_proxy/core/flow/request_rewrite.hpp"

namespace pd_proxy {
namespace {

TEST(usage_rewrite, the_prefill_answers_cached_tokens_are_its_digits) {
  EXPECT_EQ(
      prefill_cached_tokens(
          R"({"id":"x","usage":{"prompt_tokens":7,"prompt_tokens_details":{"cached_tokens":48}},"kv":{}})"),
      "48");
  EXPECT_EQ(prefill_cached_tokens(R"({"usage":{"prompt_tokens_details": { "cached_tokens" : 0 }}})"), "0");
  EXPECT_EQ(prefill_cached_tokens(R"({"usage":{"prompt_tokens":7,"prompt_tokens_details":null}})"), "");
  EXPECT_EQ(prefill_cached_tokens(R"({"usage":{"prompt_tokens":7}})"), "");
  EXPECT_EQ(prefill_cached_tokens(R"({"usage":null})"), "");
  EXPECT_EQ(prefill_cached_tokens(R"({"choices":[]})"), "");
  EXPECT_EQ(prefill_cached_tokens(R"({"usage":{"prompt_tokens_details":{"cached_tokens":-1}}})"), "");
  EXPECT_EQ(prefill_cached_tokens(R"({"usage":{"prompt_tokens_details":{"cached_tokens":1.5}}})"), "");
  EXPECT_EQ(prefill_cached_tokens(R"({"usage":{"prompt_tokens_details":{"cached_tokens":"3"}}})"), "");
  EXPECT_EQ(prefill_cached_tokens("not json"), "");
}

TEST(usage_rewrite, only_the_final_usage_chunk_is_one) {
  EXPECT_TRUE(is_final_usage_chunk(R"({"id":"c","choices":[],"usage":{"prompt_tokens":3}})"));
  EXPECT_TRUE(is_final_usage_chunk(R"({"id":"c","choices":[ ],"usage":{}})"));
  EXPECT_FALSE(
      is_final_usage_chunk(R"({"id":"c","choices":[{"text":"usage"}],"usage":{"prompt_tokens":3}})"));
  EXPECT_FALSE(is_final_usage_chunk(R"({"id":"c","choices":[],"usage":null})"));
  EXPECT_FALSE(is_final_usage_chunk(R"({"id":"c","choices":[{"text":"a"}]})"));
  EXPECT_FALSE(is_final_usage_chunk("[DONE]"));
  EXPECT_FALSE(is_final_usage_chunk(""));
}

TEST(usage_rewrite, the_figure_replaces_the_decoders_and_nothing_else_changes) {
  EXPECT_EQ(
      *with_cached_tokens(
          R"({"id":"c","choices":[],"usage":{"prompt_tokens":9,"total_tokens":12,"completion_tokens":3,)"
          R"("prompt_tokens_details":{"cached_tokens":8}}})",
          "32"),
      R"({"id":"c","choices":[],"usage":{"prompt_tokens":9,"total_tokens":12,"completion_tokens":3,)"
      R"("prompt_tokens_details":{"cached_tokens":32}}})");
  // Spacing, other details and key order are kept.
  EXPECT_EQ(
      *with_cached_tokens(
          R"({ "usage" : { "prompt_tokens_details" : { "audio_tokens" : 0 , "cached_tokens" : 8 } } })", "0"),
      R"({ "usage" : { "prompt_tokens_details" : { "audio_tokens" : 0 , "cached_tokens" : 0 } } })");
}

TEST(usage_rewrite, missing_details_are_added_as_the_last_member) {
  EXPECT_EQ(*with_cached_tokens(R"({"usage":{"prompt_tokens":9,"prompt_tokens_details":null},"x":1})", "4"),
            R"({"usage":{"prompt_tokens":9,"prompt_tokens_details":{"cached_tokens":4}},"x":1})");
  EXPECT_EQ(*with_cached_tokens(R"({"usage":{"prompt_tokens":9}})", "4"),
            R"({"usage":{"prompt_tokens":9,"prompt_tokens_details":{"cached_tokens":4}}})");
  EXPECT_EQ(*with_cached_tokens(R"({"usage":{}})", "4"),
            R"({"usage":{"prompt_tokens_details":{"cached_tokens":4}}})");
  EXPECT_EQ(*with_cached_tokens(R"({"usage":{"prompt_tokens_details":{"audio_tokens":1}}})", "4"),
            R"({"usage":{"prompt_tokens_details":{"audio_tokens":1,"cached_tokens":4}}})");
  EXPECT_EQ(*with_cached_tokens(R"({"usage":{"prompt_tokens_details":{ }}})", "4"),
            R"({"usage":{"prompt_tokens_details":{ "cached_tokens":4}}})");
}

TEST(usage_rewrite, an_answer_without_usage_is_left_alone) {
  EXPECT_FALSE(with_cached_tokens(R"({"choices":[]})", "4"));
  EXPECT_FALSE(with_cached_tokens(R"({"usage":null})", "4"));
  EXPECT_FALSE(with_cached_tokens("garbage", "4"));
}

TEST(usage_rewrite, in_a_stream_only_the_usage_event_changes_and_line_endings_stay) {
  const std::string token = R"(data: {"id":"c","choices":[{"text":"hi"}]})";
  const std::string usage =
      R"({"id":"c","choices":[],"usage":{"prompt_tokens":9,"prompt_tokens_details":{"cached_tokens":8}}})";
  const std::string fixed =
      R"({"id":"c","choices":[],"usage":{"prompt_tokens":9,"prompt_tokens_details":{"cached_tokens":5}}})";
  bool changed = false;
  EXPECT_EQ(with_cached_tokens_in_events(token + "\r\n\r\ndata:" + usage + "\r\n\r\n: note\rdata: [DONE]\n\n",
                                         "5", changed),
            token + "\r\n\r\ndata:" + fixed + "\r\n\r\n: note\rdata: [DONE]\n\n");
  EXPECT_TRUE(changed);
  EXPECT_EQ(with_cached_tokens_in_events(token + "\n\n", "5", changed), token + "\n\n");
  EXPECT_FALSE(changed);
}

TEST(usage_rewrite, the_client_asks_for_a_usage_chunk_with_stream_options) {
  const auto asks = [](std::string body) {
    return asks_for_stream_usage(*client_request::parse(std::move(body)));
  };
  EXPECT_TRUE(asks(R"({"stream":true,"stream_options":{"include_usage":true}})"));
  EXPECT_TRUE(
      asks(R"({"stream":true,"stream_options":{"continuous_usage_stats":false, "include_usage" : true}})"));
  EXPECT_FALSE(asks(R"({"stream":true,"stream_options":{"include_usage":false}})"));
  EXPECT_FALSE(asks(R"({"stream":true,"stream_options":null})"));
  EXPECT_FALSE(asks(R"({"stream":true})"));
}

}  // namespace
}  // namespace pd_proxy
