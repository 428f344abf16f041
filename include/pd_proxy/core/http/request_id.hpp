// X-Request-Id handling: both backend legs carry the same id, echoed to the client.
#pragma once

#include <string>
#include <string_view>

namespace pd_proxy {

/// A client-supplied id is reused when it is 1..128 characters of [A-Za-z0-9._:-]; anything else (empty,
/// too long, spaces, control characters, quotes) could corrupt logs or backend ids and is replaced.
bool is_sane_request_id(std::string_view id);

/// A fresh random (version 4) UUID, 36 characters. Thread-safe.
std::string new_request_id();

/// `client_id` if sane, else a fresh UUID.
std::string choose_request_id(std::string_view client_id);

}  // namespace pd_proxy
