// Pure HTTP/1.1 framing for what the proxy writes: response heads, chunked framing, backend request heads.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pd_proxy {

struct response_head {
  int status = 200;
  std::string_view content_type = "application/json";
  std::string_view request_id;                // X-Request-Id echoed to the client; omitted when empty
  bool keep_alive = true;                     // false adds "Connection: close"
  std::optional<std::size_t> content_length;  // nullopt: "Transfer-Encoding: chunked"
  std::string_view extra_headers;             // complete "Name: value\r\n" lines, e.g. Retry-After
};

/// Status line and headers, ending with the blank line.
std::string format_response_head(const response_head& head);

/// The standard reason phrase of a status (RFC 9110): "OK", "Found", "Bad Gateway", ...; empty for a code
/// without one (the status line then ends "HTTP/1.1 599 ", which RFC 9112 allows).
std::string_view reason_phrase(int status);

/// Writes the chunk-size line for an n-byte chunk ("1a\r\n") into `out` and returns its length.
std::size_t format_chunk_size(std::size_t n, char (&out)[24]);

inline constexpr std::string_view chunk_end = "\r\n";
inline constexpr std::string_view last_chunk = "0\r\n\r\n";

struct backend_request_head {
  std::string_view method = "POST";
  std::string_view target;                    // "/v1/completions"
  std::string_view authority;                 // Host header value, "host:port"
  std::string_view request_id;                // X-Request-Id; omitted when empty
  std::string_view api_key;                   // "Authorization: Bearer <key>"; omitted when empty
  std::optional<std::size_t> content_length;  // omitted for bodiless requests
  std::string_view extra_headers = {};        // complete "Name: value\r\n" lines (forwarded_header_lines)
};

/// The head of a request to a backend (keep-alive, JSON body).
std::string format_backend_request_head(const backend_request_head& head);

}  // namespace pd_proxy
