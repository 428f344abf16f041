#include "pd_proxy/core/flow/midstream_error.hpp"

namespace pd_proxy {

midstream_error_info midstream_error(bool stopping, backend_failure failure) {
  if (stopping) return {errc::shutting_down, "proxy shutting down"};
  if (failure == backend_failure::timeout)
    return {errc::backend_timeout, "decode backend stalled mid-stream"};
  return {errc::backend_failed, "decode backend failed mid-stream"};
}

}  // namespace pd_proxy
