// What a health check's answer says, from the bytes received so far: the health checker reads a backend's
// answer into a small fixed buffer and judges it here, without an HTTP parser of its own per check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pd_proxy {

struct check_response {
  enum class state : std::uint8_t {
    incomplete,  // the status line or the head is not in yet: read more
    judged,      // the status line and the head are in (or the head does not fit): `status` is the verdict
    malformed,   // not an HTTP/1.x answer: the check fails and the connection is closed
  };
  state progress = state::incomplete;
  unsigned status = 0;  // judged: the response's status code
  // judged: the connection may carry the next check once `length` bytes (head and body) have been read.
  // False when the answer closes the connection, is chunked, has no length, or does not fit `capacity`.
  bool keep_alive = false;
  std::size_t length = 0;  // judged and keep_alive: bytes of the whole answer
};

/// Judges `received`, the bytes of one answer from its first byte, where `capacity` is the most the reader
/// can hold: a head that does not fit is judged on its status line alone (then keep_alive is false).
/// The answer must be HTTP/1.0 or HTTP/1.1; HTTP/1.1 keeps the connection unless `Connection: close`,
/// HTTP/1.0 only with `Connection: keep-alive`. A body must be framed by one Content-Length.
check_response parse_check_response(std::string_view received, std::size_t capacity);

}  // namespace pd_proxy
