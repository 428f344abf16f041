#include "pd_proxy/core/http/error.hpp"

#include <gtest/gtest.h>

namespace pd_proxy {
namespace {

TEST(error, statuses) {
  EXPECT_EQ(http_status(errc::bad_request), 400);
  EXPECT_EQ(http_status(errc::payload_too_large), 413);
  EXPECT_EQ(http_status(errc::backend_failed), 502);
  EXPECT_EQ(http_status(errc::no_backend), 503);
  EXPECT_EQ(http_status(errc::backend_timeout), 504);
}

TEST(error, openai_shape) {
  EXPECT_EQ(
      openai_error_body(errc::backend_timeout, "prefill \"x\" timed out"),
      R"({"error":{"code":504,"message":"prefill \"x\" timed out","param":null,"type":"server_error"}})");
  EXPECT_EQ(
      sse_error_event(errc::backend_failed, "m"),
      "data: {\"error\":{\"code\":502,\"message\":\"m\",\"param\":null,\"type\":\"server_error\"}}\n\n");
}

}  // namespace
}  // namespace pd_proxy
