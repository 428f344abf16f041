#include "pd_proxy/core/http/http_wire.hpp"

#include <gtest/gtest.h>

namespace pd_proxy {
namespace {

TEST(http_wire, streaming_response_head) {
  EXPECT_EQ(format_response_head({200, "text/event-stream", "req-1", true, std::nullopt, {}}),
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
            "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\nX-Request-Id: req-1\r\n\r\n");
}

TEST(http_wire, error_response_head_with_length_and_close) {
  EXPECT_EQ(format_response_head({502, "application/json", "", false, 12, "Retry-After: 1\r\n"}),
            "HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\nContent-Length: 12\r\n"
            "Connection: close\r\nRetry-After: 1\r\n\r\n");
}

TEST(http_wire, chunk_sizes_are_hex) {
  char buf[24];
  EXPECT_EQ(std::string(buf, format_chunk_size(0, buf)), "0\r\n");
  EXPECT_EQ(std::string(buf, format_chunk_size(26, buf)), "1a\r\n");
  EXPECT_EQ(std::string(buf, format_chunk_size(65536, buf)), "10000\r\n");
  EXPECT_EQ(std::string(buf, format_chunk_size(SIZE_MAX, buf)), "ffffffffffffffff\r\n");
}

TEST(http_wire, backend_request_head) {
  EXPECT_EQ(format_backend_request_head({"POST", "/v1/completions", "[::1]:9000", "id-7", "sk-1", 42}),
            "POST /v1/completions HTTP/1.1\r\nHost: [::1]:9000\r\nContent-Type: application/json\r\n"
            "Content-Length: 42\r\nAccept: */*\r\nX-Request-Id: id-7\r\nAuthorization: Bearer sk-1\r\n\r\n");
  EXPECT_EQ(format_backend_request_head({"GET", "/v1/models", "h:1", "", "", std::nullopt}),
            "GET /v1/models HTTP/1.1\r\nHost: h:1\r\nAccept: */*\r\n\r\n");
}

}  // namespace
}  // namespace pd_proxy
