#include "pd_proxy/core/http/http_framing.hpp"

#include <gtest/gtest.h>

namespace pd_proxy {
namespace {

request_framing chunked_head(std::string_view coding) {
  return request_framing{11, 1, 0, 1, coding};
}

TEST(http_framing, ordinary_heads_pass) {
  EXPECT_FALSE(refuse_framing({11, 1, 1, 0, {}}));
  EXPECT_FALSE(refuse_framing({11, 1, 0, 0, {}}));
  EXPECT_FALSE(refuse_framing({10, 0, 1, 0, {}}));  // HTTP/1.0 needs no Host
  for (auto coding : {"chunked", "Chunked", "CHUNKED", " chunked ", "\tchunked"}) {
    EXPECT_FALSE(refuse_framing(chunked_head(coding))) << coding;
  }
}

TEST(http_framing, host_rules) {
  EXPECT_EQ(refuse_framing({11, 0, 0, 0, {}})->code, errc::bad_request);
  EXPECT_EQ(refuse_framing({11, 2, 0, 0, {}})->code, errc::bad_request);
  EXPECT_EQ(refuse_framing({10, 2, 0, 0, {}})->code, errc::bad_request);
}

TEST(http_framing, any_coding_but_a_single_chunked_is_501) {
  for (auto coding : {"gzip", "xchunked", "chunkedx", "chunked, gzip", "gzip, chunked", "identity", ""}) {
    const auto refusal = refuse_framing(chunked_head(coding));
    ASSERT_TRUE(refusal) << coding;
    EXPECT_EQ(refusal->code, errc::not_implemented) << coding;
  }
  EXPECT_EQ(refuse_framing({11, 1, 0, 2, "chunked"})->code, errc::not_implemented);
}

TEST(http_framing, ambiguous_lengths_are_400) {
  EXPECT_EQ(refuse_framing({11, 1, 1, 1, "chunked"})->code, errc::bad_request);
  EXPECT_EQ(refuse_framing({10, 1, 0, 1, "chunked"})->code, errc::bad_request);
}

}  // namespace
}  // namespace pd_proxy
