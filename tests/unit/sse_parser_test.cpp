#include "pd_proxy/core/sse_parser.hpp"

#include <gtest/gtest.h>

#include <random>

namespace pd_proxy {
namespace {

struct collected {
  std::vector<std::string> data;
  std::vector<std::string> types;
};

collected feed_in_pieces(std::string_view stream, const std::vector<std::size_t>& cuts) {
  collected out;
  sse_parser parser;
  std::size_t start = 0;
  auto on_event = [&](const sse_event& e) {
    out.data.emplace_back(e.data);
    out.types.emplace_back(e.type);
  };
  for (std::size_t cut : cuts) {
    parser.feed(stream.substr(start, cut - start), on_event);
    start = cut;
  }
  parser.feed(stream.substr(start), on_event);
  return out;
}

const std::string vllm_stream =
    "data: {\"id\":\"cmpl-1\",\"choices\":[{\"text\":\"Hel\"}]}\n\n"
    "data: {\"id\":\"cmpl-1\",\"choices\":[{\"text\":\"lo \\\"error\\\"\"}]}\r\n\r\n"
    ": keep-alive comment\n\n"
    "event: error\ndata: {\"error\":{\"message\":\"boom\"}}\r\r"
    "data: line1\ndata:line2\n\n"
    "data: [DONE]\n\n";

const std::vector<std::string> expected_data{
    "{\"id\":\"cmpl-1\",\"choices\":[{\"text\":\"Hel\"}]}",
    "{\"id\":\"cmpl-1\",\"choices\":[{\"text\":\"lo \\\"error\\\"\"}]}", "{\"error\":{\"message\":\"boom\"}}",
    "line1\nline2", "[DONE]"};

TEST(sse_parser, whole_stream_at_once) {
  const auto got = feed_in_pieces(vllm_stream, {});
  EXPECT_EQ(got.data, expected_data);
  EXPECT_EQ(got.types[2], "error");
}

TEST(sse_parser, byte_by_byte) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < vllm_stream.size(); ++i) cuts.push_back(i);
  EXPECT_EQ(feed_in_pieces(vllm_stream, cuts).data, expected_data);
}

TEST(sse_parser, random_splits) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 500; ++round) {
    std::vector<std::size_t> cuts;
    std::size_t pos = 0;
    while (true) {
      pos += 1 + rng() % 40;
      if (pos >= vllm_stream.size()) break;
      cuts.push_back(pos);
    }
    ASSERT_EQ(feed_in_pieces(vllm_stream, cuts).data, expected_data) << "round " << round;
  }
}

TEST(sse_parser, boundary_offsets_cut_between_events) {
  sse_parser parser;
  auto ignore = [](const sse_event&) {};
  const std::string a = "data: 1\n\ndata: 2";
  EXPECT_EQ(parser.feed(a, ignore), 9u);
  EXPECT_FALSE(parser.at_event_boundary());
  EXPECT_EQ(parser.feed("\n", ignore), std::string_view::npos);
  EXPECT_EQ(parser.feed("\r", ignore), 1u);  // CR ends the blank line
  EXPECT_TRUE(parser.at_event_boundary());
  EXPECT_EQ(parser.feed("\ndata: 3\n\n", ignore), 10u);  // the LF of the CR LF belongs to the boundary
}

TEST(sse_parser, classify) {
  EXPECT_EQ(classify({"", "[DONE]"}), sse_event_kind::done);
  EXPECT_EQ(classify({"", "{\"error\":{\"message\":\"x\"}}"}), sse_event_kind::error);
  EXPECT_EQ(classify({"", "{\"choices\":[{\"text\":\"\\\"error\\\"\"}]}"}), sse_event_kind::token);
  EXPECT_EQ(classify({"error", "anything"}), sse_event_kind::error);
  EXPECT_EQ(classify({"", "{\"choices\":[]}"}), sse_event_kind::token);
  EXPECT_EQ(classify({"", " { \"error\": {\"object\": \"error\", \"code\": 400}}"}), sse_event_kind::error);
  EXPECT_EQ(classify({"", "{\"error\": not json"}), sse_event_kind::token);
  EXPECT_EQ(classify({"ping", ""}), sse_event_kind::empty);
}

}  // namespace
}  // namespace pd_proxy
