// The client request headers that reach both backend legs unchanged (trace context, and the client's
// Authorization with --forward-client-authorization). Nothing else of the client's head is forwarded.
#pragma once

#include <string>
#include <string_view>

namespace pd_proxy {

/// Header values from the client's request; empty when the client sent none.
struct client_forwarded_values {
  std::string_view traceparent;    // W3C Trace Context
  std::string_view tracestate;     // W3C Trace Context
  std::string_view authorization;  // only when --forward-client-authorization; else leave empty
};

/// Whether a header value may be copied into a backend request head as is: no control character other
/// than a tab (so no line break can add a header), at most 8 KiB.
bool forwardable_header_value(std::string_view value);

/// Complete "Name: value\r\n" lines for the backend request heads of both legs, in the order traceparent,
/// tracestate, Authorization; values that are empty or not forwardable are left out.
std::string forwarded_header_lines(const client_forwarded_values& values);

}  // namespace pd_proxy
