#include "pd_proxy/core/backends/backend_address.hpp"

namespace pd_proxy {

std::string_view to_string(backend_role role) {
  return role == backend_role::prefill ? "prefill" : "decode";
}

bool is_ipv6_literal(std::string_view host) {
  return host.find(':') != std::string_view::npos;
}

std::string backend_address::authority() const {
  std::string out;
  out.reserve(host.size() + 8);
  if (is_ipv6_literal(host)) {
    out.append("[").append(host).append("]");
  } else {
    out.append(host);
  }
  out.append(":").append(std::to_string(port));
  return out;
}

}  // namespace pd_proxy
