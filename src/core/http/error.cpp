#include "pd_proxy/core/http/error.hpp"

#include <nlohmann/json.hpp>

namespace pd_proxy {

int http_status(errc code) {
  switch (code) {
    case errc::bad_request:
      return 400;
    case errc::not_found:
      return 404;
    case errc::method_not_allowed:
      return 405;
    case errc::payload_too_large:
      return 413;
    case errc::not_implemented:
      return 501;
    case errc::overloaded:
      return 503;
    case errc::too_many_requests:
      return 429;
    case errc::shutting_down:
      return 503;
    case errc::backend_failed:
      return 502;
    case errc::no_backend:
      return 503;
    case errc::backend_timeout:
      return 504;
    case errc::internal:
      return 500;
    case errc::unauthorized:
      return 401;
    case errc::forbidden:
      return 403;
  }
  return 500;
}

std::string_view error_type(errc code) {
  switch (code) {
    case errc::bad_request:
    case errc::payload_too_large:
    case errc::not_implemented:
      return "invalid_request_error";
    case errc::not_found:
    case errc::method_not_allowed:
      return "not_found_error";
    case errc::overloaded:
    case errc::too_many_requests:
    case errc::shutting_down:
      return "overloaded_error";
    case errc::backend_failed:
    case errc::no_backend:
    case errc::backend_timeout:
    case errc::internal:
      return "server_error";
    case errc::unauthorized:
      return "authentication_error";
    case errc::forbidden:
      return "permission_error";
  }
  return "server_error";
}

std::string openai_error_body(errc code, std::string_view message) {
  const nlohmann::json body = {
      {"error",
       {{"message", message}, {"type", error_type(code)}, {"param", nullptr}, {"code", http_status(code)}}}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string sse_error_event(errc code, std::string_view message) {
  return "data: " + openai_error_body(code, message) + "\n\n";
}

}  // namespace pd_proxy
