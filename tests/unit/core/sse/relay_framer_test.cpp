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

}  // namespace
}  // namespace pd_proxy
