#include "pd_proxy/core/flow/prompt_logprobs_rewrite.hpp"

#include <gtest/gtest.h>

#include <string>

#include "pd_proxy/core/flow/request_rewrite.hpp"

namespace pd_proxy {
namespace {

bool asks(std::string text) {
  return asks_prompt_logprobs(client_request::parse(std::move(text)).value());
}

TEST(prompt_logprobs_rewrite, a_client_asks_with_any_value_but_null) {
  EXPECT_TRUE(asks(R"({"prompt":"p","prompt_logprobs":0})"));
  EXPECT_TRUE(asks(R"({"prompt":"p","prompt_logprobs":5})"));
  EXPECT_TRUE(asks(R"({"prompt":"p","prompt_logprobs":-1})"));
  EXPECT_TRUE(asks(R"({"prompt":"p","prompt_\u006cogprobs":1})"));
  EXPECT_FALSE(asks(R"({"prompt":"p","prompt_logprobs":null})"));
  EXPECT_FALSE(asks(R"({"prompt":"p","logprobs":2})"));
}

TEST(prompt_logprobs_rewrite, a_completions_answer_gives_one_per_choice_a_chat_its_top_level) {
  prompt_logprobs lp;
  read_prompt_logprobs(
      R"({"id":"p","choices":[{"index":0,"text":"a","prompt_logprobs":[null,{"1":{"logprob":-1}}]},)"
      R"({"index":1,"text":"b","prompt_logprobs":[null, {"2":{"logprob":-2}}]},)"
      R"({"index":2,"text":"c","prompt_logprobs":null}],"prompt_logprobs":null})",
      lp);
  EXPECT_TRUE(lp.top_level.empty());
  ASSERT_EQ(lp.choices.size(), 2u);
  EXPECT_EQ(lp.choices[0].index, "0");
  EXPECT_EQ(lp.choices[0].value, R"([null,{"1":{"logprob":-1}}])");
  EXPECT_EQ(lp.choices[1].index, "1");
  EXPECT_EQ(lp.choices[1].value, R"([null, {"2":{"logprob":-2}}])");  // as written

  read_prompt_logprobs(R"({"choices":[{"index":0,"message":{}}],"prompt_logprobs":[null,{"3":{}}]})", lp);
  EXPECT_EQ(lp.top_level, R"([null,{"3":{}}])");
  EXPECT_TRUE(lp.choices.empty());
}

TEST(prompt_logprobs_rewrite, nothing_is_kept_from_a_malformed_or_empty_answer) {
  prompt_logprobs lp;
  for (const std::string_view answer :
       {R"({"choices":[{"index":0,"prompt_logprobs":[nul]}]})", R"({"choices":[{"prompt_logprobs":[]}]})",
        R"({"choices":[{"index":"0","prompt_logprobs":[]}]})", R"({"prompt_logprobs":{"a":1}})",
        R"({"choices":[]})", "not json", R"({"choices":[{"index":0,"prompt_logprobs":[})"}) {
    lp.top_level = "stale";
    read_prompt_logprobs(answer, lp);
    EXPECT_TRUE(lp.empty()) << answer;
  }
}

// with_prompt_logprobs with everything of `lp` pending.
std::optional<std::string> with_all(std::string_view answer, const prompt_logprobs& lp) {
  auto pending = prompt_logprobs_pending::all_of(lp);
  return with_prompt_logprobs(answer, lp, pending);
}

prompt_logprobs per_choice(std::initializer_list<std::pair<const char*, const char*>> values) {
  prompt_logprobs lp;
  for (const auto& [index, value] : values) lp.choices.push_back({index, value});
  return lp;
}

TEST(prompt_logprobs_rewrite, each_choice_gets_its_own_by_index_null_replaced_absent_appended) {
  const auto lp = per_choice({{"1", "[B]"}, {"0", "[A]"}});
  EXPECT_EQ(*with_all(R"({"id":"c","choices":[{"index":0,"text":"x","prompt_logprobs":null},)"
                      R"({"index":1,"text":"y","prompt_logprobs":null}],"usage":{}})",
                      lp),
            R"({"id":"c","choices":[{"index":0,"text":"x","prompt_logprobs":[A]},)"
            R"({"index":1,"text":"y","prompt_logprobs":[B]}],"usage":{}})");
  // Absent: appended as the choice's last member; spacing kept; the decoder's own figure replaced.
  EXPECT_EQ(
      *with_all(R"({ "choices" : [ { "index" : 1 , "text" : "y" } , {"index":0,"prompt_logprobs":[X]} ] })",
                lp),
      R"({ "choices" : [ { "index" : 1 , "text" : "y" ,"prompt_logprobs":[B]} , {"index":0,"prompt_logprobs":[A]} ] })");
  // A choice the prefiller did not answer is left as it is; an empty choice gets the member alone.
  EXPECT_EQ(*with_all(R"({"choices":[{"index":2,"text":"z"},{"index":0}]})", lp),
            R"({"choices":[{"index":2,"text":"z"},{"index":0,"prompt_logprobs":[A]}]})");
  EXPECT_FALSE(with_all(R"({"choices":[{"index":2}]})", lp));
}

TEST(prompt_logprobs_rewrite, a_chat_answer_gets_them_at_its_top_level) {
  prompt_logprobs lp;
  lp.top_level = "[null]";
  EXPECT_EQ(
      *with_all(R"({"choices":[{"index":0}],"usage":{},"prompt_logprobs":null,"kv_transfer_params":null})",
                lp),
      R"({"choices":[{"index":0}],"usage":{},"prompt_logprobs":[null],"kv_transfer_params":null})");
  EXPECT_EQ(*with_all(R"({"id":"c","choices":[]})", lp),
            R"({"id":"c","choices":[],"prompt_logprobs":[null]})");
  // Not an answer with choices (an error object): left alone.
  EXPECT_FALSE(with_all(R"({"error":{"message":"x"}})", lp));
  EXPECT_FALSE(with_all("[DONE]", lp));
}

TEST(prompt_logprobs_rewrite, a_stream_places_each_once_in_the_first_chunk_that_can_carry_it) {
  auto lp = per_choice({{"0", "[A]"}, {"1", "[B]"}});
  lp.top_level = "[T]";
  auto pending = prompt_logprobs_pending::all_of(lp);
  EXPECT_EQ(*with_prompt_logprobs(R"({"choices":[{"index":0,"text":"a"}]})", lp, pending),
            R"({"choices":[{"index":0,"text":"a","prompt_logprobs":[A]}],"prompt_logprobs":[T]})");
  EXPECT_FALSE(pending.done());
  EXPECT_FALSE(with_prompt_logprobs(R"({"choices":[{"index":0,"text":"b"}]})", lp, pending));
  EXPECT_EQ(*with_prompt_logprobs(R"({"choices":[{"index":1,"text":"c"}]})", lp, pending),
            R"({"choices":[{"index":1,"text":"c","prompt_logprobs":[B]}]})");
  EXPECT_TRUE(pending.done());
  EXPECT_FALSE(with_prompt_logprobs(R"({"choices":[{"index":1,"text":"d"}]})", lp, pending));
}

}  // namespace
}  // namespace pd_proxy
