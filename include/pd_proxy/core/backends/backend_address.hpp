// A backend instance (prefiller or decoder) as the operator named it: host and port. Hosts are checked and
// written one way (canonical), so two spellings of one address are one instance.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pd_proxy {

enum class backend_role { prefill, decode };

/// "prefill" or "decode".
std::string_view to_string(backend_role role);

struct backend_address {
  std::string host;        // canonical (parse_host): host name, IPv4 literal or IPv6 literal (no brackets)
  std::uint16_t port = 0;  // 1..65535
  // A prefiller's SGLang bootstrap port (--prefiller-bootstrap-ports; none: the engine's default), sent to
  // both legs by --pd-protocol sglang-bootstrap. An attribute of the instance, not part of its identity.
  std::optional<std::uint16_t> bootstrap_port{};

  /// "host:port", with an IPv6 literal in brackets ("[::1]:9000"). Used for the Host header and logs.
  std::string authority() const;

  /// Equal hosts and ports (the bootstrap port is not compared). Hosts from parse_host are canonical, so this
  /// is "the same instance": two spellings of one IP address compare equal; a name and an address never do
  /// (names are not resolved).
  friend bool operator==(const backend_address& a, const backend_address& b) {
    return a.host == b.host && a.port == b.port;
  }
};

/// True when `host` is an IPv6 literal (contains ':').
bool is_ipv6_literal(std::string_view host);

/// The longest host name parse_host accepts (RFC 1123; a trailing '.' is not counted).
inline constexpr std::size_t max_host_name_length = 253;

/// `text` when it is an IPv4 address written as canonical dotted-quad: four decimal parts 0-255 without
/// leading zeros ("127.0.0.1", "0.0.0.0"); nullopt otherwise ("127.1", "2130706433", "127.000.000.001",
/// "0x7f.0.0.1", "1.2.3" are refused: getaddrinfo would read them as other addresses than they seem).
std::optional<std::string> canonical_ipv4(std::string_view text);

/// The canonical text of an IPv6 literal without brackets, with an optional zone ("fe80::1%eth0"): RFC 5952
/// (lower-case hex, no leading zeros in a group, the longest run of two or more zero groups as "::", the
/// first on a tie), except that an IPv4-mapped address without a zone (::ffff:a.b.c.d) is its IPv4 address
/// "a.b.c.d". nullopt when `text` is not an IPv6 literal (inet_pton refuses it, or the zone is empty or has
/// characters other than letters, digits, '.', '_' and '-').
std::optional<std::string> canonical_ipv6(std::string_view text);

/// `text` lower-cased when it is a host name: dot-separated labels of 1-63 letters, digits and '-' that do
/// not start or end with '-' (RFC 1123), at most max_host_name_length characters, optionally one trailing
/// '.' (kept: "name." is looked up without the search domains), and a last label that is not numeric (all
/// digits, or "0x" and hex digits: such names are IPv4 addresses to getaddrinfo). nullopt otherwise.
std::optional<std::string> canonical_host_name(std::string_view text);

/// A host as given on the command line or in an admin request, checked and canonical.
struct host_value {
  std::string host;   // canonical: a host name, IPv4 literal or IPv6 literal without brackets ("::1")
  std::string error;  // why the text is refused, e.g. "has '[' without a closing ']'"; empty when accepted

  bool ok() const { return error.empty(); }
};

/// Checks one host and writes it canonically: a host name (canonical_host_name), an IPv4 address
/// (canonical_ipv4), or an IPv6 literal with or without brackets (canonical_ipv6: "::1", "[::1]" and
/// "[0:0::1]" are the same host; "[::ffff:127.0.0.1]" is 127.0.0.1). Refused: empty text, whitespace or
/// control characters, a leading '-' (CLI11 takes the next word as the required value even when it is a
/// flag, as in "--prefiller-hosts --port 1"), unbalanced or empty brackets, brackets around anything but an
/// IPv6 literal, text after ']', a ':' outside a valid IPv6 literal (e.g. "localhost:8001": ports have
/// their own flags), IPv4 written any way but dotted-quad, and names that are not RFC 1123 host names or
/// longer than max_host_name_length. Error messages quote nothing of `text`: callers name it.
host_value parse_host(std::string_view text);

}  // namespace pd_proxy
