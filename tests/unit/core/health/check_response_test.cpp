#include "pd_proxy/core/health/check_response.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pd_proxy {
namespace {

using state = check_response::state;
constexpr std::size_t capacity = 256;

TEST(check_response, OkWithLengthIsJudgedAndKept) {
  const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: x\r\n\r\nok";
  const auto r = parse_check_response(answer, capacity);
  EXPECT_EQ(r.progress, state::judged);
  EXPECT_EQ(r.status, 200u);
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(r.length, answer.size());
}

TEST(check_response, JudgedOnTheHeadBeforeTheBodyArrives) {
  const auto r =
      parse_check_response("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 10\r\n\r\nab", capacity);
  EXPECT_EQ(r.progress, state::judged);
  EXPECT_EQ(r.status, 503u);
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(r.length,
            std::string("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 10\r\n\r\n").size() + 10);
}

TEST(check_response, IncompleteUntilTheHeadEnds) {
  EXPECT_EQ(parse_check_response("", capacity).progress, state::incomplete);
  EXPECT_EQ(parse_check_response("HTTP/1.1 20", capacity).progress, state::incomplete);
  EXPECT_EQ(parse_check_response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n", capacity).progress,
            state::incomplete);
}

TEST(check_response, ReasonPhraseIsOptional) {
  const auto r = parse_check_response("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", capacity);
  EXPECT_EQ(r.progress, state::judged);
  EXPECT_EQ(r.status, 404u);
  EXPECT_TRUE(r.keep_alive);
}

TEST(check_response, NotHttpIsMalformed) {
  EXPECT_EQ(parse_check_response("SSH-2.0-OpenSSH\r\n", capacity).progress, state::malformed);
  EXPECT_EQ(parse_check_response("HTTP/2 200\r\n\r\n", capacity).progress, state::malformed);
  EXPECT_EQ(parse_check_response("HTTP/1.1 2x0 OK\r\n\r\n", capacity).progress, state::malformed);
  EXPECT_EQ(parse_check_response("HTTP/1.1 099 OK\r\n\r\n", capacity).progress, state::malformed);
  EXPECT_EQ(parse_check_response(std::string(capacity, 'x'), capacity).progress, state::malformed);
}

TEST(check_response, ConnectionCloseOrUnframedBodyIsNotKept) {
  for (const char* answer :
       {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"}) {
    const auto r = parse_check_response(answer, capacity);
    EXPECT_EQ(r.progress, state::judged) << answer;
    EXPECT_FALSE(r.keep_alive) << answer;
  }
}

TEST(check_response, Http10KeepAliveAndBodilessStatuses) {
  EXPECT_TRUE(
      parse_check_response("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", capacity)
          .keep_alive);
  const auto r = parse_check_response("HTTP/1.1 204 No Content\r\n\r\n", capacity);
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(r.length, std::string("HTTP/1.1 204 No Content\r\n\r\n").size());
}

TEST(check_response, HeadTooLargeForTheBufferIsJudgedOnItsStatusLine) {
  const std::string answer = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(capacity, 'a');
  const auto r = parse_check_response(std::string_view(answer).substr(0, capacity), capacity);
  EXPECT_EQ(r.progress, state::judged);
  EXPECT_EQ(r.status, 200u);
  EXPECT_FALSE(r.keep_alive);
}

}  // namespace
}  // namespace pd_proxy
