// How one attempt on a backend failed, as the I/O layer reports it to the PD flow.
#pragma once

#include <string_view>

namespace pd_proxy {

/// `none` means the backend answered (any status).
enum class backend_failure {
  none,
  connect,    // resolve or TCP connect failed
  timeout,    // a configured limit passed
  transport,  // the connection broke or the response was malformed
  too_large,  // a buffered body exceeded its limit
  cancelled,  // the client went away; nothing more is to be done
};

/// "none", "connect", "timeout", "transport", "too_large" or "cancelled".
constexpr std::string_view to_string(backend_failure failure) {
  switch (failure) {
    case backend_failure::none:
      return "none";
    case backend_failure::connect:
      return "connect";
    case backend_failure::timeout:
      return "timeout";
    case backend_failure::transport:
      return "transport";
    case backend_failure::too_large:
      return "too_large";
    case backend_failure::cancelled:
      return "cancelled";
  }
  return "unknown";
}

}  // namespace pd_proxy
