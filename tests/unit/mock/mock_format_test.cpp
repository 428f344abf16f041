#include <gtest/gtest.h>

#include "pd_proxy/mock/openai_format.hpp"

namespace pd_proxy::mock {
namespace {

completion_spec spec(bool chat) {
  return completion_spec{chat, response_id(chat, "r1"), "m", 1700000000, 3, 2, std::nullopt, 0, std::nullopt};
}

TEST(mock_format, completions_stream_events_golden) {
  const auto s = spec(false);
  EXPECT_EQ(format_token_event(s, " the", false),
            "data: {\"id\":\"cmpl-r1\",\"object\":\"text_completion\",\"created\":1700000000,\"model\":\"m\","
            "\"choices\":[{\"index\":0,\"text\":\" the\",\"logprobs\":null,\"finish_reason\":null,"
            "\"stop_reason\":null}]}\n\n");
  EXPECT_EQ(format_token_event(s, ".", true),
            "data: {\"id\":\"cmpl-r1\",\"object\":\"text_completion\",\"created\":1700000000,\"model\":\"m\","
            "\"choices\":[{\"index\":0,\"text\":\".\",\"logprobs\":null,\"finish_reason\":\"length\","
            "\"stop_reason\":null}]}\n\n");
  EXPECT_EQ(format_usage_event(s),
            "data: {\"id\":\"cmpl-r1\",\"object\":\"text_completion\",\"created\":1700000000,\"model\":\"m\","
            "\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"total_tokens\":5,\"completion_tokens\":2,"
            "\"prompt_tokens_details\":{\"cached_tokens\":0}}}\n\n");
  EXPECT_EQ(done_event, "data: [DONE]\n\n");
}

TEST(mock_format, chat_stream_events_golden) {
  const auto s = spec(true);
  EXPECT_EQ(format_role_event(s),
            "data: {\"id\":\"chatcmpl-r1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
            "\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
            "\"logprobs\":null,\"finish_reason\":null}]}\n\n");
  EXPECT_EQ(format_token_event(s, "Hi", true),
            "data: {\"id\":\"chatcmpl-r1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
            "\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"logprobs\":null,"
            "\"finish_reason\":\"length\",\"stop_reason\":null}]}\n\n");
}

TEST(mock_format, full_responses_golden) {
  auto s = spec(false);
  s.kv_transfer_params = json{{"do_remote_prefill", true}, {"remote_block_ids", json::array({0, 1})}};
  s.cached_tokens = 16;
  EXPECT_EQ(
      format_full_response(s, "ab"),
      "{\"id\":\"cmpl-r1\",\"object\":\"text_completion\",\"created\":1700000000,\"model\":\"m\","
      "\"choices\":[{\"index\":0,\"text\":\"ab\",\"logprobs\":null,\"finish_reason\":\"length\","
      "\"stop_reason\":null,\"prompt_logprobs\":null}],\"usage\":{\"prompt_tokens\":3,\"total_tokens\":5,"
      "\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached_tokens\":16}},"
      "\"kv_transfer_params\":{\"do_remote_prefill\":true,\"remote_block_ids\":[0,1]}}");
  EXPECT_EQ(
      format_full_response(spec(true), "ab"),
      "{\"id\":\"chatcmpl-r1\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"m\","
      "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"ab\",\"tool_calls\":[]},"
      "\"logprobs\":null,\"finish_reason\":\"length\",\"stop_reason\":null}],\"usage\":{\"prompt_tokens\":3,"
      "\"total_tokens\":5,\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached_tokens\":0}},"
      "\"prompt_logprobs\":null,"
      "\"kv_transfer_params\":null}");
}

TEST(mock_format, prompt_logprobs_are_vllms_shape_one_per_prompt_token) {
  const json lp = format_prompt_logprobs("abcdefghij", 3);
  ASSERT_EQ(lp.size(), 3u);
  EXPECT_TRUE(lp[0].is_null());  // nothing precedes the first token
  for (std::size_t i = 1; i < 3; ++i) {
    ASSERT_TRUE(lp[i].is_object()) << lp;
    ASSERT_EQ(lp[i].size(), 1u) << lp;
    const json& entry = lp[i].begin().value();
    EXPECT_LT(entry.at("logprob").get<double>(), 0.0);
    EXPECT_EQ(entry.at("rank"), 1);
    EXPECT_EQ(entry.at("decoded_token"), i == 1 ? "efgh" : "ij");
  }
  EXPECT_EQ(format_prompt_logprobs("abcdefghij", 3), lp);  // deterministic
  EXPECT_EQ(unknown_prompt_logprobs(3), json::array({nullptr, nullptr, nullptr}));
  // Where vLLM puts them: a completion's choice, a chat response's top level.
  auto s = spec(false);
  s.prompt_logprobs = json::array({nullptr});
  EXPECT_NE(format_full_response(s, "ab").find(R"("stop_reason":null,"prompt_logprobs":[null]})"),
            std::string::npos);
  auto c = spec(true);
  c.prompt_logprobs = json::array({nullptr});
  EXPECT_NE(format_full_response(c, "ab").find(R"(},"prompt_logprobs":[null],"kv_transfer_params")"),
            std::string::npos);
}

TEST(mock_format, token_counts) {
  EXPECT_EQ(requested_tokens(json{{"max_tokens", 7}}, false), 7);
  EXPECT_EQ(requested_tokens(json{{"max_tokens", 7}, {"max_completion_tokens", 9}}, true), 9);
  EXPECT_EQ(requested_tokens(json{{"max_tokens", 7}, {"max_completion_tokens", 9}}, false), 7);
  EXPECT_EQ(requested_tokens(json::object(), false), 16);
  EXPECT_EQ(estimate_prompt_tokens(json{{"prompt", std::string(400, 'x')}}), 100);
  EXPECT_EQ(estimate_prompt_tokens(
                json{{"messages", json::array({json{{"role", "user"}, {"content", "abcdefgh"}}})}}),
            2);
  EXPECT_EQ(estimate_prompt_tokens(json{{"prompt", json::array({1, 2, 3})}}), 3);
  EXPECT_EQ(estimate_prompt_tokens(json::object()), 1);
}

TEST(mock_format, tokens_are_deterministic) {
  EXPECT_EQ(token_text("abc", 3), token_text("abc", 3));
  EXPECT_FALSE(token_text("abc", 0).empty());
}

}  // namespace
}  // namespace pd_proxy::mock
