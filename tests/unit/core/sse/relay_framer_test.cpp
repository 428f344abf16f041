#include "pd_proxy/core/sse/relay_framer.hpp"

#include <gtest/gtest.h>

namespace pd_proxy {
namespace {

std::string joined(const relay_framer::write_plan& plan) {
  return std::string(plan.first) + std::string(plan.second);
}

TEST(relay_framer, a_json_body_passes_piece_by_piece) {
  relay_framer framer(/*stream=*/false);
  const auto a = framer.feed(R"({"choices":)", false);
  EXPECT_EQ(joined(a), R"({"choices":)");
  EXPECT_FALSE(a.last);
  framer.written();
  const auto b = framer.feed("[]}", true);
  EXPECT_EQ(joined(b), "[]}");
  EXPECT_TRUE(b.last);
  EXPECT_EQ(framer.failure_tail("data: x\n\n"), "");  // a JSON body is cut, never given an event
}

TEST(relay_framer, a_stream_sends_whole_events_and_holds_the_rest) {
  relay_framer framer(/*stream=*/true);
  const auto a = framer.feed("data: 1\n\ndata: 2", false);
  EXPECT_EQ(joined(a), "data: 1\n\n");
  framer.written();
  const auto b = framer.feed(" more", false);
  EXPECT_TRUE(b.idle());  // still inside event 2
  framer.written();
  const auto c = framer.feed("\n\ndata: 3\n", false);
  EXPECT_EQ(joined(c), "data: 2 more\n\n");
  framer.written();
  const auto d = framer.feed("\ndata: [DONE]\n\n", true);
  EXPECT_EQ(joined(d), "data: 3\n\ndata: [DONE]\n\n");
  EXPECT_TRUE(d.last);
}

TEST(relay_framer, a_failure_drops_the_held_part_and_adds_an_error_event) {
  relay_framer framer(true);
  framer.feed("data: 1\n\ndata: half", false);
  framer.written();
  EXPECT_EQ(framer.failure_tail("data: {\"error\":{}}\n\n"), "data: {\"error\":{}}\n\n");
}

TEST(relay_framer, no_error_event_after_done) {
  relay_framer framer(true);
  framer.feed("data: [DONE]\n\n", false);
  framer.written();
  EXPECT_TRUE(framer.saw_done());
  EXPECT_EQ(framer.failure_tail("data: e\n\n"), "");
}

TEST(relay_framer, an_event_beyond_256_kib_is_flushed_unfinished) {
  relay_framer framer(true);
  const std::string chunk(64 * 1024, 'x');
  framer.written();
  EXPECT_TRUE(framer.feed("data: " + chunk, false).idle());
  framer.written();
  std::size_t held = 6 + chunk.size();
  relay_framer::write_plan plan;
  std::string piece;
  while (true) {
    piece = chunk;
    plan = framer.feed(piece, false);
    held += piece.size();
    if (!plan.idle()) break;
    framer.written();
    ASSERT_LE(held, relay_framer::max_held_event_bytes);
  }
  EXPECT_GT(held, relay_framer::max_held_event_bytes);
  EXPECT_EQ(joined(plan).size(), held);  // everything held goes out
  framer.written();
  // Part of the event went out: an error now first ends it with a blank line.
  EXPECT_EQ(framer.failure_tail("data: e\n\n"), "\n\ndata: e\n\n");
  // Once an event completes, the held bytes start afresh.
  const auto next = framer.feed("\n\ndata: 2\n\n", false);
  EXPECT_EQ(joined(next), "\n\ndata: 2\n\n");
  framer.written();
  EXPECT_EQ(framer.failure_tail("data: e\n\n"), "data: e\n\n");
}

// The stream's usage chunk, whole or split at any byte, is rewritten; every other byte goes as it came.
TEST(relay_framer, the_final_usage_event_carries_the_cached_tokens_whatever_the_split) {
  const std::string token = "data: {\"id\":\"c\",\"choices\":[{\"text\":\"usage\"}]}\n\n";
  const std::string usage =
      "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"prompt_tokens_details\":"
      "{\"cached_tokens\":8}}}\n\n";
  const std::string done = "data: [DONE]\n\n";
  const std::string body = token + usage + done;
  std::string expected = body;
  expected.replace(expected.find("\"cached_tokens\":8"), 17, "\"cached_tokens\":32");
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    relay_framer framer(/*stream=*/true);
    answer_rewrite rewrite;
    rewrite.cached_tokens = "32";
    framer.set_rewrite(rewrite);
    std::string out;
    const auto a = framer.feed(std::string_view(body).substr(0, cut), false);
    out += joined(a);
    framer.written();
    const auto b = framer.feed(std::string_view(body).substr(cut), true);
    out += joined(b);
    framer.written();
    EXPECT_EQ(out, expected) << "cut at " << cut;
  }
}

TEST(relay_framer, without_cached_tokens_the_usage_event_is_relayed_as_it_came) {
  const std::string body = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9}}\n\ndata: [DONE]\n\n";
  relay_framer framer(/*stream=*/true);
  EXPECT_EQ(joined(framer.feed(body, true)), body);
}

TEST(relay_framer, a_json_body_is_held_whole_and_its_usage_rewritten) {
  const std::string body = R"({"id":"c","choices":[{"text":"hi"}],"usage":{"prompt_tokens":9}})";
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    relay_framer framer(/*stream=*/false);
    answer_rewrite rewrite;
    rewrite.cached_tokens = "7";
    framer.set_rewrite(rewrite);
    const auto a = framer.feed(std::string_view(body).substr(0, cut), false);
    EXPECT_TRUE(a.idle()) << cut;  // held until the end
    framer.written();
    const auto b = framer.feed(std::string_view(body).substr(cut), true);
    EXPECT_EQ(joined(b), R"({"id":"c","choices":[{"text":"hi"}],"usage":{"prompt_tokens":9,)"
                         R"("prompt_tokens_details":{"cached_tokens":7}}})")
        << cut;
    EXPECT_TRUE(b.last);
  }
}

TEST(relay_framer, a_json_body_too_long_to_hold_is_passed_on_as_it_is) {
  relay_framer framer(/*stream=*/false);
  answer_rewrite rewrite;
  rewrite.cached_tokens = "7";
  framer.set_rewrite(rewrite);
  const std::string chunk(relay_framer::max_rewritten_body_bytes / 2 + 1, ' ');
  std::string out;
  for (int i = 0; i < 3; ++i) {
    const auto plan = framer.feed(chunk, false);
    out += joined(plan);
    framer.written();
  }
  const auto end = framer.feed(R"({"usage":{}})", true);
  out += joined(end);
  EXPECT_EQ(out, chunk + chunk + chunk + R"({"usage":{}})");
}

// A stream with prompt_logprobs to place and a usage chunk to rewrite, cut in two at `cut`.
std::string relayed(const std::string& body, const answer_rewrite& rewrite, std::size_t cut) {
  relay_framer framer(/*stream=*/true);
  framer.set_rewrite(rewrite);
  std::string out;
  out += joined(framer.feed(std::string_view(body).substr(0, cut), false));
  framer.written();
  out += joined(framer.feed(std::string_view(body).substr(cut), true));
  framer.written();
  return out;
}

TEST(relay_framer, the_first_chunk_carries_the_prompt_logprobs_whatever_the_split) {
  const std::string first = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"text\":\" a\"}]}\n\n";
  const std::string second = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"text\":\" b\"}]}\n\n";
  const std::string usage =
      "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"prompt_tokens_details\":"
      "{\"cached_tokens\":8}}}\n\n";
  const std::string done = "data: [DONE]\n\n";
  const std::string body = first + second + usage + done;
  answer_rewrite rewrite;
  rewrite.cached_tokens = "32";
  rewrite.logprobs.choices.push_back({"0", "[null,{\"7\":{\"logprob\":-1.0}}]"});
  const std::string expected =
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"text\":\" a\",\"prompt_logprobs\":"
      "[null,{\"7\":{\"logprob\":-1.0}}]}]}\n\n" +
      second +
      "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"prompt_tokens_details\":"
      "{\"cached_tokens\":32}}}\n\n" +
      done;
  for (std::size_t cut = 0; cut <= body.size(); ++cut)
    EXPECT_EQ(relayed(body, rewrite, cut), expected) << cut;
}

TEST(relay_framer, a_chats_first_chunk_carries_them_at_its_top_level_with_crlf_kept) {
  const std::string first =
      "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":"
      "{\"role\":\"assistant\",\"content\":\"\"}}]}\r\n\r\n";
  const std::string rest =
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{}}]}\r\n\r\ndata: [DONE]\r\n\r\n";
  answer_rewrite rewrite;
  rewrite.logprobs.top_level = "[null]";
  std::string expected = first;
  expected.insert(expected.find("}]}") + 2, ",\"prompt_logprobs\":[null]");
  for (std::size_t cut = 0; cut <= first.size() + rest.size(); ++cut) {
    EXPECT_EQ(relayed(first + rest, rewrite, cut), expected + rest) << cut;
  }
}

TEST(relay_framer, a_json_body_is_held_whole_and_gets_its_prompt_logprobs) {
  const std::string body =
      R"({"id":"c","choices":[{"index":0,"text":"hi","prompt_logprobs":null}],"usage":{"prompt_tokens":9}})";
  answer_rewrite rewrite;
  rewrite.logprobs.choices.push_back({"0", "[null]"});
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    relay_framer framer(/*stream=*/false);
    framer.set_rewrite(rewrite);
    EXPECT_TRUE(framer.feed(std::string_view(body).substr(0, cut), false).idle()) << cut;
    framer.written();
    const auto end = framer.feed(std::string_view(body).substr(cut), true);
    EXPECT_EQ(
        joined(end),
        R"({"id":"c","choices":[{"index":0,"text":"hi","prompt_logprobs":[null]}],"usage":{"prompt_tokens":9}})")
        << cut;
    EXPECT_TRUE(end.last);
  }
}

}  // namespace
}  // namespace pd_proxy
