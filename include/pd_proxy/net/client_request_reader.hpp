// Reading one client request under limits and timeouts, and watching a client for a disconnect.
#pragma once

#include <optional>

#include "pd_proxy/core/config.hpp"
#include "pd_proxy/net/net.hpp"
#include "pd_proxy/net/timed.hpp"

namespace pd_proxy {

struct request_limits {
  std::size_t max_header_bytes = 64 * 1024;
  std::size_t max_body_bytes = 32 * 1024 * 1024;
  seconds_d wait_timeout{75};     // for the request to start (keep-alive idle time)
  seconds_d read_timeout{60};     // for the rest of the request once it started
  seconds_d write_timeout{300};   // for an error answer or "100 Continue"
};

/// Reads one whole request from `socket` (leftover bytes stay in `buffer`). Answers "100 Continue" when the
/// client expects it. Returns nullopt when the connection must end: the client closed or timed out, or the
/// request was rejected, in which case the error response (400, 413, 431) was already written. Its reads and
/// writes are bounded on `timer`, the connection's, shared by its requests one after another.
net::awaitable<std::optional<http::request<http::string_body>>> read_client_request(tcp::socket& socket,
                                                                                    beast::flat_buffer& buffer,
                                                                                    const request_limits& limits,
                                                                                    operation_timer& timer);

/// Completes when the client closes or breaks its connection. Bytes it sends meanwhile (a pipelined next
/// request) are appended to `buffer`, up to 64 KiB, after which it stops reading and waits to be cancelled.
/// Meant to be raced (`||`) against the handling of a request so a disconnect cancels that handling.
net::awaitable<void> watch_client(tcp::socket& socket, beast::flat_buffer& buffer);

/// The path of a request target, without its query string.
std::string_view path_of(std::string_view target);

}  // namespace pd_proxy
