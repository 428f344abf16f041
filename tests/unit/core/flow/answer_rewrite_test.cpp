#include "pd_proxy/core/flow/answer_rewrite.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pd_proxy {
namespace {

answer_rewrite both() {
  answer_rewrite r;
  r.cached_tokens = "48";
  r.logprobs.choices.push_back({"0", "[null]"});
  return r;
}

TEST(answer_rewrite, a_body_gets_both_figures_and_keeps_every_other_byte) {
  const answer_rewrite r = both();
  answer_rewriter rewriter(r);
  EXPECT_EQ(*rewriter.rewrite_body(
                R"({"choices":[{"index":0,"text":"x","prompt_logprobs":null}],"usage":{"prompt_tokens":9}})"),
            R"({"choices":[{"index":0,"text":"x","prompt_logprobs":[null]}],"usage":{"prompt_tokens":9,)"
            R"("prompt_tokens_details":{"cached_tokens":48}}})");
  // Only one of the two places exists: the other rewrite still applies.
  answer_rewriter again(r);
  EXPECT_EQ(*again.rewrite_body(R"({"choices":[],"usage":{}})"),
            R"({"choices":[],"usage":{"prompt_tokens_details":{"cached_tokens":48}}})");
  answer_rewriter third(r);
  EXPECT_FALSE(third.rewrite_body(R"({"object":"error"})"));
}

TEST(answer_rewrite, a_stream_concerns_its_first_chunks_then_only_the_usage_chunk) {
  const answer_rewrite r = both();
  answer_rewriter rewriter(r);
  const std::string token = R"({"choices":[{"index":0,"text":"a"}]})";
  const std::string usage = R"({"choices":[],"usage":{"prompt_tokens":3}})";
  EXPECT_TRUE(rewriter.concerns(token));
  EXPECT_FALSE(rewriter.concerns("[DONE]"));
  EXPECT_EQ(rewriter.rewrite_events("data: " + token + "\n\ndata:" + token + "\n\n"),
            "data: " + std::string(R"({"choices":[{"index":0,"text":"a","prompt_logprobs":[null]}]})") +
                "\n\ndata:" + token + "\n\n");
  EXPECT_FALSE(rewriter.concerns(token));
  EXPECT_TRUE(rewriter.concerns(usage));
  EXPECT_EQ(rewriter.rewrite_events("data: " + usage + "\n\n"),
            R"(data: {"choices":[],"usage":{"prompt_tokens":3,"prompt_tokens_details":{"cached_tokens":48}}})"
            "\n\n");
}

TEST(answer_rewrite, without_cached_tokens_the_usage_chunk_is_not_a_concern) {
  answer_rewrite r;
  r.logprobs.top_level = "[null]";
  answer_rewriter rewriter(r);
  const std::string usage = R"({"choices":[],"usage":{"prompt_tokens":3}})";
  EXPECT_EQ(rewriter.rewrite_events("data: {\"choices\":[]}\n\n"),
            "data: {\"choices\":[],\"prompt_logprobs\":[null]}\n\n");
  EXPECT_FALSE(rewriter.concerns(usage));
  EXPECT_EQ(rewriter.rewrite_events("data: " + usage + "\n\n"), "data: " + usage + "\n\n");
}

}  // namespace
}  // namespace pd_proxy
