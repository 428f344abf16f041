// Writes one response to the client: whole (errors, small JSON) or streamed with chunked framing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pd_proxy/core/config/config.hpp"
#include "pd_proxy/core/http/error.hpp"
#include "pd_proxy/net/http/client_stream.hpp"
#include "pd_proxy/net/net.hpp"
#include "pd_proxy/net/operation_timer.hpp"

namespace pd_proxy {

/// Not thread-safe; one per request, used only by the coroutine handling it. Every write is bounded by
/// `write_timeout`, on `write_timer` (the connection's, shared by its responses one after another), so a
/// client that stops reading cannot pin the request.
class client_response {
 public:
  client_response(client_stream socket, operation_timer& write_timer, std::string_view request_id,
                  bool keep_alive, bool http10, seconds_d write_timeout)
      : socket_(socket),
        write_timer_(write_timer),
        request_id_(request_id),
        keep_alive_(keep_alive && !http10),
        http10_(http10),
        write_timeout_(write_timeout) {}

  /// A complete response with Content-Length.
  net::awaitable<error_code> send_whole(int status, std::string_view content_type, std::string_view body,
                                        std::string_view extra_headers = {});

  /// An OpenAI-shaped JSON error; `extra_headers` are complete "Name: value\r\n" lines (Retry-After).
  net::awaitable<error_code> send_error(errc code, std::string_view message,
                                        std::string_view extra_headers = {});

  /// Prepares a streamed response; its head goes out with the first chunk.
  void start_stream(int status, std::string_view content_type);

  /// Writes `first` and `second` as one chunk (either may be empty; nothing is written when both are).
  /// `last` also ends the response (the terminating chunk goes in the same write), as end_stream(true).
  net::awaitable<error_code> write_chunk(std::string_view first, std::string_view second = {},
                                         bool last = false);

  /// Writes the terminating chunk. `complete` false ends the connection without it, so the client sees a
  /// truncated body instead of a well-formed short one.
  net::awaitable<error_code> end_stream(bool complete);

  /// A HEAD request's response: heads as for GET (with the body's Content-Length), no body.
  void omit_body() { omit_body_ = true; }

  bool head_sent() const { return head_sent_; }
  bool keep_alive() const { return keep_alive_; }
  /// After a failure mid-response the connection is closed once the response ends.
  void close_after_response() { keep_alive_ = false; }
  /// The status of the response sent or being streamed; 0 before any.
  int status() const { return status_; }
  /// Bytes written to the client for this response so far (head and chunk framing included).
  std::uint64_t bytes_sent() const { return bytes_sent_; }

 private:
  client_stream socket_;  // a view of the connection's stream: plain or TLS
  operation_timer& write_timer_;
  std::string request_id_;
  bool keep_alive_;
  bool http10_;
  seconds_d write_timeout_;
  std::string head_;  // pending streamed head, written with the first chunk
  bool head_sent_ = false;
  bool omit_body_ = false;
  int status_ = 0;
  std::uint64_t bytes_sent_ = 0;
};

}  // namespace pd_proxy
