#include "pd_proxy/core/sse/sse_parser.hpp"

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

//------------------------------------------------------------------------------
// Item 13: a line or an event beyond max_sse_line_bytes is not stored, and the stream parses on after it.

struct seen {
  std::string type, data;
  bool truncated = false;
  sse_event_kind kind = sse_event_kind::empty;
  bool operator==(const seen&) const = default;
};

std::vector<seen> feed_all(sse_parser& parser, std::string_view bytes, std::size_t piece,
                           std::size_t* max_buffered = nullptr) {
  std::vector<seen> out;
  for (std::size_t pos = 0; pos < bytes.size(); pos += piece) {
    parser.feed(bytes.substr(pos, piece), [&](const sse_event& e) {
      out.push_back({std::string(e.type), std::string(e.data), e.truncated, classify(e)});
    });
    if (max_buffered) *max_buffered = std::max(*max_buffered, parser.buffered_bytes());
  }
  return out;
}

TEST(sse_parser, a_never_ending_line_is_not_stored) {
  sse_parser parser;
  std::size_t max_buffered = 0;
  std::vector<seen> events;
  auto on_event = [&](const sse_event& e) {
    events.push_back({std::string(e.type), std::string(e.data), e.truncated, classify(e)});
  };
  const std::string start = "event: error\ndata: {\"error\":";
  EXPECT_EQ(parser.feed(start, on_event), std::string_view::npos);
  const std::string chunk(8192, 'x');
  for (std::size_t fed = 0; fed < (std::size_t{50} << 20); fed += chunk.size()) {
    EXPECT_EQ(parser.feed(chunk, on_event), std::string_view::npos);
    max_buffered = std::max(max_buffered, parser.buffered_bytes());
  }
  EXPECT_LE(max_buffered, 2 * max_sse_line_bytes + 64 * 1024);
  EXPECT_FALSE(parser.at_event_boundary());
  EXPECT_TRUE(events.empty());
  const std::string tail = "}\n\ndata: [DONE]\n\n";
  EXPECT_EQ(parser.feed(tail, on_event), tail.size());
  EXPECT_TRUE(parser.at_event_boundary());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[0].truncated);
  EXPECT_EQ(events[0].kind, sse_event_kind::token);  // never done or error, whatever its visible part says
  EXPECT_EQ(events[1], (seen{"", "[DONE]", false, sse_event_kind::done}));
  EXPECT_LE(parser.buffered_bytes(), 3 * 64 * 1024u);  // large buffers are freed once their event is done
}

TEST(sse_parser, an_event_whose_joined_data_is_too_long_is_truncated) {
  sse_parser parser;
  std::string stream;
  const std::string line = "data: " + std::string(1000, 'd') + "\n";
  for (int i = 0; i < 5000; ++i) stream += line;  // ~5 MB of data in one event
  stream += "\ndata: {\"error\":{}}\n\n";
  std::size_t max_buffered = 0;
  const auto events = feed_all(parser, stream, 4096, &max_buffered);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[0].truncated);
  EXPECT_EQ(events[0].kind, sse_event_kind::token);
  EXPECT_LE(events[0].data.size(), max_sse_line_bytes);
  EXPECT_EQ(events[1], (seen{"", "{\"error\":{}}", false, sse_event_kind::error}));
  EXPECT_LE(max_buffered, 2 * max_sse_line_bytes + 64 * 1024);
}

TEST(sse_parser, classify_never_reads_a_truncated_event_as_done_or_error) {
  EXPECT_EQ(classify({"", "[DONE]", true}), sse_event_kind::token);
  EXPECT_EQ(classify({"error", "{\"error\":{}}", true}), sse_event_kind::token);
  EXPECT_EQ(classify({"", "", true}), sse_event_kind::token);
}

// Lines just under, at and over the bound, ended by LF, CR LF or CR, fed whole, byte-split at the bound and
// at random: the events do not depend on the split, and lines after an over-long one parse normally.
TEST(sse_parser, line_endings_around_the_bound) {
  const std::size_t max = max_sse_line_bytes;
  for (const std::string_view eol : {"\n", "\r\n", "\r"}) {
    const std::string eol_s(eol);
    std::string stream;
    std::vector<seen> expected;
    for (const std::size_t len : {max - 1, max, max + 1, max + 2, 3 * max}) {
      // A data line of exactly `len` bytes, then a normal event.
      const std::string data_line = "data:" + std::string(len - 5, 'a');
      stream += data_line + eol_s + eol_s + "data: after" + eol_s + eol_s;
      const bool fits = len <= max;
      expected.push_back({"", fits ? data_line.substr(5) : "", !fits, sse_event_kind::token});
      expected.push_back({"", "after", false, sse_event_kind::token});
      // An over-long comment is dropped without marking anything; an over-long unknown field is ignored.
      stream += ":" + std::string(len - 1, 'c') + eol_s + "x" + std::string(len - 1, 'u') + eol_s +
                "data: c" + eol_s + eol_s;
      expected.push_back({"", "c", false, sse_event_kind::token});
      // An over-long event type.
      stream += "event:" + std::string(len - 6, 't') + eol_s + "data: t" + eol_s + eol_s;
      // Once a line of an event was dropped, nothing more of that event is stored: its data is a prefix.
      expected.push_back(
          {fits ? std::string(len - 6, 't') : "", fits ? "t" : "", !fits, sse_event_kind::token});
    }
    stream += "data: [DONE]" + eol_s + eol_s;
    expected.push_back({"", "[DONE]", false, sse_event_kind::done});

    for (const std::size_t piece :
         {stream.size(), std::size_t{8192}, max, max - 1, max + 1, std::size_t{65537}}) {
      sse_parser parser;
      std::size_t max_buffered = 0;
      ASSERT_EQ(feed_all(parser, stream, piece, &max_buffered), expected) << "eol "
                                                                          << (eol == "\n"   ? "LF"
                                                                              : eol == "\r" ? "CR"
                                                                                            : "CRLF")
                                                                          << " piece " << piece;
      EXPECT_LE(max_buffered, 2 * max_sse_line_bytes + 64 * 1024);
      EXPECT_TRUE(parser.at_event_boundary());
      EXPECT_LE(parser.buffered_bytes(), 3 * 64 * 1024u);
    }
    std::mt19937 rng(static_cast<unsigned>(eol.size() * 31 + static_cast<unsigned char>(eol.back())));
    for (int round = 0; round < 3; ++round) {
      sse_parser parser;
      std::vector<seen> got;
      for (std::size_t pos = 0; pos < stream.size();) {
        // Mostly large pieces, sometimes a one-byte piece so CR and LF land in separate feeds.
        const std::size_t n = rng() % 4 == 0 ? 1 : 1 + rng() % (3 * max / 2);
        parser.feed(std::string_view(stream).substr(pos, n), [&](const sse_event& e) {
          got.push_back({std::string(e.type), std::string(e.data), e.truncated, classify(e)});
        });
        pos += n;
      }
      ASSERT_EQ(got, expected) << "round " << round;
    }
  }
}

TEST(sse_parser, boundaries_around_an_over_long_line) {
  auto ignore = [](const sse_event&) {};
  sse_parser parser;
  const std::string comment = ":" + std::string(max_sse_line_bytes, 'c');
  // A split CR LF after an over-long comment: the comment is a complete unit, so the CR is a boundary.
  EXPECT_EQ(parser.feed(comment, ignore), std::string_view::npos);
  EXPECT_FALSE(parser.at_event_boundary());
  EXPECT_EQ(parser.feed("\r", ignore), 1u);
  EXPECT_TRUE(parser.at_event_boundary());
  EXPECT_EQ(parser.feed("\ndata: 1\n\n", ignore), 10u);
  // An over-long data line holds the boundary until its event is dispatched.
  const std::string data = "data:" + std::string(max_sse_line_bytes, 'd');
  EXPECT_EQ(parser.feed(data, ignore), std::string_view::npos);
  EXPECT_EQ(parser.feed("\r", ignore), std::string_view::npos);
  EXPECT_FALSE(parser.at_event_boundary());
  EXPECT_EQ(parser.feed("\n\r", ignore), 2u);  // the LF completes CR LF; the CR is the blank line
  EXPECT_TRUE(parser.at_event_boundary());
  EXPECT_EQ(parser.feed("\n", ignore), 1u);
}

}  // namespace
}  // namespace pd_proxy
