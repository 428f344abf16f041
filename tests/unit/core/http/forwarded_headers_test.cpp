#include "pd_proxy/core/http/forwarded_headers.hpp"

#include <gtest/gtest.h>

#include "pd_proxy/core/http/http_wire.hpp"

using namespace pd_proxy;

TEST(forwarded_headers, trace_context_lines) {
  const std::string tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  EXPECT_EQ(forwarded_header_lines({tp, "congo=t61rcWkgMzE", ""}),
            "traceparent: " + tp + "\r\ntracestate: congo=t61rcWkgMzE\r\n");
  EXPECT_EQ(forwarded_header_lines({}), "");
  EXPECT_EQ(forwarded_header_lines({"", "", "Bearer user-key"}), "Authorization: Bearer user-key\r\n");
}

TEST(forwarded_headers, control_characters_are_never_forwarded) {
  EXPECT_FALSE(forwardable_header_value("a\r\nX-Evil: 1"));
  EXPECT_FALSE(forwardable_header_value(std::string("a\0b", 3)));
  EXPECT_TRUE(forwardable_header_value("a\tb"));
  EXPECT_FALSE(forwardable_header_value(std::string(9000, 'a')));
  EXPECT_EQ(forwarded_header_lines({"x\ny", "ok", ""}), "tracestate: ok\r\n");
}

TEST(forwarded_headers, in_backend_request_head) {
  const std::string lines = forwarded_header_lines({"tp", "", ""});
  backend_request_head head{"POST", "/v1/completions", "h:1", "id", "", 2};
  head.extra_headers = lines;
  EXPECT_EQ(format_backend_request_head(head),
            "POST /v1/completions HTTP/1.1\r\nHost: h:1\r\nContent-Type: application/json\r\n"
            "Content-Length: 2\r\nAccept: */*\r\nX-Request-Id: id\r\ntraceparent: tp\r\n\r\n");
}
