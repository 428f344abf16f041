// A backend instance (prefiller or decoder) as the operator named it: host and port.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pd_proxy {

enum class backend_role { prefill, decode };

/// "prefill" or "decode".
std::string_view to_string(backend_role role);

struct backend_address {
  std::string host;        // host name, IPv4 literal or IPv6 literal (without brackets)
  std::uint16_t port = 0;  // 1..65535

  /// "host:port", with an IPv6 literal in brackets ("[::1]:9000"). Used for the Host header and logs.
  std::string authority() const;

  friend bool operator==(const backend_address&, const backend_address&) = default;
};

/// True when `host` is an IPv6 literal (contains ':').
bool is_ipv6_literal(std::string_view host);

}  // namespace pd_proxy
