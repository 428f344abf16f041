// The client's error when a relayed body fails after bytes reached the client.
#pragma once

#include <string_view>

#include "pd_proxy/core/backends/backend_failure.hpp"
#include "pd_proxy/core/http/error.hpp"

namespace pd_proxy {

/// The client's error after the relayed backend failed mid-stream: 503 "proxy shutting down" when the drain
/// deadline stopped it, 504 for a stall, else 502.
struct midstream_error_info {
  errc code;
  std::string_view message{};
};
midstream_error_info midstream_error(bool stopping, backend_failure failure);

}  // namespace pd_proxy
