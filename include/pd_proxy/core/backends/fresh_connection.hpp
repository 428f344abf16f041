// When a backend exchange on a reused keep-alive connection is sent again on a new one.
#pragma once

namespace pd_proxy {

/// Whether a request that failed on a reused keep-alive connection is sent once more, on a fresh connection
/// to the same backend, before the attempt counts as failed: when the backend had closed the connection
/// while it was idle (EOF, reset or broken pipe) before any byte of a response came back. Not when the
/// connection was new, the client is gone, or the backend started answering.
constexpr bool retry_on_fresh_connection(bool reused, bool client_gone, bool closed_by_backend,
                                         bool response_started) {
  return reused && !client_gone && closed_by_backend && !response_started;
}

}  // namespace pd_proxy
