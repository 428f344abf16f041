// Which request heads are refused before any body byte is read: framing the proxy will not guess about.
#pragma once

#include <optional>
#include <string_view>

#include "pd_proxy/core/http/error.hpp"

namespace pd_proxy {

/// What a request head says about its own framing.
struct request_framing {
  unsigned version = 11;  // 10 for HTTP/1.0, 11 for HTTP/1.1
  std::size_t host_headers = 0;
  std::size_t content_length_headers = 0;
  std::size_t transfer_encoding_headers = 0;
  std::string_view transfer_encoding;  // the value of the (first) Transfer-Encoding header
};

struct framing_refusal {
  errc code;
  std::string_view message;
};

/// Why the request must be refused and its connection closed (RFC 9112 §3.2, §6.1), or nullopt: more than one
/// Host, no Host in HTTP/1.1 (400); Transfer-Encoding in HTTP/1.0 or together with Content-Length (400); a
/// Transfer-Encoding other than exactly one `chunked` (case-insensitive, optional spaces around it) (501).
/// With these refused, a body's length is never ambiguous, so none of its bytes can be taken for a next
/// request.
std::optional<framing_refusal> refuse_framing(const request_framing& head);

}  // namespace pd_proxy
